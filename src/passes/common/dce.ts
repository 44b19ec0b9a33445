import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Pass, PassResult } from '../pass';
import { loweringPass } from '../registry';

/**
 * Dead code elimination: removes every node whose outputs are all unused and none is a graph output, in
 * the main graph, its subgraphs and function bodies. Worklist-driven (no recursion), so long dead chains
 * and deep nesting are fine. ONNX operators have no side effects, so no op is exempt.
 */
@loweringPass({
  name: 'dce',
  description: 'Dead code elimination: removes nodes whose outputs are unused and are not graph outputs (subgraphs included)',
})
export class DeadCodeElimination implements Pass {
  readonly inPlace = true;

  run(model: Model): PassResult {
    const removed = eliminateDeadCode(model);
    return { model, modified: removed > 0, changes: removed, counts: { removed_nodes: removed } };
  }
}

/** Removes dead nodes in place; returns how many nodes left the model (nodes of removed subgraphs included). */
export function eliminateDeadCode(model: Model): number {
  const graphs = [...model.graph.allGraphs()];
  for (const f of model.functions) graphs.push(...f.body.allGraphs());
  // Pushed in graph order, popped from the end: consumers are looked at before their producers.
  const worklist: Node[] = [];
  for (const g of graphs) for (const n of g.nodes) worklist.push(n);
  let removed = 0;
  while (worklist.length) {
    const node = worklist.pop() as Node;
    const graph = node.graph;
    if (!graph || !isDead(node)) continue;
    const producers = inputProducers(node);
    removed += releaseSubgraphs(node, producers);
    graph.remove(node);
    removed++;
    // A producer may have just lost its last use.
    for (const p of producers) if (p.graph) worklist.push(p);
  }
  return removed;
}

function isDead(node: Node): boolean {
  return node.outputs.every((o) => !o.hasUses() && !o.isGraphOutput);
}

function inputProducers(node: Node): Set<Node> {
  const out = new Set<Node>();
  for (const v of node.inputs) if (v?.producer) out.add(v.producer);
  return out;
}

/**
 * Empties the subgraphs of a node about to be removed, innermost first. `Graph.remove` only drops the removed
 * node's own input uses; nodes inside its bodies would otherwise keep outer values looking used.
 * Collects the producers those bodies used into `producers`; returns the number of nodes removed.
 */
function releaseSubgraphs(node: Node, producers: Set<Node>): number {
  const nested: Graph[] = [];
  for (const sg of node.subgraphs()) nested.push(...sg.allGraphs());
  let removed = 0;
  for (let i = nested.length - 1; i >= 0; i--) {
    const sg = nested[i];
    const inner = sg.nodes.toArray();
    for (const n of inner) for (const p of inputProducers(n)) producers.add(p);
    // A body output may be an outer value directly; dropping the slot can make its producer dead.
    for (const o of sg.outputs) if (o.producer) producers.add(o.producer);
    sg.setOutputs([]);
    sg.remove(inner);
    removed += inner.length;
  }
  return removed;
}
