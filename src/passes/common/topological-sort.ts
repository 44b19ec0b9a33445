import type { Model } from '../../ir/model';
import { topologicalOrder } from '../../ir/toposort';
import type { Pass, PassResult } from '../pass';
import { loweringPass } from '../registry';

/**
 * Sorts every graph (subgraphs and function bodies included) topologically, in place. The sort is stable,
 * so a graph already in order is left exactly as it was and the pass reports no change.
 */
@loweringPass({
  name: 'topological_sort',
  description: 'Reorders nodes topologically (stable; subgraphs and function bodies included)',
})
export class TopologicalSort implements Pass {
  readonly inPlace = true;

  run(model: Model): PassResult {
    const graphs = [...model.graph.allGraphs()];
    for (const f of model.functions) graphs.push(...f.body.allGraphs());
    let reordered = 0;
    for (const g of graphs) {
      const current = g.nodes.toArray();
      const order = topologicalOrder(g);
      if (order.every((n, i) => n === current[i])) continue;
      g.nodes.reorder(order);
      reordered++;
    }
    return { model, modified: reordered > 0, changes: reordered, counts: { reordered_graphs: reordered } };
  }
}
