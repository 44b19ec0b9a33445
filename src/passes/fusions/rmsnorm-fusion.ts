import type { Model } from '../../ir/model';
import { eliminateDeadCode } from '../common/dce';
import type { Pass, PassContext, PassResult } from '../pass';
import { applyRules } from '../pattern/driver';
import type { Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { rmsnormRules } from './rmsnorm/rules';
import { withOpsetAtLeast } from '../opset';
import { notApplied } from './util';

/**
 * Decomposed RMSNorm (`Pow(x,2) → ReduceMean → Add(ε) → Sqrt → Reciprocal|Div → Mul(x) → Mul(weight)`, optional
 * fp32 Casts around it, either multiplication order; also per-head q/k norms) → ONNX `RMSNormalization`
 * (opset 23, epsilon and axis from the pattern, stash_type float32).
 */
@loweringPass({
  name: 'rmsnorm_fusion',
  description: 'decomposed RMSNorm (Pow/ReduceMean/Add ε/Sqrt/Reciprocal|Div/Mul, optional casts) → RMSNormalization-23',
  after: ['sdpa_canonicalize'],
})
export class RmsnormFusion implements Pass {
  readonly inPlace = true;
  /** The rules, for `lower --explain`. */
  readonly rules: readonly Rule<object>[] = rmsnormRules;

  run(model: Model, ctx: PassContext): PassResult {
    const result = withOpsetAtLeast(model, 23, () => applyRules(model, this.rules, { log: ctx.log }), (why) => {
      ctx.log(`skipped: ${why}`);
      return notApplied(this.rules);
    });
    const removed = result.changes ? eliminateDeadCode(model) : 0;
    return { model, modified: result.changes > 0, changes: result.changes + removed, counts: result.counts };
  }
}
