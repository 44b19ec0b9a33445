import type { Model } from '../../ir/model';
import type { Pass, PassResult } from '../pass';
import { loweringPass } from '../registry';

/**
 * Drops initializers nothing uses (no node in any graph, no graph output), in the main graph and its
 * subgraphs. Initializers that are also graph inputs are part of the interface and stay.
 */
@loweringPass({
  name: 'unused_initializers',
  description: 'Removes initializers that no node or graph output uses (graph inputs are kept)',
  after: ['dce', 'cse'],
})
export class UnusedInitializers implements Pass {
  readonly inPlace = true;

  run(model: Model): PassResult {
    let removed = 0;
    for (const g of model.graph.allGraphs()) {
      for (const v of [...g.initializers.values()]) {
        if (v.hasUses() || v.isGraphOutput || g.inputs.includes(v)) continue;
        g.removeInitializer(v);
        removed++;
      }
    }
    return { model, modified: removed > 0, changes: removed, counts: { removed_initializers: removed } };
  }
}
