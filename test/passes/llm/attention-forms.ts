// Attention subgraphs drawn with the IR API exactly as each exporter writes them, for the sdpa_canonicalize
// property and regression tests. q [B, Hq, seq, D], k and v [B, Hkv, seq, D] are graph inputs (seq symbolic).
import fc from 'fast-check';
import { Attribute } from '../../../src/ir/attribute';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { RawTensor, tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { attentionNodes } from '../../../src/passes/llm';
import { createSession, ort } from '../../../src/runtime/ort-session';
import { allNodes, canonicalizeOnly, maxAbsDiff } from '../../helpers/llm';

export const FORMS = ['dynamo', 'eager', 'torchscript', 'attention23'] as const;
export type Form = (typeof FORMS)[number];

/** Where the softmax scale is applied (meaning depends on the form; see scaleFor). */
export type ScalePlacement =
  /** dynamo: √c on q and on kᵀ (what torch.onnx dynamo writes); eager: Mul(scores, c); attention23: `scale` attribute */
  | 'split'
  /** the same with the constant as the first Mul input */
  | 'splitFirst'
  /** all of c on q (dynamo, eager) */
  | 'q'
  /** all of c on kᵀ (dynamo) */
  | 'k'
  /** Mul(scores, c) (dynamo) / Div(scores, 1/c) (eager) */
  | 'scores'
  /** no attribute: Attention's default 1/√D (attention23 only, scale must be 'default') */
  | 'none';

export type MaskKind =
  /** j <= i from Range(0, Shape(q)[2]) and LessOrEqual */
  | 'causalRange'
  /** position_ids[j] <= position_ids[i] from a graph input position_ids (causal for contiguous positions) */
  | 'causalPositions'
  /** Trilu(ConstantOfShape([S, T], 1)) as TorchScript builds it */
  | 'causalTrilu'
  /** an arbitrary bool mask fed at run time (graph input) */
  | 'randomInput'
  /** an arbitrary bool mask held in an initializer */
  | 'randomInit'
  | 'none';

/** How a decomposed form applies the mask to the scores. */
export type MaskApply =
  /** Add(scores, Where(m, 0, NEG)) */
  | 'addWhere'
  /** Add(scores, Where(¬m, NEG, 0)) — TorchScript's Where(Equal(tril, 0), -inf, 0) */
  | 'addWhereNot'
  /** Where(m, scores, NEG) */
  | 'fill'
  /** Where(¬m, NEG, scores) */
  | 'fillNot';

export interface AttentionCase {
  form: Form;
  batch: number;
  kvHeads: number;
  group: number;
  seq: number;
  headDim: number;
  /** Intended softmax scale; 'default' = 1/√D. */
  scale: 'default' | number;
  placement: ScalePlacement;
  mask: MaskKind;
  maskApply: MaskApply;
  /** Rank of the mask the graph builds: [S, T] or [b, h, S, T]. */
  maskRank: 2 | 4;
  /** Large negative used to mask scores. */
  neg: number;
  /** repeat_kv's Expand shape: built from Shape(kv) like the dynamo export, or a constant with 1 for T. */
  repeatShape: 'shapeOf' | 'ones';
  /** repeat_kv's Reshape target: constant [B, Hq, -1, D] (dynamo) or Concat from Shape(kv). */
  repeatTarget: 'const' | 'shapeOf';
  /** Softmax axis attribute (absent = -1 from opset 13 on). */
  softmaxAxis: -1 | 3 | 'absent';
  /** TorchScript form: how the head size is read for the default scale. */
  headDimFrom: 'gatherLast' | 'gather3' | 'sliceLast' | 'shapeStart' | 'keyShape';
  /** dynamo form: kᵀ's reshape targets from Shape(k) slices, constant-folded where static, or Shape(start, end). */
  kShape: 'slices' | 'folded' | 'shapeAttrs';
  /** Symbol of k/v's sequence dim: the same as q's ('seq', S == T guaranteed) or another one ('kv_seq'). */
  kvSeq: 'seq' | 'kv_seq';
  seed: number;
}

export const heads = (c: AttentionCase): number => c.kvHeads * c.group;
export const effectiveScale = (c: AttentionCase): number => (c.scale === 'default' ? 1 / Math.sqrt(c.headDim) : c.scale);
export const isCausalMask = (m: MaskKind): boolean => m === 'causalRange' || m === 'causalPositions' || m === 'causalTrilu';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Deterministic pseudo-random numbers in [0, 1). */
export function rng(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A random bool mask of `dims` ([..., S, T]) with at least one allowed key per query row (no all-masked rows). */
export function randomMask(dims: readonly number[], seed: number): Uint8Array {
  const r = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  const t = dims[dims.length - 1];
  const out = Uint8Array.from({ length: n }, () => (r() < 0.6 ? 1 : 0));
  for (let row = 0; row < n / t; row++) out[row * t + Math.floor(r() * t)] = 1;
  return out;
}

export interface BuiltCase {
  model: Model;
  feeds: Record<string, ort.Tensor>;
  q: Value;
  k: Value;
  v: Value;
}

class Draw {
  readonly b: Builder;
  private n = 0;
  constructor(readonly g: Graph) {
    this.b = new Builder(g);
  }
  i64(values: (number | bigint)[], dims: number[] = [values.length]): Value {
    return this.g.addInitializer(`c_i64_${this.n++}`, tensor.int64(dims, values));
  }
  f32(x: number): Value {
    return this.g.addInitializer(`c_f32_${this.n++}`, tensor.float32([], [x]));
  }
  op(op: string, inputs: (Value | null)[], attrs: Record<string, number | number[]> = {}): Value {
    return this.b.op(op, inputs, attrs);
  }
  /** Shape(x)[from:to] as the dynamo exporter slices it (int64 bounds). */
  shapeSlice(shape: Value, from: number | bigint, to: number | bigint): Value {
    return this.op('Slice', [shape, this.i64([from]), this.i64([to])]);
  }
}

/** Hugging Face repeat_kv: Reshape(Expand(Unsqueeze(kv, 2), [B, Hkv, n, T, D]), [B, Hkv·n, T, D]). */
function repeatKv(d: Draw, kv: Value, c: AttentionCase): Value {
  const u = d.op('Unsqueeze', [kv, d.i64([2])]);
  let shape: Value;
  if (c.repeatShape === 'ones') shape = d.i64([c.batch, c.kvHeads, c.group, 1, c.headDim]);
  else {
    const seqLen = d.op('Shape', [kv], { start: 2, end: 3 });
    shape = d.op('Concat', [d.i64([c.batch]), d.i64([c.kvHeads]), d.i64([c.group]), seqLen, d.i64([c.headDim])], { axis: 0 });
  }
  const e = d.op('Expand', [u, shape]);
  let target: Value;
  if (c.repeatTarget === 'const') target = d.i64([c.batch, heads(c), -1, c.headDim]);
  else {
    const s = d.op('Shape', [kv]);
    target = d.op('Concat', [d.shapeSlice(s, 0, 1), d.i64([heads(c)]), d.shapeSlice(s, 2, 3), d.i64([c.headDim])], { axis: 0 });
  }
  const out = d.b.node('Reshape', [e, target], { allowzero: 1 }).outputs[0];
  out.type = tensorType(DataType.FLOAT, [c.batch, heads(c), c.kvSeq, c.headDim]);
  return out;
}

/**
 * The dynamo exporter's kᵀ: Reshape(Transpose(Reshape(k, [-1, T, D]), [0, 2, 1]), [*lead, D, T]) from Shape(k)
 * slices — as exported, with the static pieces constant-folded (what constant_folding leaves), or with Shape's
 * start/end attributes instead of Slice.
 */
function dynamoTranspose(d: Draw, k: Value, c: AttentionCase): Value {
  const s = d.op('Shape', [k], { start: 0 });
  const dims = (k.shape ?? []) as (number | string)[];
  const folded = (i: number) => c.kShape === 'folded' && typeof dims[i] === 'number';
  const piece = (from: number, to: number, big: bigint | number) =>
    c.kShape === 'shapeAttrs' ? d.op('Shape', [k], to === 0 ? { start: from } : { start: from, end: to }) : d.shapeSlice(s, big === 0 ? from : big, to === 0 ? INT64_MAX : to);
  const last = folded(3) ? d.i64([dims[3] as number]) : piece(-1, 0, 0);
  const seq = folded(2) ? d.i64([dims[2] as number]) : piece(-2, -1, 0);
  const lead = folded(0) && folded(1) ? d.i64([dims[0] as number, dims[1] as number]) : c.kShape === 'shapeAttrs' ? d.op('Shape', [k], { start: 0, end: -2 }) : d.shapeSlice(s, INT64_MIN, -2);
  const flat = d.op('Reshape', [k, d.op('Concat', [d.i64([-1]), seq, last], { axis: 0 })]);
  const t = d.op('Transpose', [flat], { perm: [0, 2, 1] });
  return d.op('Reshape', [t, d.op('Concat', [lead, last, seq], { axis: 0 })]);
}

interface MaskValues {
  /** true = attend */
  attend: Value;
  /** true = masked out */
  masked: () => Value;
}

/** Builds the case's mask (and registers its feeds); undefined for 'none'. */
function buildMask(d: Draw, c: AttentionCase, q: Value, k: Value, feeds: Record<string, ort.Tensor>): MaskValues | undefined {
  const g = d.g;
  const S = c.seq;
  const dims4 = [c.seed % 2 === 0 ? 1 : c.batch, c.seed % 3 === 0 ? heads(c) : 1, S, S];
  const toRank = (m: Value): Value => (c.maskRank === 4 && (m.shape?.length ?? 2) === 2 ? d.op('Unsqueeze', [m, d.i64([0, 1])]) : m);
  const not = (m: Value) => () => d.op('Not', [m]);
  switch (c.mask) {
    case 'none':
      return undefined;
    case 'causalRange': {
      const n = d.op('Squeeze', [d.op('Shape', [q], { start: 2, end: 3 }), d.i64([0])]);
      const r = d.op('Range', [d.i64([0], []), n, d.i64([1], [])]);
      const rows = d.op('Unsqueeze', [r, d.i64([1])]);
      const cols = d.op('Unsqueeze', [r, d.i64([0])]);
      const m = d.op('LessOrEqual', [cols, rows]);
      m.type = tensorType(DataType.BOOL, ['seq', 'seq']);
      const attend = toRank(m);
      return { attend, masked: not(attend) };
    }
    case 'causalPositions': {
      const pos = g.addInput({ name: 'position_ids', type: tensorType(DataType.INT64, [c.batch, 'seq']) });
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: c.batch * S }, (_, i) => BigInt(i % S)), [c.batch, S]);
      const keys = d.op('Unsqueeze', [pos, d.i64([1, 2])]);
      const queries = d.op('Unsqueeze', [pos, d.i64([1, 3])]);
      const attend = d.op('LessOrEqual', [keys, queries]);
      return { attend, masked: not(attend) };
    }
    case 'causalTrilu': {
      const sq = d.op('Shape', [q], { start: 2, end: 3 });
      const sk = d.op('Shape', [k], { start: 2, end: 3 });
      const ones = d.b.op('ConstantOfShape', [d.op('Concat', [sq, sk], { axis: 0 })], { value: tensor.float32([1], [1]) });
      const tril = d.op('Trilu', [ones], { upper: 0 });
      tril.type = tensorType(DataType.FLOAT, ['seq', 'seq']);
      const attend = toRank(d.op('Cast', [tril], { to: DataType.BOOL }));
      // TorchScript: Where(Equal(tril, 0), -inf, 0): the condition is "masked out".
      return { attend, masked: () => toRank(d.op('Equal', [tril, d.f32(0)])) };
    }
    case 'randomInput': {
      const dims = c.maskRank === 2 ? [S, S] : dims4;
      const symbolic = c.maskRank === 2 ? ['seq', 'seq'] : [...dims4.slice(0, 2), 'seq', 'seq'];
      const m = g.addInput({ name: 'attn_mask', type: tensorType(DataType.BOOL, symbolic) });
      feeds.attn_mask = new ort.Tensor('bool', randomMask(dims, c.seed), dims);
      return { attend: m, masked: not(m) };
    }
    case 'randomInit': {
      const dims = c.maskRank === 2 ? [S, S] : dims4;
      const m = g.addInitializer('attn_mask_const', RawTensor.fromArray(DataType.BOOL, dims, randomMask(dims, c.seed)));
      return { attend: m, masked: not(m) };
    }
  }
}

function applyMask(d: Draw, c: AttentionCase, scores: Value, mask: MaskValues | undefined): Value {
  if (!mask) return scores;
  const zero = () => d.f32(0);
  const neg = () => d.f32(c.neg);
  switch (c.maskApply) {
    case 'addWhere': return d.op('Add', [scores, d.op('Where', [mask.attend, zero(), neg()])]);
    case 'addWhereNot': return d.op('Add', [d.op('Where', [mask.masked(), neg(), zero()]), scores]);
    case 'fill': return d.op('Where', [mask.attend, scores, neg()]);
    case 'fillNot': return d.op('Where', [mask.masked(), neg(), scores]);
  }
}

/** Draws the case's attention into a fresh model with output 'out', plus random q/k/v (and mask) feeds. */
export function buildCase(c: AttentionCase): BuiltCase {
  const g = new Graph('attention_case');
  const model = new Model(g);
  model.opsetImports.set('', c.form === 'attention23' ? 23 : 18);
  const hq = heads(c);
  const q = g.addInput({ name: 'q', type: tensorType(DataType.FLOAT, [c.batch, hq, 'seq', c.headDim]) });
  const k = g.addInput({ name: 'k', type: tensorType(DataType.FLOAT, [c.batch, c.kvHeads, c.kvSeq, c.headDim]) });
  const v = g.addInput({ name: 'v', type: tensorType(DataType.FLOAT, [c.batch, c.kvHeads, c.kvSeq, c.headDim]) });
  const r = rng(c.seed * 7 + 1);
  const data = (h: number) => Float32Array.from({ length: c.batch * h * c.seq * c.headDim }, () => (r() * 2 - 1) * 2);
  const feeds: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', data(hq), [c.batch, hq, c.seq, c.headDim]),
    k: new ort.Tensor('float32', data(c.kvHeads), [c.batch, c.kvHeads, c.seq, c.headDim]),
    v: new ort.Tensor('float32', data(c.kvHeads), [c.batch, c.kvHeads, c.seq, c.headDim]),
  };
  const d = new Draw(g);
  const kr = c.group > 1 ? repeatKv(d, k, c) : k;
  const vr = c.group > 1 ? repeatKv(d, v, c) : v;
  const mask = buildMask(d, c, q, k, feeds);
  const scale = effectiveScale(c);
  let out: Value;
  if (c.form === 'attention23') {
    const attrs: Record<string, number> = { is_causal: 0 };
    if (c.placement !== 'none') attrs.scale = scale;
    const inputs: (Value | null)[] = [q, kr, vr];
    if (mask) inputs.push(mask.attend);
    out = d.b.op('Attention', inputs, attrs);
    // Attention writes the float scale attribute even when it is integral.
    const node = out.producer;
    if (node && c.placement !== 'none') node.setAttr(Attribute.float('scale', scale));
  } else {
    let qs = q;
    let kt: Value;
    let scores: Value;
    if (c.form === 'dynamo') {
      kt = dynamoTranspose(d, kr, c);
      const root = Math.sqrt(scale);
      const mul = (x: Value, f: number, first: boolean) => d.op('Mul', first ? [d.f32(f), x] : [x, d.f32(f)]);
      if (c.placement === 'split' || c.placement === 'splitFirst') {
        qs = mul(q, root, c.placement === 'splitFirst');
        kt = mul(kt, root, c.placement === 'splitFirst');
      } else if (c.placement === 'q') qs = mul(q, scale, false);
      else if (c.placement === 'k') kt = mul(kt, scale, true);
      scores = d.op('MatMul', [qs, kt]);
      if (c.placement === 'scores') scores = mul(scores, scale, false);
    } else if (c.form === 'eager') {
      kt = d.op('Transpose', [kr], { perm: [0, 1, 3, 2] });
      if (c.placement === 'q') qs = d.op('Mul', [q, d.f32(scale)]);
      scores = d.op('MatMul', [qs, kt]);
      if (c.placement === 'split') scores = d.op('Mul', [scores, d.f32(scale)]);
      else if (c.placement === 'splitFirst') scores = d.op('Mul', [d.f32(scale), scores]);
      else if (c.placement === 'scores') scores = d.op('Div', [scores, d.f32(1 / scale)]);
    } else {
      // TorchScript: Div(q·kᵀ, Sqrt(Cast(Gather(Shape(q), -1)))) — the default scale, computed from the shape.
      kt = d.op('Transpose', [kr], { perm: [0, 1, 3, 2] });
      scores = d.op('MatMul', [q, kt]);
      let dim: Value;
      switch (c.headDimFrom) {
        case 'gatherLast': dim = d.b.op('Gather', [d.op('Shape', [q]), d.i64([-1], [])], { axis: 0 }); break;
        case 'gather3': dim = d.b.op('Gather', [d.op('Shape', [q]), d.i64([3])], { axis: 0 }); break;
        case 'sliceLast': dim = d.shapeSlice(d.op('Shape', [q]), -1, INT64_MAX); break;
        case 'shapeStart': dim = d.op('Shape', [q], { start: -1 }); break;
        case 'keyShape': dim = d.op('Squeeze', [d.op('Shape', [k], { start: 3, end: 4 }), d.i64([0])]); break;
      }
      scores = d.op('Div', [scores, d.op('Sqrt', [d.op('Cast', [dim], { to: DataType.FLOAT })])]);
    }
    const masked = applyMask(d, c, scores, mask);
    const probs = d.op('Softmax', [masked], c.softmaxAxis === 'absent' ? {} : { axis: c.softmaxAxis });
    // dynamo guards fully-masked rows: Where(IsNaN(p), 0, p).
    const guarded = c.form === 'dynamo' ? d.op('Where', [d.op('IsNaN', [probs]), d.f32(0), probs]) : probs;
    out = d.op('MatMul', [guarded, vr]);
  }
  out.name = 'out';
  out.type = tensorType(DataType.FLOAT, [c.batch, hq, 'seq', c.headDim]);
  g.addOutput(out);
  return { model, feeds, q, k, v };
}

/** Runs a model on onnxruntime CPU (graph optimisations off) and returns output 'out'. */
export async function runOut(model: Model, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await createSession(model);
  try {
    const out = await session.run(feeds);
    return out.out.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** One-line description for failure messages. */
export function describeCase(c: AttentionCase): string {
  return JSON.stringify(c, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}

const PLACEMENTS: Record<Form, readonly ScalePlacement[]> = {
  dynamo: ['split', 'splitFirst', 'q', 'k', 'scores'],
  eager: ['split', 'splitFirst', 'q', 'scores'],
  torchscript: ['scores'],
  attention23: ['split', 'none'],
};
const MASKS: readonly MaskKind[] = ['causalRange', 'causalPositions', 'causalTrilu', 'randomInput', 'randomInit', 'none'];
const APPLIES: readonly MaskApply[] = ['addWhere', 'addWhereNot', 'fill', 'fillNot'];

export function caseArb(form: Form): fc.Arbitrary<AttentionCase> {
  return fc
    .record({
      batch: fc.integer({ min: 1, max: 2 }),
      kvHeads: fc.integer({ min: 1, max: 3 }),
      group: fc.integer({ min: 1, max: 3 }),
      seq: fc.integer({ min: 1, max: 9 }),
      headDim: fc.constantFrom(4, 8, 16),
      scale: fc.constantFrom<'default' | number>('default', 0.3, 1, 0.07),
      placement: fc.constantFrom(...PLACEMENTS[form]),
      mask: fc.constantFrom(...MASKS),
      maskApply: fc.constantFrom(...APPLIES),
      maskRank: fc.constantFrom<2 | 4>(2, 4),
      neg: fc.constantFrom(-Infinity, -3.4028234663852886e38, -1e9),
      repeatShape: fc.constantFrom<'shapeOf' | 'ones'>('shapeOf', 'ones'),
      repeatTarget: fc.constantFrom<'const' | 'shapeOf'>('const', 'shapeOf'),
      softmaxAxis: fc.constantFrom<-1 | 3 | 'absent'>(-1, 3, 'absent'),
      headDimFrom: fc.constantFrom<AttentionCase['headDimFrom']>('gatherLast', 'gather3', 'sliceLast', 'shapeStart', 'keyShape'),
      kvSeq: fc.constantFrom<'seq' | 'kv_seq'>('seq', 'seq', 'kv_seq'),
      kShape: fc.constantFrom<AttentionCase['kShape']>('slices', 'folded', 'shapeAttrs'),
      seed: fc.nat(1_000_000),
    })
    .map((r): AttentionCase => {
      // TorchScript's scale is always the default computed from Shape(q); an Attention without the attribute too.
      const scale = form === 'torchscript' || r.placement === 'none' ? 'default' : r.scale;
      return { form, ...r, scale };
    });
}

/** Checks one case; throws with the case in the message on any difference. */
export async function checkCase(c: AttentionCase): Promise<Model> {
  const { model, feeds } = buildCase(c);
  let lowered: Model;
  try {
    lowered = canonicalizeOnly(model);
  } catch (e) {
    throw new Error(`sdpa_canonicalize failed for ${describeCase(c)}: ${(e as Error).message}`);
  }
  const fail = (what: string): never => {
    throw new Error(`${what} for ${describeCase(c)}`);
  };
  const attns = attentionNodes(lowered);
  if (attns.length !== 1) fail(`${attns.length} canonical Attention nodes`);
  const ops = allNodes(lowered).map((n) => n.op);
  const maskKept = c.mask !== 'none' && !(isCausalMask(c.mask) && c.kvSeq === 'seq');
  for (const gone of ['Softmax', 'IsNaN', 'MatMul', 'Expand', 'Unsqueeze', 'Transpose']) {
    // Unsqueeze/Expand may only remain in a kept mask's subgraph (none of the masks here use Expand).
    if (gone === 'Unsqueeze' && maskKept) continue;
    if (ops.includes(gone)) fail(`${gone} left in the graph (${ops.join(', ')})`);
  }
  const a = attns[0];
  const [q, k, v] = a.inputs;
  if (q?.name !== 'q' || k?.name !== 'k' || v?.name !== 'v' || !q.isGraphInput || !k.isGraphInput || !v.isGraphInput) {
    fail(`Attention reads ${[q, k, v].map((x) => x?.name)} instead of the graph inputs q, k, v (repeat_kv or scaling left)`);
  }
  const scale = a.attr('scale') ? a.attrFloat('scale') : 1 / Math.sqrt(c.headDim);
  if (Math.abs(scale - effectiveScale(c)) > 1e-6 * effectiveScale(c)) fail(`scale ${scale}, expected ${effectiveScale(c)}`);
  const causal = a.attrInt('is_causal', 0);
  const mask = a.inputs[3] ?? null;
  if (isCausalMask(c.mask) && c.kvSeq !== 'seq') {
    // S == T is not guaranteed by the graph (k's length has its own symbol): the mask must stay.
    if (causal !== 0 || !mask) fail(`causal mask replaced by is_causal although S == T is not guaranteed (is_causal=${causal})`);
  } else if (isCausalMask(c.mask)) {
    if (causal !== 1 || mask) fail(`causal mask not replaced by is_causal (is_causal=${causal}, mask ${mask?.name})`);
    for (const op of ['Range', 'Trilu', 'LessOrEqual', 'Where']) if (ops.includes(op)) fail(`mask machinery ${op} left`);
  } else if (c.mask === 'none') {
    if (causal !== 0 || mask) fail(`no mask in the source but is_causal=${causal}, mask ${mask?.name}`);
  } else if (causal !== 0 || !mask) fail(`non-causal mask dropped (is_causal=${causal})`);
  if (lowered.opset('') !== undefined && (lowered.opset('') as number) < 23) fail(`opset ${lowered.opset('')} < 23`);

  const want = await runOut(model, feeds);
  const got = await runOut(lowered, feeds);
  const d = maxAbsDiff(got, want);
  if (!(d <= 1e-4)) fail(`max |Δ| = ${d}`);
  return lowered;
}

