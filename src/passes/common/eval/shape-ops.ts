import { DataType } from '../../../ir/dtype';
import type { Kernel, KernelContext, KernelTable } from './kernel';
import { NdArray, broadcastDims, broadcastIndex, normaliseAxis, sizeOf, stridesOf } from './ndarray';

/**
 * Data-movement kernels: Shape, Size, Reshape, Flatten, Unsqueeze, Squeeze, Expand, Concat, Split, Slice,
 * Transpose, Tile, Identity. Older opsets pass axes/splits/slice bounds as attributes, newer ones as inputs:
 * an input wins when present, so one kernel reads both forms.
 */

/** Integer list from input `index` if given, else from attribute `attr`; undefined when neither. */
export function intsFromInputOrAttr(ctx: KernelContext, index: number, attr: string): number[] | undefined {
  const v = ctx.optional(index);
  if (v) return v.toNumbers();
  return ctx.node.attr(attr) ? ctx.node.attrInts(attr) : undefined;
}

/** Copies `src` into a new array of `dims`, where `sourceIndex(k)` says which element lands at flat index k. */
function gatherCopy(ctx: KernelContext, src: NdArray, dims: readonly number[], sourceIndex: (k: number) => number): NdArray {
  const out = ctx.alloc(src.dtype, dims);
  // Same dtype on both sides, so one typed-array kind: a float view of the types suffices for the copy.
  const o = out.data as Float64Array;
  const s = src.data as Float64Array;
  for (let k = 0; k < o.length; k++) o[k] = s[sourceIndex(k)];
  return out;
}

/**
 * Copies a strided view: output axis a starts at input element `starts[a]` and advances by `steps[a]`
 * input elements along input axis `axes[a]` (the axis mapping does Transpose).
 */
function stridedCopy(ctx: KernelContext, src: NdArray, outDims: readonly number[], starts: readonly number[], steps: readonly number[], axes: readonly number[]): NdArray {
  const inStrides = stridesOf(src.dims);
  const rank = outDims.length;
  const stride = axes.map((ax, a) => inStrides[ax] * steps[a]);
  let base = 0;
  axes.forEach((ax, a) => (base += starts[a] * inStrides[ax]));
  const counter = new Array<number>(rank).fill(0);
  let offset = base;
  const n = sizeOf(outDims);
  const out = ctx.alloc(src.dtype, outDims);
  const o = out.data as Float64Array;
  const s = src.data as Float64Array;
  if (n === 0) return out;
  if (rank === 0) {
    o[0] = s[offset];
    return out;
  }
  // Row by row along the last output axis (a block copy where it is contiguous), then advance the outer counters.
  const last = rank - 1;
  const rowLength = outDims[last];
  const rowStride = stride[last];
  for (let k = 0; k < n; k += rowLength) {
    if (rowStride === 1) o.set(s.subarray(offset, offset + rowLength), k);
    else for (let j = 0, at = offset; j < rowLength; j++, at += rowStride) o[k + j] = s[at];
    for (let a = last - 1; a >= 0; a--) {
      counter[a]++;
      offset += stride[a];
      if (counter[a] < outDims[a]) break;
      offset -= stride[a] * counter[a];
      counter[a] = 0;
    }
  }
  return out;
}

const shapeKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const [start, end] = shapeRange(x.rank, ctx.node.attr('start') ? ctx.node.attrInt('start') : undefined, ctx.node.attr('end') ? ctx.node.attrInt('end') : undefined);
  const dims = x.dims.slice(start, Math.max(start, end));
  return [NdArray.of(DataType.INT64, [dims.length], BigInt64Array.from(dims, (d) => BigInt(d)))];
};

/** Shape's start/end: negatives count from the back, then both clamp to [0, rank]. */
export function shapeRange(rank: number, start?: number, end?: number): [number, number] {
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  return [norm(start ?? 0), norm(end ?? rank)];
}

const sizeKernel: Kernel = (ctx) => [NdArray.of(DataType.INT64, [], BigInt64Array.of(BigInt(ctx.input(0).size)))];

const identityKernel: Kernel = (ctx) => [ctx.input(0)];

/** Reshape target: 0 copies the input dim (unless allowzero), -1 is inferred from the element count. */
export function reshapeDims(input: readonly number[], target: readonly number[], allowZero: boolean, fail: (m: string) => never): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? (i < input.length ? input[i] : fail(`shape element ${i} is 0 but the input has rank ${input.length}`)) : d));
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1) fail('more than one -1 in the target shape');
  if (out.some((d) => d < -1)) fail(`invalid target shape [${target.join(', ')}]`);
  const total = sizeOf(input);
  if (unknown === 1) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || total % known !== 0) fail(`cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
    out[out.indexOf(-1)] = total / known;
  }
  if (sizeOf(out) !== total) fail(`cannot reshape [${input.join(', ')}] to [${target.join(', ')}]`);
  return out;
}

const reshapeKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.input(1).toNumbers();
  return [x.reshaped(reshapeDims(x.dims, target, ctx.node.attrInt('allowzero', 0) === 1, (m) => ctx.fail(m)))];
};

const flattenKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const axis = ctx.node.attrInt('axis', 1);
  const a = axis < 0 ? axis + x.rank : axis;
  if (a < 0 || a > x.rank) ctx.fail(`axis ${axis} out of range`);
  return [x.reshaped([sizeOf(x.dims.slice(0, a)), sizeOf(x.dims.slice(a))])];
};

/** Output dims of Unsqueeze: axes are relative to the output rank. */
export function unsqueezeDims(dims: readonly number[], axes: readonly number[], fail: (m: string) => never): number[] {
  const rank = dims.length + axes.length;
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
  if (norm.some((a, i) => a < 0 || a >= rank || (i > 0 && a === norm[i - 1]))) fail(`invalid Unsqueeze axes [${axes.join(', ')}] for output rank ${rank}`);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : dims[j++]);
  return out;
}

const unsqueezeKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFromInputOrAttr(ctx, 1, 'axes') ?? ctx.fail('Unsqueeze needs axes');
  return [x.reshaped(unsqueezeDims(x.dims, axes, (m) => ctx.fail(m)))];
};

const squeezeKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const axes = intsFromInputOrAttr(ctx, 1, 'axes');
  const drop = axes ? axes.map((a) => normaliseAxis(a, x.rank, ctx.node.name)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of drop) if (x.dims[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.dims[a]}`);
  return [x.reshaped(x.dims.filter((_, i) => !drop.includes(i)))];
};

const expandKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const shape = ctx.input(1).toNumbers();
  const dims = broadcastDims([x.dims, shape], ctx.node.name);
  const map = broadcastIndex(dims, x.dims);
  return [gatherCopy(ctx, x, dims, map ? (k) => map[k] : (k) => k)];
};

const tileKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const repeats = ctx.input(1).toNumbers();
  if (repeats.length !== x.rank) ctx.fail(`repeats has ${repeats.length} elements for rank ${x.rank}`);
  const dims = x.dims.map((d, i) => d * repeats[i]);
  const outStrides = stridesOf(dims);
  const inStrides = stridesOf(x.dims);
  return [gatherCopy(ctx, x, dims, (k) => {
    let src = 0;
    for (let a = 0; a < dims.length; a++) {
      const i = Math.floor(k / outStrides[a]) % dims[a];
      src += (i % x.dims[a]) * inStrides[a];
    }
    return src;
  })];
};

const transposeKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const perm = ctx.node.attr('perm') ? ctx.node.attrInts('perm') : x.dims.map((_, i) => x.rank - 1 - i);
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) ctx.fail(`invalid perm [${perm.join(', ')}]`);
  return [stridedCopy(ctx, x, perm.map((p) => x.dims[p]), perm.map(() => 0), perm.map(() => 1), perm)];
};

const concatKernel: Kernel = (ctx) => {
  const parts: NdArray[] = [];
  for (let i = 0; i < ctx.inputCount; i++) parts.push(ctx.input(i));
  if (parts.length === 0) ctx.fail('Concat needs inputs');
  const rank = parts[0].rank;
  const axis = normaliseAxis(ctx.node.attrInt('axis'), rank, ctx.node.name);
  for (const p of parts) {
    if (p.rank !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) {
      ctx.fail(`inputs [${parts.map((q) => q.dims.join('x')).join('], [')}] do not concatenate on axis ${axis}`);
    }
    if (p.dtype !== parts[0].dtype) ctx.fail('input types differ');
  }
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const out = ctx.alloc(parts[0].dtype, dims);
  const outer = sizeOf(dims.slice(0, axis));
  const inner = sizeOf(dims.slice(axis + 1));
  const o = out.data as Float64Array;
  let at = 0;
  for (let b = 0; b < outer; b++) {
    for (const p of parts) {
      const chunk = p.dims[axis] * inner;
      // Same dtype, so the same typed-array kind: a block copy.
      o.set((p.data as Float64Array).subarray(b * chunk, (b + 1) * chunk), at);
      at += chunk;
    }
  }
  return [out];
};

/** Split sizes: explicit, or `count` near-equal chunks (ceil-sized, the last one smaller, as opset 18 does). */
export function splitSizes(dim: number, explicit: readonly number[] | undefined, count: number, fail: (m: string) => never): number[] {
  if (explicit) {
    if (explicit.reduce((s, v) => s + v, 0) !== dim) fail(`split sizes [${explicit.join(', ')}] do not add up to ${dim}`);
    return [...explicit];
  }
  const chunk = Math.ceil(dim / count);
  return Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

const splitKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const axis = normaliseAxis(ctx.node.attrInt('axis', 0), x.rank, ctx.node.name);
  const count = ctx.node.attr('num_outputs') ? ctx.node.attrInt('num_outputs') : ctx.node.outputs.length;
  const sizes = splitSizes(x.dims[axis], intsFromInputOrAttr(ctx, 1, 'split'), count, (m) => ctx.fail(m));
  let offset = 0;
  return sizes.map((size) => {
    const dims = [...x.dims];
    dims[axis] = size;
    const starts = x.dims.map((_, i) => (i === axis ? offset : 0));
    offset += size;
    return stridedCopy(ctx, x, dims, starts, dims.map(() => 1), dims.map((_, i) => i));
  });
};

/** One axis of a Slice after ONNX clamping: first index, step and element count. */
export interface SliceRange {
  start: number;
  step: number;
  count: number;
}

/**
 * ONNX Slice clamping for one axis: negative bounds count from the end; then for a positive step
 * start/end clamp to [0, dim], for a negative step start to [0, dim-1] and end to [-1, dim-1].
 * INT64_MAX/INT64_MIN bounds arrive as huge doubles and clamp like any other.
 */
export function sliceRange(dim: number, start: number, end: number, step: number): SliceRange {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, step, count };
}

/** Per-axis ranges of a Slice node, from inputs (opset ≥ 10) or attributes. */
export function sliceRanges(ctx: KernelContext, dims: readonly number[]): SliceRange[] {
  const fromInputs = ctx.opset >= 10 || ctx.optional(1) !== undefined;
  const starts = fromInputs ? ctx.input(1).toNumbers() : ctx.node.attrInts('starts');
  const ends = fromInputs ? ctx.input(2).toNumbers() : ctx.node.attrInts('ends');
  const axes = (fromInputs ? ctx.optional(3)?.toNumbers() : ctx.node.attr('axes') ? ctx.node.attrInts('axes') : undefined) ?? starts.map((_, i) => i);
  const steps = (fromInputs ? ctx.optional(4)?.toNumbers() : undefined) ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) ctx.fail('starts/ends/axes/steps lengths differ');
  const ranges: SliceRange[] = dims.map((d) => ({ start: 0, step: 1, count: d }));
  const seen = new Set<number>();
  axes.forEach((ax, i) => {
    const a = normaliseAxis(ax, dims.length, ctx.node.name);
    if (seen.has(a)) ctx.fail(`axis ${a} appears twice`);
    seen.add(a);
    if (steps[i] === 0) ctx.fail('slice step is 0');
    ranges[a] = sliceRange(dims[a], starts[i], ends[i], steps[i]);
  });
  return ranges;
}

const sliceKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const ranges = sliceRanges(ctx, x.dims);
  return [stridedCopy(ctx, x, ranges.map((r) => r.count), ranges.map((r) => r.start), ranges.map((r) => r.step), ranges.map((_, i) => i))];
};

export const shapeKernels: KernelTable = {
  Shape: shapeKernel,
  Size: sizeKernel,
  Identity: identityKernel,
  Reshape: reshapeKernel,
  Flatten: flattenKernel,
  Unsqueeze: unsqueezeKernel,
  Squeeze: squeezeKernel,
  Expand: expandKernel,
  Tile: tileKernel,
  Transpose: transposeKernel,
  Concat: concatKernel,
  Split: splitKernel,
  Slice: sliceKernel,
};
