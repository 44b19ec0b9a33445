import { cloneModel } from '../../ir/clone';
import type { Model } from '../../ir/model';
import { eliminateDeadCode } from '../common/dce';
import { opsetRaiseBlocker } from '../opset';
import { Pass, PassContext, PassResult, PreconditionError } from '../pass';
import { applyRules } from '../pattern/driver';
import { loweringPass } from '../registry';
import { sdpaRules } from './sdpa/rules';

/**
 * Rewrites every attention the exporters produce into the canonical ONNX `Attention` (opset 23): decomposed
 * MatMul/Softmax forms and existing Attention nodes alike. Masks become `is_causal` only when evaluated to be
 * exactly causal for contiguous position_ids (no packed sequences); other masks are kept. The mask machinery
 * left dead is removed.
 */
@loweringPass({ name: 'sdpa_canonicalize', description: 'every exporter attention pattern → canonical ONNX Attention (GQA kept, scale folded, proved-causal masks → is_causal)' })
export class SdpaCanonicalize implements Pass {
  readonly inPlace = true;
  /** The rewrite rules, for `--explain`. */
  readonly rules = sdpaRules;

  run(model: Model, ctx: PassContext): PassResult {
    // Rules see the source opset (mask probes evaluate the exporter's ops, Softmax defaults depend on it); the
    // import is raised to 23 for the Attention nodes only once something was rewritten.
    const before = model.opset('') ?? 0;
    // Canonical Attention is opset 23. Where the opset cannot be raised without a version converter, an attention
    // the rules would rewrite is an error (checked on a copy); a model with nothing to rewrite passes unchanged.
    const blocker = opsetRaiseBlocker(model, 23);
    if (blocker) {
      if (applyRules(cloneModel(model), this.rules).changes > 0) throw new PreconditionError(`sdpa_canonicalize: ${blocker}; re-export with opset 18 or later`);
      return { model, modified: false, changes: 0 };
    }
    const result = applyRules(model, this.rules, { log: ctx.log });
    if (result.changes > 0 && before < 23) model.opsetImports.set('', 23);
    const removed = result.changes ? eliminateDeadCode(model) : 0;
    if (result.changes) model.metadata.set('onnx_lower.assumption', 'contiguous position_ids (no packed sequences)');
    const leftover = model.graph.nodes.toArray().filter((n) => n.op === 'Softmax').length;
    if (leftover) ctx.log(`sdpa_canonicalize: ${leftover} Softmax node(s) left outside Attention; see --explain sdpa_decomposed`);
    return { model, modified: result.changes > 0, changes: result.changes + removed, counts: result.counts };
  }
}
