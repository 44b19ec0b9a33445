import { IrError } from './errors';
import type { Graph } from './graph';
import type { Node } from './node';

/**
 * Dependencies of `node` inside `graph`: producers of its inputs and of outer values its subgraphs use.
 * Iterative over nested subgraphs.
 */
export function nodeDependencies(graph: Graph, node: Node): Node[] {
  const deps: Node[] = [];
  const seen = new Set<Node>();
  const visitNode = (n: Node) => {
    for (const v of n.inputs) {
      const p = v?.producer;
      if (p && p.graph === graph && !seen.has(p)) {
        seen.add(p);
        deps.push(p);
      }
    }
  };
  visitNode(node);
  const stack = [...node.subgraphs()];
  while (stack.length) {
    const g = stack.pop() as Graph;
    for (const inner of g.nodes) {
      visitNode(inner);
      stack.push(...inner.subgraphs());
    }
  }
  return deps;
}

/**
 * Stable topological order (Kahn with the original position as priority, so an already sorted graph keeps
 * its order). No recursion: million-node chains are fine. Throws on a cycle, naming nodes on it.
 */
export function topologicalOrder(graph: Graph): Node[] {
  const nodes = graph.nodes.toArray();
  const count = nodes.length;
  // Positions live in each node's scratch slot (no million-entry hash map); only nodes of `graph` are read.
  for (let i = 0; i < count; i++) nodes[i]._mark = i;
  // Edges j → i in compressed form (CSR): no per-node arrays, so million-node graphs stay cheap. An
  // input used twice gives a duplicate edge, counted on both sides, which Kahn's algorithm tolerates.
  const edgeFrom: number[] = [];
  const edgeTo: number[] = [];
  const indegree = new Int32Array(count);
  const addEdge = (d: Node, i: number) => {
    const j = d._mark;
    indegree[i]++;
    edgeFrom.push(j);
    edgeTo.push(i);
  };
  for (let i = 0; i < count; i++) {
    const n = nodes[i];
    if (!n._hasSubgraphs()) {
      for (const v of n.inputs) {
        const p = v?.producer;
        if (p && p.graph === graph) addEdge(p, i);
      }
    } else {
      for (const d of nodeDependencies(graph, n)) addEdge(d, i);
    }
  }
  const start = new Int32Array(count + 1);
  for (const j of edgeFrom) start[j + 1]++;
  for (let j = 0; j < count; j++) start[j + 1] += start[j];
  const fill = start.slice(0, count);
  const targets = new Int32Array(edgeFrom.length);
  for (let e = 0; e < edgeFrom.length; e++) targets[fill[edgeFrom[e]]++] = edgeTo[e];

  const heap = new MinHeap();
  for (let i = 0; i < count; i++) if (indegree[i] === 0) heap.push(i);
  const order: Node[] = [];
  while (heap.size) {
    const i = heap.pop();
    order.push(nodes[i]);
    for (let e = start[i]; e < start[i + 1]; e++) {
      const j = targets[e];
      if (--indegree[j] === 0) heap.push(j);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => indegree[i] > 0).slice(0, 5).map((n) => n.describe());
    throw new IrError('IR_CYCLE', `graph '${graph.name}' has a cycle through ${stuck.join(', ')}`, stuck[0]);
  }
  return order;
}

/** Reorders the graph's nodes (and every subgraph's) topologically, in place. */
export function topologicalSort(graph: Graph): void {
  for (const g of graph.allGraphs()) g.nodes.reorder(topologicalOrder(g));
}

class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= x) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop() as number;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r] < a[l] ? r : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
