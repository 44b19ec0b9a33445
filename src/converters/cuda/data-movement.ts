import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { reshapeDims, unsqueezeDims } from '../../passes/common/eval/shape-ops';
import type { ConvertContext, Converter } from './context';
import { dtBytes, dtCode, OpCode, UnsupportedOpError } from './opcodes';
import { broadcastShape, broadcastStrides, contiguousStrides, ndArgs, normAxis, numel, offsetRef } from './strided';

function req(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) throw new UnsupportedOpError('CUDA_INPUT', `${node.describe()}: input ${i} is missing`, node.name);
  return v;
}
function fail(node: Node): (m: string) => never {
  return (m: string) => {
    throw new UnsupportedOpError('CUDA_SHAPE', `${node.describe()}: ${m}`, node.name);
  };
}
/** Integer list from input `i` (newer opsets) or attribute `attr` (older). */
function intsArg(ctx: ConvertContext, node: Node, i: number, attr: string): number[] | undefined {
  const v = node.inputs[i];
  if (v) return ctx.hostInts(v, `${node.op} ${attr}`);
  return node.attr(attr) ? node.attrInts(attr) : undefined;
}

const reshape: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const dims = reshapeDims(xi.dims, ctx.hostInts(req(node, 1), 'Reshape shape'), node.attrInt('allowzero', 0) === 1, fail(node));
  ctx.alias(node.outputs[0], x, { dims, dtype: xi.dtype });
};

const unsqueeze: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const axes = intsArg(ctx, node, 1, 'axes') ?? fail(node)('no axes');
  ctx.alias(node.outputs[0], x, { dims: unsqueezeDims(xi.dims, axes, fail(node)), dtype: xi.dtype });
};

const squeeze: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const axes = intsArg(ctx, node, 1, 'axes');
  const drop = axes ? axes.map((a) => normAxis(node, a, xi.dims.length)) : xi.dims.flatMap((d, i) => (d === 1 ? [i] : []));
  ctx.alias(node.outputs[0], x, { dims: xi.dims.filter((_, i) => !drop.includes(i)), dtype: xi.dtype });
};

const flatten: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const axis = node.attrInt('axis', 1);
  const a = axis < 0 ? axis + xi.dims.length : axis;
  ctx.alias(node.outputs[0], x, { dims: [numel(xi.dims.slice(0, a)), numel(xi.dims.slice(a))], dtype: xi.dtype });
};

/** Strided copy of `x` (read with `inStrides` from element `inOffset`) into `out` region with `outStrides`. */
function copy(ctx: ConvertContext, node: Node, x: Value, dims: readonly number[], inStrides: readonly number[], inOffset: number,
  out: { buf: number; offset: number }, outStrides: readonly number[], dtype: DataType): void {
  if (numel(dims) === 0) return;
  const code = dtCode(dtype, node.name);
  ctx.emit(OpCode.COPY, [code, code, ...ndArgs(node, dims, [inStrides, outStrides]), offsetRef(ctx.ref(x), inOffset * dtBytes(dtype)), out]);
}

const transpose: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const rank = xi.dims.length;
  const perm = node.attr('perm') ? node.attrInts('perm') : Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const dims = perm.map((p) => xi.dims[p]);
  // A transposed weight matrix that only feeds matrix products: they read it as W^T, nothing is copied.
  const out = node.outputs[0];
  if (x.isInitializer && rank === 2 && perm[0] === 1 && !out.isGraphOutput && out.hasUses()
    && out.uses().every((u) => (u.node.op === 'MatMul' || (u.node.op === 'Gemm' && u.node.attrInt('transB', 0) === 0 && u.node.attrInt('transA', 0) === 0)) && u.index === 1)) {
    ctx.deferTranspose(out, x, { dims, dtype: xi.dtype });
    return;
  }
  // Moving only size-1 axes keeps the byte order: a view.
  const order = perm.filter((p) => xi.dims[p] !== 1);
  if (order.every((p, i) => i === 0 || p > order[i - 1])) {
    ctx.alias(node.outputs[0], x, { dims, dtype: xi.dtype });
    return;
  }
  const cs = contiguousStrides(xi.dims);
  const o = ctx.define(node.outputs[0], { dims, dtype: xi.dtype });
  copy(ctx, node, x, dims, perm.map((p) => cs[p]), 0, o, contiguousStrides(dims), xi.dtype);
};

interface SliceSpec { dims: number[]; strides: number[]; offset: number }

/** ONNX Slice semantics (negative indices, clamping, negative steps) on one tensor. */
function sliceSpec(node: Node, inDims: readonly number[], starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): SliceSpec {
  const rank = inDims.length;
  const cs = contiguousStrides(inDims);
  const dims = [...inDims];
  const strides = [...cs];
  let offset = 0;
  const ax = axes ?? starts.map((_, i) => i);
  ax.forEach((a0, i) => {
    const a = normAxis(node, a0, rank);
    const d = inDims[a];
    const step = steps?.[i] ?? 1;
    if (step === 0) fail(node)('slice step 0');
    let s = starts[i];
    let e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    const len = step > 0 ? Math.max(0, Math.ceil((e - s) / step)) : Math.max(0, Math.ceil((s - e) / -step));
    dims[a] = len;
    strides[a] = cs[a] * step;
    offset += s * cs[a];
  });
  return { dims, strides, offset };
}

/** A slice that is one contiguous run of the input (outer axes of size 1, inner axes whole): a view. */
function isContiguousSlice(inDims: readonly number[], spec: SliceSpec): boolean {
  const cs = contiguousStrides(inDims);
  const first = spec.dims.findIndex((d) => d > 1);
  if (first < 0) return true;
  for (let i = first; i < inDims.length; i++) {
    if (spec.dims[i] > 1 && spec.strides[i] !== cs[i]) return false;
    if (i > first && spec.dims[i] !== inDims[i]) return false;
  }
  return true;
}

function emitSlice(ctx: ConvertContext, node: Node, x: Value, out: Value, spec: SliceSpec): void {
  const xi = ctx.info(x);
  if (numel(spec.dims) > 0 && isContiguousSlice(xi.dims, spec)) {
    ctx.alias(out, x, { dims: spec.dims, dtype: xi.dtype }, spec.offset * dtBytes(xi.dtype));
    return;
  }
  const o = ctx.define(out, { dims: spec.dims, dtype: xi.dtype });
  copy(ctx, node, x, spec.dims, spec.strides, spec.offset, o, contiguousStrides(spec.dims), xi.dtype);
}

const slice: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const starts = intsArg(ctx, node, 1, 'starts') ?? fail(node)('no starts');
  const ends = intsArg(ctx, node, 2, 'ends') ?? fail(node)('no ends');
  const axes = intsArg(ctx, node, 3, 'axes');
  const steps = intsArg(ctx, node, 4, 'steps');
  emitSlice(ctx, node, x, node.outputs[0], sliceSpec(node, xi.dims, starts, ends, axes, steps));
};

const split: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const axis = normAxis(node, node.attrInt('axis', 0), xi.dims.length);
  const d = xi.dims[axis];
  let sizes = intsArg(ctx, node, 1, 'split');
  if (!sizes) {
    const n = node.outputs.length;
    const chunk = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  let at = 0;
  node.outputs.forEach((out, i) => {
    const size = sizes![i];
    emitSlice(ctx, node, x, out, sliceSpec(node, xi.dims, [at], [at + size], [axis], undefined));
    at += size;
  });
};

const concat: Converter = (node, ctx) => {
  const inputs = node.inputs.filter((v): v is Value => v !== null);
  const infos = inputs.map((v) => ctx.info(v));
  const rank = infos[0].dims.length;
  const axis = normAxis(node, node.attrInt('axis'), rank);
  const dims = [...infos[0].dims];
  dims[axis] = infos.reduce((s, i) => s + i.dims[axis], 0);
  const dtype = infos[0].dtype;
  const o = ctx.define(node.outputs[0], { dims, dtype });
  const outStrides = contiguousStrides(dims);
  let at = 0;
  inputs.forEach((v, i) => {
    const part = infos[i].dims;
    copy(ctx, node, v, part, contiguousStrides(part), 0, offsetRef(o, at * outStrides[axis] * dtBytes(dtype)), outStrides, dtype);
    at += part[axis];
  });
};

const expand: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const dims = broadcastShape(node, [xi.dims, ctx.hostInts(req(node, 1), 'Expand shape')]);
  if (numel(dims) === numel(xi.dims)) {
    ctx.alias(node.outputs[0], x, { dims, dtype: xi.dtype });
    return;
  }
  const o = ctx.define(node.outputs[0], { dims, dtype: xi.dtype });
  copy(ctx, node, x, dims, broadcastStrides(xi.dims, dims), 0, o, contiguousStrides(dims), xi.dtype);
};

const gather: Converter = (node, ctx) => {
  const data = req(node, 0);
  const idx = req(node, 1);
  const di = ctx.info(data);
  const ii = ctx.info(idx);
  const axis = normAxis(node, node.attrInt('axis', 0), di.dims.length);
  const dims = [...di.dims.slice(0, axis), ...ii.dims, ...di.dims.slice(axis + 1)];
  const o = ctx.define(node.outputs[0], { dims, dtype: di.dtype });
  if (numel(dims) === 0) return;
  ctx.emit(OpCode.GATHER, [
    dtCode(di.dtype, node.name), dtCode(ii.dtype, node.name), numel(di.dims.slice(0, axis)), di.dims[axis], numel(di.dims.slice(axis + 1)),
    numel(ii.dims), ctx.ref(data), ctx.ref(idx), o,
  ]);
};

export const dataMovementConverters: Record<string, Converter> = {
  Reshape: reshape, Unsqueeze: unsqueeze, Squeeze: squeeze, Flatten: flatten, Transpose: transpose, Slice: slice, Split: split,
  Concat: concat, Expand: expand, Gather: gather,
};
