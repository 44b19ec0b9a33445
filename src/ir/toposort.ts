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
  const position = new Map<Node, number>();
  nodes.forEach((n, i) => position.set(n, i));
  const indegree = new Int32Array(nodes.length);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const d of nodeDependencies(graph, n)) {
      const j = position.get(d);
      if (j === undefined) continue;
      indegree[i]++;
      dependents[j].push(i);
    }
  });
  const heap = new MinHeap();
  for (let i = 0; i < nodes.length; i++) if (indegree[i] === 0) heap.push(i);
  const order: Node[] = [];
  while (heap.size) {
    const i = heap.pop();
    order.push(nodes[i]);
    for (const j of dependents[i]) if (--indegree[j] === 0) heap.push(j);
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
