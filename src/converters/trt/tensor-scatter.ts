import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { constantInts, initializerTensor } from './analysis';
import { int64s, int64Scalar, replaceNode, ruleTags, TrtLegalizeError, typed } from './build';

const INT64_MAX = 9223372036854775807n;

/**
 * The single write position of a TensorScatter when every batch row provably writes at the same place:
 * `write_indices` omitted (0), a constant with equal entries, a 1-row batch, or `Expand(x)` of a one-element
 * `x` (what static_cache_v3 builds). Returned as a 1-element int64 vector; undefined when rows may differ.
 */
function uniformStart(model: Model, b: Builder, n: Node, cache: Value): Value | undefined {
  const w = n.inputs[2] ?? null;
  if (!w) return int64s(b, 'scatter_start0', [0]);
  const values = constantInts(model, w);
  if (values && values.every((x) => x === values[0])) return int64s(b, 'scatter_start', [values[0] ?? 0]);
  if (cache.shape?.[0] === 1 || w.shape?.[0] === 1) return w;
  const p = w.producer;
  if (p && p.op === 'Expand' && p.domain === '') {
    const x = p.inputs[0] as Value;
    const xs = x.shape ?? initializerTensor(x)?.dims;
    if (xs && xs.length === 1 && xs[0] === 1) return x;
    if (xs && xs.length === 0) return b.op('Unsqueeze', [x, int64s(b, 'scatter_axes0', [0])]);
    const xp = x.producer;
    // Unsqueeze(scalar, [0]) is one element even before shapes are inferred.
    if (xp && xp.op === 'Unsqueeze' && xp.inputs[0]?.shape?.length === 0 && constantInts(model, xp.inputs[1])?.length === 1) return x;
  }
  return undefined;
}

/**
 * TensorScatter (opset 24) → an equivalent made of older ops, for TensorRT versions without its importer:
 * - rows writing at one position (the static-cache case), linear mode: the static_cache_v1 formula
 *   `Concat(cache[.., :start], update, cache[.., start+S:])` along the sequence axis;
 * - otherwise (per-row positions, or circular mode): `Where(inside, GatherElements(update, clamp(j − w[b])),
 *   cache)` over the cache positions j, with `j − w[b]` taken modulo the cache length in circular mode.
 * Both give the op's result for valid inputs (linear: w[b] + S ≤ L). Returns the new output.
 */
export function legacyTensorScatter(model: Model, n: Node): Value {
  const g = n.graph;
  const cache = n.inputs[0];
  const update = n.inputs[1];
  if (!g || !cache || !update) throw new TrtLegalizeError('TRT_SCATTER', `TensorScatter ${n.describe()} needs past_cache and update`, n.name);
  const rank = cache.shape?.length ?? update.shape?.length;
  if (rank === undefined) throw new TrtLegalizeError('TRT_SCATTER', `TensorScatter ${n.describe()}: the rank of '${cache.name}' is unknown`, n.name);
  const axisAttr = n.attrInt('axis', -2);
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (axis <= 0 || axis >= rank) throw new TrtLegalizeError('TRT_SCATTER', `TensorScatter ${n.describe()} has axis ${axisAttr} (rank ${rank})`, n.name);
  const circular = (n.attr('mode') ? n.attrString('mode') : 'linear') === 'circular';
  const b = new Builder(g, n, ruleTags('tensor_scatter_legacy'));
  const start = circular ? undefined : uniformStart(model, b, n, cache);
  const out = start ? sliceConcat(b, cache, update, start, axis) : whereGather(b, n, cache, update, axis, rank, circular);
  typed(out, cache.dtype, cache.shape);
  replaceNode(g, n, n.outputs[0], out);
  return out;
}

function sliceConcat(b: Builder, cache: Value, update: Value, start: Value, axis: number): Value {
  const axes = int64s(b, 'scatter_axis', [axis]);
  const length = typed(b.op('Shape', [update], { start: axis, end: axis + 1 }), DataType.INT64, [1]);
  const end = typed(b.op('Add', [start, length]), DataType.INT64, [1]);
  const before = b.op('Slice', [cache, int64s(b, 'scatter_zero', [0]), start, axes]);
  const after = b.op('Slice', [cache, end, int64s(b, 'scatter_max', [INT64_MAX]), axes]);
  return b.op('Concat', [before, update, after], { axis });
}

function whereGather(b: Builder, n: Node, cache: Value, update: Value, axis: number, rank: number, circular: boolean): Value {
  const w = n.inputs[2];
  if (!w) throw new TrtLegalizeError('TRT_SCATTER', `TensorScatter ${n.describe()}: no write_indices`, n.name);
  const lengthOf = (v: Value): Value => b.op('Squeeze', [b.op('Shape', [v], { start: axis, end: axis + 1 }), int64s(b, 'scatter_axes0', [0])]);
  const cacheLen = lengthOf(cache);
  const updateLen = lengthOf(update);
  const zero = int64Scalar(b, 'scatter_zero_s', 0);
  const one = int64Scalar(b, 'scatter_one_s', 1);
  const positions = b.op('Unsqueeze', [b.op('Range', [zero, cacheLen, one]), int64s(b, 'scatter_axes0', [0])]); // [1, L]
  let rel = b.op('Sub', [positions, b.op('Unsqueeze', [w, int64s(b, 'scatter_axes1', [1])])]); // [B, L]
  if (circular) rel = b.op('Mod', [b.op('Add', [rel, cacheLen]), cacheLen]);
  const inside = b.op('And', [b.op('GreaterOrEqual', [rel, zero]), b.op('Less', [rel, updateLen])]);
  const index = b.op('Max', [b.op('Min', [rel, b.op('Sub', [updateLen, one])]), zero]);
  // [B, L] → rank-r with B at 0 and L at `axis`, ones elsewhere.
  const others = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 0 && i !== axis);
  const spread = (v: Value) => (others.length ? b.op('Unsqueeze', [v, int64s(b, 'scatter_spread', others)]) : v);
  const fullIndex = b.op('Expand', [spread(index), b.op('Shape', [cache])]);
  const gathered = b.op('GatherElements', [update, fullIndex], { axis });
  return b.op('Where', [spread(inside), gathered, cache]);
}
