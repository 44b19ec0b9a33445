import { RuleSetPass } from '../rule-set-pass';
import type { Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { rmsnormRules } from './rmsnorm/rules';

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
export class RmsnormFusion extends RuleSetPass {
  /** The rules, for `lower --explain`. */
  readonly rules: readonly Rule<object>[] = rmsnormRules;
  protected override readonly minOpset = 23;
  protected override readonly removeDead = true;
}
