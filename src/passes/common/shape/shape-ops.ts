import { AttrType } from '../../../ir/attribute';
import { DataType } from '../../../ir/dtype';
import type { Dim } from '../../../ir/type';
import { shapeRange, sliceRange, splitSizes } from '../eval/shape-ops';
import { addDims, divDims, mulDims, productOfDims, provablyAtLeast, provablyLess, staticValue, subDims } from '../symbolic-dim';
import { axisOf, broadcastDim, InferContext, RuleTable, ShapeRule, ShapeValue, sumDims, unifyDims } from './rule';
import { sameAsInput } from './elementwise';

/**
 * Shape-manipulating ops. Value-dependent outputs (Reshape, Expand, ConstantOfShape, Range, Slice, Tile)
 * read their shape arguments as shape values, so partly symbolic targets like `[1, seq, -1]` still work.
 *
 * Slice and Range clamp symbolic bounds only where the comparison is provable for every symbol ≥ 1
 * (`x[:, :1]` of `[1, seq]` is `[1, 1]`, but `x[-3:]` of `[seq]` is unknown: seq may be 2).
 */

/** Bounds at or beyond ±2^62 mean "to the end" (exporters write INT64_MAX/INT64_MIN). */
const HUGE = 2 ** 62;

const shapeRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  if (!shape) return [{ dtype: DataType.INT64, shape: [null] }];
  const start = ctx.node.attr('start') ? ctx.node.attrInt('start') : undefined;
  const end = ctx.node.attr('end') ? ctx.node.attrInt('end') : undefined;
  const [s, e] = shapeRange(shape.length, start, end);
  const elems = shape.slice(s, Math.max(s, e));
  return [{ dtype: DataType.INT64, shape: [elems.length], value: { dims: [elems.length], elems } }];
};

const sizeRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  return [{ dtype: DataType.INT64, shape: [], value: shape ? { dims: [], elems: [productOfDims(shape)] } : undefined }];
};

/** A shape value reshaped to rank ≤ 1 keeps its elements (scalar ↔ [1] ↔ [n]). */
function reshapedValue(v: ShapeValue | undefined, shape: readonly Dim[] | undefined): ShapeValue | undefined {
  if (!v || !shape || shape.length > 1) return undefined;
  if (shape.length === 0) return v.elems.length === 1 ? { dims: [], elems: v.elems } : undefined;
  return shape[0] === v.elems.length ? { dims: [v.elems.length], elems: v.elems } : undefined;
}

/** Elements of a shape argument, or `length` unknowns when only its length is known. */
function shapeArgument(ctx: InferContext, i: number): readonly Dim[] | undefined {
  const v = ctx.value(i);
  if (v) return v.elems;
  const len = staticValue(ctx.shape(i)?.[0] ?? null);
  return len === undefined ? undefined : new Array<Dim>(len).fill(null);
}

const reshapeRule: ShapeRule = (ctx) => {
  const input = ctx.shape(0);
  const target = shapeArgument(ctx, 1);
  if (!target) return [{ dtype: ctx.dtype(0) }];
  const allowZero = ctx.node.attrInt('allowzero', 0) === 1;
  let inferAt = -1;
  const out: Dim[] = target.map((d, i) => {
    const v = staticValue(d);
    if (v === 0 && !allowZero) {
      if (!input) return null;
      if (i >= input.length) ctx.fail(`target element ${i} is 0 but the input has rank ${input.length}`);
      return input[i];
    }
    if (v === -1) {
      if (inferAt >= 0) ctx.fail('more than one -1 in the target shape');
      inferAt = i;
      return null;
    }
    if (v !== undefined && v < -1) ctx.fail(`invalid target element ${v}`);
    return d;
  });
  if (inferAt >= 0 && input) {
    const others = out.filter((_, i) => i !== inferAt);
    const known = productOfDims(others);
    const total = productOfDims(input);
    const q = known !== null && total !== null ? divDims(total, known) : null;
    if (q !== null && staticValue(q) !== undefined && (staticValue(q) as number) < 0) ctx.fail('inferred dimension is negative');
    // A static total that does not divide is an invalid Reshape.
    const st = staticValue(total);
    const sk = staticValue(known);
    if (st !== undefined && sk !== undefined && sk !== 0 && st % sk !== 0) ctx.fail(`cannot reshape ${st} elements into a multiple of ${sk}`);
    out[inferAt] = q;
  }
  if (inferAt < 0 && input) {
    const st = staticValue(productOfDims(input));
    const so = staticValue(productOfDims(out));
    if (st !== undefined && so !== undefined && st !== so) ctx.fail(`cannot reshape ${st} elements to ${so}`);
  }
  return [{ dtype: ctx.dtype(0), shape: out, value: reshapedValue(ctx.value(0), out) }];
};

const flattenRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  if (!shape) return [{ dtype: ctx.dtype(0), shape: [null, null] }];
  const axis = ctx.node.attrInt('axis', 1);
  const a = axis < 0 ? axis + shape.length : axis;
  if (a < 0 || a > shape.length) ctx.fail(`axis ${axis} out of range`);
  return [{ dtype: ctx.dtype(0), shape: [productOfDims(shape.slice(0, a)), productOfDims(shape.slice(a))] }];
};

const unsqueezeRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const axes = ctx.intsFromInputOrAttr(1, 'axes');
  if (!shape || !axes) return [{ dtype: ctx.dtype(0) }];
  const rank = shape.length + axes.length;
  const norm = axes.map((a) => axisOf(ctx, a, rank));
  if (new Set(norm).size !== norm.length) ctx.fail('repeated axes');
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : shape[j++]);
  return [{ dtype: ctx.dtype(0), shape: out, value: reshapedValue(ctx.value(0), out) }];
};

const squeezeRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  if (!shape) return [{ dtype: ctx.dtype(0) }];
  const axes = ctx.intsFromInputOrAttr(1, 'axes');
  if (!axes && ctx.has(1)) return [{ dtype: ctx.dtype(0) }];
  let drop: number[];
  if (axes) {
    drop = axes.map((a) => axisOf(ctx, a, shape.length));
    for (const a of drop) {
      const v = staticValue(shape[a]);
      if (v !== undefined && v !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${v}`);
    }
  } else {
    // Without axes every size-1 dim goes; a symbolic dim might be 1, so the rank is then unknown.
    if (shape.some((d) => staticValue(d) === undefined)) return [{ dtype: ctx.dtype(0) }];
    drop = shape.flatMap((d, i) => (staticValue(d) === 1 ? [i] : []));
  }
  const out = shape.filter((_, i) => !drop.includes(i));
  return [{ dtype: ctx.dtype(0), shape: out, value: reshapedValue(ctx.value(0), out) }];
};

const expandRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const target = shapeArgument(ctx, 1);
  if (!shape || !target) return [{ dtype: ctx.dtype(0) }];
  const rank = Math.max(shape.length, target.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const a = i - (rank - shape.length) >= 0 ? shape[i - (rank - shape.length)] : 1;
    const t = i - (rank - target.length) >= 0 ? target[i - (rank - target.length)] : 1;
    out.push(broadcastDim(ctx, a, t));
  }
  return [{ dtype: ctx.dtype(0), shape: out }];
};

const concatRule: ShapeRule = (ctx) => {
  const shapes: (readonly Dim[] | undefined)[] = [];
  for (let i = 0; i < ctx.inputCount; i++) shapes.push(ctx.shape(i));
  const known = shapes.filter((s): s is readonly Dim[] => s !== undefined);
  const dtype = ctx.dtype(0);
  const values = shapes.map((_, i) => ctx.value(i));
  const value = values.every((v) => v && v.dims.length === 1) ? { dims: [0], elems: values.flatMap((v) => (v as ShapeValue).elems) } : undefined;
  if (value) value.dims = [value.elems.length];
  if (known.length === 0) return [{ dtype }];
  const rank = known[0].length;
  if (known.some((s) => s.length !== rank)) ctx.fail('inputs of different ranks');
  const axis = axisOf(ctx, ctx.node.attrInt('axis'), rank);
  const out: Dim[] = [];
  for (let d = 0; d < rank; d++) {
    if (d === axis) out.push(known.length === shapes.length ? sumDims(known.map((s) => s[axis])) : null);
    else out.push(known.map((s) => s[d]).reduce((a, b) => unifyDims(ctx, a, b, `dimension ${d} differs between inputs`)));
  }
  return [{ dtype, shape: out, value }];
};

const splitRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const n = ctx.node.outputs.length;
  if (!shape) return ctx.node.outputs.map(() => ({ dtype: ctx.dtype(0) }));
  const axis = axisOf(ctx, ctx.node.attrInt('axis', 0), shape.length);
  const explicit = ctx.intsFromInputOrAttr(1, 'split');
  const count = ctx.node.attr('num_outputs') ? ctx.node.attrInt('num_outputs') : n;
  const d = shape[axis];
  let sizes: Dim[];
  if (explicit) {
    sizes = explicit;
    const sd = staticValue(d);
    if (sd !== undefined && explicit.reduce((s, v) => s + v, 0) !== sd) ctx.fail(`split sizes [${explicit.join(', ')}] do not add up to ${sd}`);
  } else if (!ctx.has(1)) {
    const sd = staticValue(d);
    if (sd !== undefined) sizes = splitSizes(sd, undefined, count, (m) => ctx.fail(m));
    else sizes = new Array<Dim>(count).fill(divDims(d, count));
  } else {
    sizes = new Array<Dim>(n).fill(null);
  }
  return ctx.node.outputs.map((_, i) => ({ dtype: ctx.dtype(0), shape: shape.map((x, j) => (j === axis ? (sizes[i] ?? null) : x)) }));
};

/** Clamps a symbolic bound into [lo, hi] when the comparisons are provable (symbols ≥ 1); else null. */
function clampDim(x: Dim, lo: Dim, hi: Dim): Dim {
  if (x === null) return null;
  if (provablyLess(x, lo)) return lo;
  if (!provablyAtLeast(x, lo)) return null;
  if (provablyLess(hi, x)) return hi;
  return provablyAtLeast(hi, x) ? x : null;
}

/** Output length of slicing a dim of size `dim` (possibly symbolic) with bounds that may be symbolic. */
export function sliceLength(dim: Dim, start: Dim, end: Dim, step: number): Dim {
  const sd = staticValue(dim);
  const ss = staticValue(start);
  const se = staticValue(end);
  if (sd !== undefined && ss !== undefined && se !== undefined) return sliceRange(sd, ss, se, step).count;
  if (dim === null || start === null || end === null) return null;
  // Normalise negative constant bounds against the dim; huge ones mean "from the start"/"to the end".
  const norm = (b: Dim, hugeNeg: Dim, hugePos: Dim): Dim => {
    const v = staticValue(b);
    if (v === undefined) return b;
    if (v >= HUGE) return hugePos;
    if (v <= -HUGE) return hugeNeg;
    return v < 0 ? addDims(dim, v) : v;
  };
  if (step > 0) {
    const s = clampDim(norm(start, 0, dim), 0, dim);
    const e = clampDim(norm(end, 0, dim), 0, dim);
    return spanLength(s, e, step);
  }
  const last = subDims(dim, 1);
  const s = clampDim(norm(start, -1, last), 0, last);
  const e = clampDim(norm(end, -1, last), -1, last);
  return spanLength(e, s, -step);
}

/** ceil((hi - lo) / step), at least 0; null when not exactly known. */
function spanLength(lo: Dim, hi: Dim, step: number): Dim {
  if (lo === null || hi === null) return null;
  const diff = subDims(hi, lo);
  const v = staticValue(diff);
  if (v !== undefined) return Math.max(0, Math.ceil(v / step));
  if (provablyLess(diff, 1)) return 0;
  if (!provablyAtLeast(diff, 0)) return null;
  return step === 1 ? diff : divDims(diff, step);
}

const sliceRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const dtype = ctx.dtype(0);
  const legacy = ctx.opset < 10 && !ctx.has(1);
  const starts = legacy ? ctx.node.attrInts('starts') : ctx.value(1)?.elems;
  const ends = legacy ? ctx.node.attrInts('ends') : ctx.value(2)?.elems;
  const axesList = legacy ? (ctx.node.attr('axes') ? ctx.node.attrInts('axes') : undefined) : ctx.has(3) ? ctx.ints(3) : undefined;
  const stepsList = legacy ? undefined : ctx.has(4) ? ctx.ints(4) : undefined;
  if (!shape) return [{ dtype }];
  if (!starts || !ends || (!legacy && ctx.has(3) && !axesList) || (!legacy && ctx.has(4) && !stepsList)) {
    // Which axes change is unknown (or by how much): keep the rank, lose the sliced dims.
    if (axesList) return [{ dtype, shape: shape.map((d, i) => (axesList.some((a) => axisOf(ctx, a, shape.length) === i) ? null : d)) }];
    return [{ dtype, shape: shape.map(() => null) }];
  }
  const axes = axesList ?? starts.map((_, i) => i);
  const steps = stepsList ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) ctx.fail('starts/ends/axes/steps lengths differ');
  const out: Dim[] = [...shape];
  const picked: { axis: number; start: Dim; end: Dim; step: number }[] = [];
  axes.forEach((ax, i) => {
    const a = axisOf(ctx, ax, shape.length);
    if (steps[i] === 0) ctx.fail('slice step is 0');
    out[a] = sliceLength(shape[a], starts[i], ends[i], steps[i]);
    picked.push({ axis: a, start: starts[i], end: ends[i], step: steps[i] });
  });
  // Slicing a shape value (rank 1, static length) with constant bounds keeps its elements.
  let value: ShapeValue | undefined;
  const v = ctx.value(0);
  if (v && v.dims.length === 1 && picked.length === 1) {
    const p = picked[0];
    const s = staticValue(p.start);
    const e = staticValue(p.end);
    if (s !== undefined && e !== undefined) {
      const r = sliceRange(v.elems.length, s, e, p.step);
      const elems = Array.from({ length: r.count }, (_, i) => v.elems[r.start + i * r.step]);
      value = { dims: [elems.length], elems };
    }
  }
  return [{ dtype, shape: out, value }];
};

const transposeRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  if (!shape) return [{ dtype: ctx.dtype(0) }];
  const perm = ctx.node.attr('perm') ? ctx.node.attrInts('perm') : shape.map((_, i) => shape.length - 1 - i);
  if (perm.length !== shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) ctx.fail(`perm [${perm.join(', ')}] does not fit rank ${shape.length}`);
  return [{ dtype: ctx.dtype(0), shape: perm.map((p) => shape[p]) }];
};

const tileRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const repeats = shapeArgument(ctx, 1);
  if (!shape || !repeats) return [{ dtype: ctx.dtype(0), shape: shape?.map(() => null) }];
  if (repeats.length !== shape.length) ctx.fail(`repeats has ${repeats.length} elements for rank ${shape.length}`);
  return [{ dtype: ctx.dtype(0), shape: shape.map((d, i) => mulDims(d, repeats[i])) }];
};

const constantRule: ShapeRule = (ctx) => {
  for (const a of ctx.node.attributes.values()) {
    switch (a.data.type) {
      case AttrType.TENSOR: return [{ dtype: a.data.value.dtype, shape: a.data.value.dims }];
      case AttrType.SPARSE_TENSOR: return [{ dtype: a.data.value.values.dtype, shape: a.data.value.dims }];
      case AttrType.FLOAT: return [{ dtype: DataType.FLOAT, shape: [] }];
      case AttrType.FLOATS: return [{ dtype: DataType.FLOAT, shape: [a.data.value.length] }];
      case AttrType.INT: return [{ dtype: DataType.INT64, shape: [], value: { dims: [], elems: [Number(a.data.value)] } }];
      case AttrType.INTS: return [{ dtype: DataType.INT64, shape: [a.data.value.length], value: { dims: [a.data.value.length], elems: a.data.value.map(Number) } }];
      case AttrType.STRING: return [{ dtype: DataType.STRING, shape: [] }];
      case AttrType.STRINGS: return [{ dtype: DataType.STRING, shape: [a.data.value.length] }];
      default: break;
    }
  }
  return [undefined];
};

const constantOfShapeRule: ShapeRule = (ctx) => {
  const value = ctx.node.attrTensor('value');
  return [{ dtype: value ? value.dtype : DataType.FLOAT, shape: shapeArgument(ctx, 0) }];
};

/** Range length: exact for constants; `limit - start` (or its exact quotient) for symbolic bounds. */
const rangeRule: ShapeRule = (ctx) => {
  const dtype = ctx.dtype(0);
  const [start, limit, delta] = [0, 1, 2].map((i) => {
    const v = ctx.value(i);
    return v && v.elems.length === 1 ? v.elems[0] : null;
  });
  const step = staticValue(delta);
  let length: Dim = null;
  if (start !== null && limit !== null && step !== undefined && step !== 0) {
    // Elements: ceil((limit - start) / step), or 0 when that is negative; symbolic only when the sign is provable.
    const span = step > 0 ? subDims(limit, start) : subDims(start, limit);
    const v = staticValue(span);
    if (v !== undefined) length = Math.max(0, Math.ceil(v / Math.abs(step)));
    else if (provablyLess(span, 1)) length = 0;
    else if (provablyAtLeast(span, 0)) length = Math.abs(step) === 1 ? span : divDims(span, Math.abs(step));
  }
  return [{ dtype, shape: [length] }];
};

export const shapeOpRules: RuleTable = {
  Shape: shapeRule,
  Size: sizeRule,
  Reshape: reshapeRule,
  Flatten: flattenRule,
  Unsqueeze: unsqueezeRule,
  Squeeze: squeezeRule,
  Expand: expandRule,
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Transpose: transposeRule,
  Tile: tileRule,
  Constant: constantRule,
  ConstantOfShape: constantOfShapeRule,
  Range: rangeRule,
  Identity: sameAsInput,
};
