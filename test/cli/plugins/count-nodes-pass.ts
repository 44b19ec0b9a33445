// A user's pass module, loaded by the CLI with --plugin: the decorator registers it on import.
import type { Model } from '../../../src/ir/model';
import type { Pass, PassContext, PassResult } from '../../../src/passes/pass';
import { loweringPass } from '../../../src/passes/registry';

@loweringPass({ name: 'test_plugin_tag', description: 'tags the model with its node count (test plugin)' })
export class TagNodeCount implements Pass {
  readonly inPlace = true;
  run(model: Model, _ctx: PassContext): PassResult {
    model.metadata.set('test_plugin.node_count', String(model.graph.nodes.size));
    return { model, modified: true, changes: 1 };
  }
}
