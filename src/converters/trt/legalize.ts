import { Attribute } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import { Builder } from '../../ir/builder';
import type { Model } from '../../ir/model';
import { eliminateDeadCode } from '../../passes/common/dce';
import { Pass, PassContext, PassResult, PostconditionError } from '../../passes/pass';
import { loweringPass } from '../../passes/registry';
import { elementType } from './analysis';
import { legalizeAttention, MaskForms } from './attention-legalize';
import { ruleTags, typed } from './build';
import { checkTrt, formatViolation } from './checker';
import { axesToInitializers } from './constant-inputs';
import { SharedMasks } from './masks';
import { lowerOpsetImport } from './opset';
import { profileHints, ProfileOptions, writeProfileHints } from './profiles';
import { decomposeRmsNorm } from './rms-norm';
import { decomposeRotaryEmbedding } from './rotary-embedding';
import { convertAttention, sdpaUnsupported } from './sdpa-converter';
import { OPSET_RANGES } from './support-matrix';
import { atLeast, parseTrtTarget, TrtTarget } from './target';
import { legacyTensorScatter } from './tensor-scatter';

/** Metadata key recording the target a model was legalised for. */
export const TARGET_METADATA_KEY = 'onnx_lower.trt.target';

export interface TrtLegalizeOptions {
  /** fp32 matmuls/softmax in the SDPA decomposition of fp16/bf16 attention (Torch-TensorRT's use_fp32_acc). */
  fp32Acc?: boolean;
  /** Profile hints to write (default: derived from the graph; maxSeqLen from the lowering options). */
  profile?: ProfileOptions | false;
}

/**
 * Rewrites what the target's ONNX parser rejects, in place; returns per-rewrite counts:
 * - axes computed from constants → initializers (Reduce*, Squeeze, Unsqueeze, CumSum);
 * - TensorScatter → Slice/Concat (or Where/GatherElements) below 10.15, and from 10.15 where it is not 4-D
 *   along axis −2 (axis 2 of a 4-D cache is respelled −2);
 * - RMSNormalization and RotaryEmbedding → primitives below 10.15; non-int64 position_ids → Cast from 10.15;
 * - Attention → SDPA decomposition below 10.14; from 10.14 the fixes of `legalizeAttention`;
 * - the ai.onnx opset import lowered to the target's maximum once nothing needs more;
 * then dead nodes are removed and the target and profile hints are written into metadata_props.
 */
export function legalizeForTrt(model: Model, targetSpec: string | TrtTarget | undefined, options: TrtLegalizeOptions & { maxSeqLen?: number } = {}): Record<string, number> {
  const target = parseTrtTarget(targetSpec);
  const counts: Record<string, number> = {};
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const sdpa = { fp32Acc: options.fp32Acc };

  for (const g of model.graph.allGraphs()) {
    const masks = new SharedMasks(g);
    const forms = new MaskForms();
    for (const n of g.nodes.toArray()) {
      if (n.domain !== '' || !n.graph) continue;
      if (axesToInitializers(model, n)) bump('axes_to_initializer');
      switch (n.op) {
        case 'TensorScatter': {
          const rank = n.inputs[0]?.shape?.length;
          const axis = n.attrInt('axis', -2);
          const importable = rank === 4 && (axis === -2 || axis === 2);
          if (!atLeast(target, '10.15') || (rank !== undefined && !importable)) {
            // Older parsers have no importer; 10.15's takes only 4-D caches updated along axis -2.
            legacyTensorScatter(model, n);
            bump('tensor_scatter_legacy');
          } else if (axis === 2) {
            n.setAttr(Attribute.int('axis', -2));
            bump('tensor_scatter_axis');
          }
          break;
        }
        case 'RMSNormalization':
          if (!atLeast(target, '10.15')) {
            decomposeRmsNorm(n);
            bump('rms_norm_decomposed');
          }
          break;
        case 'RotaryEmbedding':
          if (!atLeast(target, '10.15')) {
            decomposeRotaryEmbedding(n);
            bump('rotary_decomposed');
          } else if (n.inputs[3] && elementType(n.inputs[3]) !== DataType.INT64) {
            const p = n.inputs[3];
            n.replaceInput(3, typed(new Builder(g, n, ruleTags('rotary_position_ids')).op('Cast', [p], { to: DataType.INT64 }), DataType.INT64, p.shape));
            bump('rotary_position_ids_cast');
          }
          break;
        case 'Attention':
          if (!atLeast(target, '10.14')) {
            if (!sdpaUnsupported(n)) {
              convertAttention(n, masks, sdpa);
              bump('attention_decomposed');
            }
          } else {
            for (const a of legalizeAttention(n, masks, forms, sdpa)) bump(`attention_${a}`);
          }
          break;
      }
    }
  }
  eliminateDeadCode(model);
  const opsetBefore = model.opset('');
  lowerOpsetImport(model, OPSET_RANGES[target.version].max); // what blocks it is reported by the checker
  if (model.opset('') !== opsetBefore) bump('opset_lowered');
  model.metadata.set(TARGET_METADATA_KEY, target.name);
  if (options.profile !== false) writeProfileHints(model, profileHints(model, { maxSeqLen: options.maxSeqLen, ...(options.profile ?? {}) }));
  return counts;
}

/**
 * The `trt_legalize` pass of the `llm` pipeline (appended when `target` is set). Reads `ctx.options.target`
 * ('trt@10.15' by default), `maxSeqLen`, and the optional `trtFp32Acc` (boolean) and `trtAllowViolations`
 * (boolean: keep going when something the target rejects remains; by default that fails the pass).
 */
@loweringPass({
  name: 'trt_legalize',
  description: 'TensorRT legalisation for --target trt@10.8|10.14|10.15: SDPA decomposition, explicit causal masks, TensorScatter/RMSNorm/RoPE fallbacks, constant axes, opset, profile hints',
  after: ['sdpa_canonicalize', 'static_cache_v1', 'static_cache_v2', 'static_cache_v3', 'precision'],
  before: ['dce'],
})
export class TrtLegalize implements Pass {
  readonly inPlace = true;

  requires(_model: Model, ctx: PassContext): void {
    parseTrtTarget(targetOption(ctx));
  }

  run(model: Model, ctx: PassContext): PassResult {
    const counts = legalizeForTrt(model, targetOption(ctx), {
      fp32Acc: ctx.options.trtFp32Acc === true,
      maxSeqLen: ctx.options.maxSeqLen,
    });
    const changes = Object.values(counts).reduce((a, b) => a + b, 0);
    ctx.log(`trt_legalize(${parseTrtTarget(targetOption(ctx)).name}): ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(', ') || 'nothing to rewrite'}`);
    // Metadata (target, profiles) is always written: the model changed.
    return { model, modified: true, changes, counts };
  }

  ensures(model: Model, ctx: PassContext): void {
    if (ctx.options.trtAllowViolations === true) return;
    const target = parseTrtTarget(targetOption(ctx));
    const violations = checkTrt(model, target);
    if (violations.length) {
      const shown = violations.slice(0, 5).map(formatViolation).join('; ');
      throw new PostconditionError(`${violations.length} node(s) remain that TensorRT ${target.version} rejects: ${shown}${violations.length > 5 ? '; …' : ''} (run 'onnx-lower check' for the full list)`, violations[0].node);
    }
  }
}

function targetOption(ctx: PassContext): string | undefined {
  const t = ctx.options.target;
  return typeof t === 'string' ? t : undefined;
}
