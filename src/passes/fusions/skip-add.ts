import { RuleSetPass } from '../rule-set-pass';
import type { Value } from '../../ir/value';
import { sameShape } from '../../ir/type';
import { constantOf } from '../pattern/constant';
import { patternOps, v } from '../pattern/builder';
import { defineRule, failure, Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { FUSION_GROUP_KEY, FUSION_KEY } from './util';

const op = patternOps();

/** Norm-node metadata: the residual Add a runtime may fuse into the norm (skip-RMSNorm / skip-LayerNorm). */
export const SKIP_ADD_KEY = 'onnx_lower.skip_add';

function skipRule(name: string, norm: 'RMSNormalization' | 'LayerNormalization'): Rule<object> {
  const add = op.node('Add', [v('residual'), v('branch')], {}, { as: 'add' });
  return defineRule({
    name,
    description: `Add(residual, branch) → ${norm}: recorded as a skip_add pair (standard ops kept)`,
    pattern: op.node(norm, [add], {}, { as: 'norm', allowOtherInputs: true }),
    // The sum is the next residual too: it is used outside the pair by design.
    allowSharedIntermediates: true,
    check(bindings) {
      if (bindings.norm.metadata.has(SKIP_ADD_KEY)) return failure('already recorded', bindings.norm);
      for (const operand of [bindings.residual, bindings.branch] as Value[]) {
        if (constantOf(operand)) return failure(`'${operand.name}' is a constant: a bias, not a residual stream`, operand);
      }
      const out = bindings.add.outputs[0];
      for (const operand of [bindings.residual, bindings.branch] as Value[]) {
        if (operand.shape && out.shape && !sameShape(operand.shape, out.shape)) return failure(`'${operand.name}' is broadcast by the Add (not a residual of the same shape)`, operand);
      }
      return true;
    },
    rewrite(_b, bindings, ctx) {
      bindings.norm.metadata.set(SKIP_ADD_KEY, bindings.add.name);
      bindings.norm.metadata.set(FUSION_KEY, 'skip_add');
      bindings.add.metadata.set(FUSION_KEY, 'skip_add');
      bindings.add.metadata.set(FUSION_GROUP_KEY, bindings.norm.name);
      return ctx.outputs[0];
    },
  });
}

export const skipAddRules: readonly Rule<object>[] = [skipRule('skip_rmsnorm', 'RMSNormalization'), skipRule('skip_layernorm', 'LayerNormalization')];

/**
 * Residual Add feeding a normalisation: recorded (node metadata `onnx_lower.skip_add` on the norm, naming the
 * Add) so a runtime can fuse add + norm into one kernel that also writes the sum. The graph keeps standard ops.
 */
@loweringPass({
  name: 'skip_add',
  description: 'residual Add → RMSNormalization/LayerNormalization pairs recorded in node metadata for add+norm kernels',
  after: ['sdpa_canonicalize', 'rmsnorm_fusion'],
})
export class SkipAdd extends RuleSetPass {
  readonly rules: readonly Rule<object>[] = skipAddRules;
}
