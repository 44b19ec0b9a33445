import { Builder } from '../../ir/builder';
import { DataType, isFloatType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Dim, Shape } from '../../ir/type';
import type { Value } from '../../ir/value';
import { dimOf, elementType } from './analysis';
import { floatScalar, int64s, isLowPrecision, replaceNode, ruleTags, TrtLegalizeError, typed } from './build';
import type { SharedMasks } from './masks';
import { isLive } from './restrictions';

export interface SdpaConverterOptions {
  /**
   * Run the two matmuls and the softmax in fp32 when the attention is fp16/bf16 (Cast in, Cast out), like
   * Torch-TensorRT's `use_fp32_acc`. Softmax alone is upcast whenever the node asks for it
   * (`softmax_precision` = FLOAT), whatever this says.
   */
  fp32Acc?: boolean;
}

/** Why a canonical Attention node cannot be decomposed by `convertAttention`, or undefined when it can. */
export function sdpaUnsupported(n: Node): string | undefined {
  if (n.inputs[4] || n.inputs[5]) return 'it has past_key/past_value inputs (canonical Attention has none; a static cache replaces them)';
  if (n.inputs[6]) return 'it has a nonpad_kv_seqlen input';
  if (n.outputs.slice(1).some(isLive)) return 'it produces present_key/present_value/qk_matmul_output';
  const q = n.inputs[0];
  const rank = q?.shape?.length;
  if (rank === 3 && (!n.attr('q_num_heads') || !n.attr('kv_num_heads'))) return '3-D inputs need q_num_heads and kv_num_heads';
  if (rank !== undefined && rank !== 3 && rank !== 4) return `Q is ${rank}-D`;
  return undefined;
}

/**
 * Replaces a canonical ONNX `Attention` node by its primitive decomposition, for TensorRT versions without an
 * Attention importer:
 *
 *   Q·√s, K·√s (s = scale, default 1/√D) → K heads repeated for GQA (Unsqueeze → Expand → Reshape, the
 *   interleaved repeat the ONNX spec uses) → Transpose(K) → MatMul → softcap → + mask bias (explicit mask:
 *   boolean → Where(mask, 0, -inf), shared per graph; is_causal → Range/LessOrEqual mask, shared) → Softmax
 *   → MatMul with V (repeated likewise).
 *
 * Semantics follow the ONNX reference for the no-past case (causal = top-left, softcap before the mask).
 * One difference: a row whose every key is masked gives NaN here (-inf everywhere into Softmax); static
 * caches and causal masks never fully mask a row. Returns the new output (the node is removed).
 */
export function convertAttention(n: Node, masks: SharedMasks, options: SdpaConverterOptions = {}): Value {
  const why = sdpaUnsupported(n);
  if (why) throw new TrtLegalizeError('TRT_SDPA', `cannot decompose Attention ${n.describe()}: ${why}`, n.name);
  const g = n.graph;
  if (!g) throw new TrtLegalizeError('TRT_SDPA', `Attention ${n.describe()} is not in a graph`, n.name);
  const b = new Builder(g, n, ruleTags('sdpa_converter'));
  const out = n.outputs[0];
  let q = n.inputs[0] as Value;
  let k = n.inputs[1] as Value;
  let v = n.inputs[2] as Value;
  const mask = n.inputs[3] ?? null;
  const dtype = elementType(q) ?? DataType.FLOAT;
  if (!isFloatType(dtype)) throw new TrtLegalizeError('TRT_SDPA', `Attention ${n.describe()} has non-float Q`, n.name);

  // 3-D form: [B, S, H·D] → [B, H, S, D].
  const threeD = q.shape?.length === 3;
  if (threeD) {
    q = toHeads(b, q, n.attrInt('q_num_heads'));
    k = toHeads(b, k, n.attrInt('kv_num_heads'));
    v = toHeads(b, v, n.attrInt('kv_num_heads'));
  }
  const qHeads = dimOf(q, 1);
  const kvHeads = dimOf(k, 1);
  const headDim = dimOf(q, 3);

  // Precision: the whole core in fp32 (use_fp32_acc), or only the softmax (softmax_precision).
  const upcastAll = options.fp32Acc === true && isLowPrecision(dtype);
  const work = upcastAll ? DataType.FLOAT : dtype;
  if (upcastAll) {
    q = cast(b, q, DataType.FLOAT);
    k = cast(b, k, DataType.FLOAT);
    v = cast(b, v, DataType.FLOAT);
  }

  // Scale: √s on each side, as the ONNX reference does (keeps fp16 products in range).
  const scaleAttr = n.attr('scale');
  let sqrtScale: Value;
  if (scaleAttr) sqrtScale = floatScalar(b, 'sdpa_sqrt_scale', work, Math.sqrt(n.attrFloat('scale')));
  else if (typeof headDim === 'number') sqrtScale = floatScalar(b, 'sdpa_sqrt_scale', work, Math.sqrt(1 / Math.sqrt(headDim)));
  else {
    // 1/√D at run time: D^(-1/4) on each side.
    const d = typed(b.op('Cast', [b.op('Shape', [q], { start: 3, end: 4 })], { to: work }), work, [1]);
    sqrtScale = b.op('Pow', [d, floatScalar(b, 'sdpa_quarter', work, -0.25)]);
  }
  const qs = typed(b.op('Mul', [q, sqrtScale]), work, q.shape);
  const ks = typed(b.op('Mul', [k, sqrtScale]), work, k.shape);

  const kr = repeatKv(b, ks, q, qHeads, kvHeads);
  const vr = repeatKv(b, v, q, qHeads, kvHeads);
  const s = dimOf(q, 2);
  const t = dimOf(k, 2);
  const batch = dimOf(q, 0);
  const scoresShape: Shape = [batch, qHeads, s, t];
  const kt = typed(b.op('Transpose', [kr], { perm: [0, 1, 3, 2] }), work, [batch, qHeads, dimOf(k, 3), t]);
  let scores = typed(b.op('MatMul', [qs, kt]), work, scoresShape);

  const softcap = n.attr('softcap') ? n.attrFloat('softcap') : 0;
  if (softcap > 0) {
    const c = floatScalar(b, 'sdpa_softcap', work, softcap);
    scores = typed(b.op('Mul', [b.op('Tanh', [b.op('Div', [scores, c])]), c]), work, scoresShape);
  }

  if (n.attr('is_causal') && n.attrInt('is_causal') === 1) {
    scores = typed(b.op('Add', [scores, masks.biasOf(n, masks.causalMask(n, q, k), work)]), work, scoresShape);
  }
  if (mask) {
    let bias: Value;
    const maskType = elementType(mask);
    if (maskType === undefined) throw new TrtLegalizeError('TRT_SDPA', `Attention ${n.describe()}: the element type of attn_mask '${mask.name}' is unknown (boolean or additive?)`, n.name);
    if (maskType === DataType.BOOL) bias = masks.biasOf(n, mask, work);
    else if (maskType !== work) bias = cast(b, mask, work);
    else bias = mask;
    scores = typed(b.op('Add', [scores, bias]), work, scoresShape);
  }

  const softmaxFloat = n.attr('softmax_precision') !== undefined && n.attrInt('softmax_precision') === DataType.FLOAT && work !== DataType.FLOAT;
  let probs: Value;
  if (softmaxFloat) {
    probs = cast(b, typed(b.op('Softmax', [cast(b, scores, DataType.FLOAT)], { axis: -1 }), DataType.FLOAT, scoresShape), work);
  } else {
    probs = typed(b.op('Softmax', [scores], { axis: -1 }), work, scoresShape);
  }
  let y = typed(b.op('MatMul', [probs, vr]), work, [batch, qHeads, s, dimOf(v, 3)]);
  if (work !== dtype) y = cast(b, y, dtype);
  if (threeD) y = fromHeads(b, y);
  replaceNode(g, n, out, y);
  y.type = out.type ?? y.type;
  return y;
}

function cast(b: Builder, v: Value, to: DataType): Value {
  return typed(b.op('Cast', [v], { to }), to, v.shape);
}

/** [B, S, H·D] → [B, H, S, D]. */
function toHeads(b: Builder, v: Value, heads: number): Value {
  const r = b.op('Reshape', [v, int64s(b, 'sdpa_heads_shape', [0, 0, heads, -1])]);
  const d = dimOf(v, 2);
  return typed(b.op('Transpose', [r], { perm: [0, 2, 1, 3] }), v.dtype, [dimOf(v, 0), heads, dimOf(v, 1), typeof d === 'number' ? d / heads : null]);
}

/** [B, H, S, D] → [B, S, H·D]. */
function fromHeads(b: Builder, v: Value): Value {
  const t = b.op('Transpose', [v], { perm: [0, 2, 1, 3] });
  return typed(b.op('Reshape', [t, int64s(b, 'sdpa_merge_shape', [0, 0, -1])]), v.dtype);
}

/**
 * GQA: repeats each KV head `Hq / Hkv` times, interleaved ([h0, h0, h1, h1, …]), with Unsqueeze → Expand →
 * Reshape. Static head counts give constant shapes; otherwise the shapes are computed from Shape ops.
 */
function repeatKv(b: Builder, kv: Value, q: Value, qHeads: Dim, kvHeads: Dim): Value {
  if (typeof qHeads === 'number' && typeof kvHeads === 'number') {
    if (qHeads === kvHeads) return kv;
    if (qHeads % kvHeads !== 0) throw new TrtLegalizeError('TRT_SDPA', `query heads ${qHeads} are not a multiple of key/value heads ${kvHeads} ('${kv.name}')`, kv.name);
    const rep = qHeads / kvHeads;
    const u = b.op('Unsqueeze', [kv, int64s(b, 'sdpa_axes2', [2])]);
    const e = b.op('Expand', [u, int64s(b, 'sdpa_repeat', [1, 1, rep, 1, 1])]);
    const d = dimOf(kv, 3);
    const shape = typeof d === 'number' ? int64s(b, 'sdpa_gqa_shape', [0, qHeads, -1, d]) : gqaShape(b, kv, q);
    return typed(b.op('Reshape', [e, shape]), kv.dtype, [dimOf(kv, 0), qHeads, dimOf(kv, 2), d]);
  }
  // Head counts unknown until run time: rep = Hq / Hkv, target [B, Hq, -1, D].
  const hq = b.op('Shape', [q], { start: 1, end: 2 });
  const hkv = b.op('Shape', [kv], { start: 1, end: 2 });
  const rep = b.op('Div', [hq, hkv]);
  const ones = int64s(b, 'sdpa_ones2', [1, 1]);
  const u = b.op('Unsqueeze', [kv, int64s(b, 'sdpa_axes2', [2])]);
  const e = b.op('Expand', [u, b.op('Concat', [ones, rep, ones], { axis: 0 })]);
  return typed(b.op('Reshape', [e, gqaShape(b, kv, q)]), kv.dtype);
}

function gqaShape(b: Builder, kv: Value, q: Value): Value {
  const batch = b.op('Shape', [kv], { start: 0, end: 1 });
  const hq = b.op('Shape', [q], { start: 1, end: 2 });
  const d = b.op('Shape', [kv], { start: 3, end: 4 });
  return b.op('Concat', [batch, hq, int64s(b, 'sdpa_minus1', [-1]), d], { axis: 0 });
}
