import type { Kernel, KernelContext, KernelTable } from './kernel';
import { NdArray, normaliseAxis, sizeOf, stridesOf } from './ndarray';

/** Index-driven kernels: Gather, GatherElements, GatherND, and Trilu (a mask by row/column index). */

/** Reads an index, wrapping negatives once and refusing out-of-range ones (as onnxruntime does). */
function checkedIndex(ctx: KernelContext, raw: number, dim: number): number {
  const i = raw < 0 ? raw + dim : raw;
  if (!(i >= 0 && i < dim)) ctx.fail(`index ${raw} is out of range for a dimension of size ${dim}`);
  return i;
}

const gatherKernel: Kernel = (ctx) => {
  const data = ctx.input(0);
  const indices = ctx.input(1);
  const axis = normaliseAxis(ctx.node.attrInt('axis', 0), data.rank, ctx.node.name);
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  const out = ctx.alloc(data.dtype, dims);
  const outer = sizeOf(data.dims.slice(0, axis));
  const inner = sizeOf(data.dims.slice(axis + 1));
  const axisDim = data.dims[axis];
  const idx = indices.toNumbers().map((i) => checkedIndex(ctx, i, axisDim));
  const o = out.data as Float64Array;
  const s = data.data as Float64Array;
  let at = 0;
  for (let b = 0; b < outer; b++) {
    for (const i of idx) {
      const base = (b * axisDim + i) * inner;
      for (let k = 0; k < inner; k++) o[at++] = s[base + k];
    }
  }
  return [out];
};

const gatherElementsKernel: Kernel = (ctx) => {
  const data = ctx.input(0);
  const indices = ctx.input(1);
  if (indices.rank !== data.rank) ctx.fail('GatherElements needs indices of the data rank');
  const axis = normaliseAxis(ctx.node.attrInt('axis', 0), data.rank, ctx.node.name);
  const out = ctx.alloc(data.dtype, indices.dims);
  const inStrides = stridesOf(data.dims);
  const idxStrides = stridesOf(indices.dims);
  const o = out.data as Float64Array;
  const s = data.data as Float64Array;
  for (let k = 0; k < o.length; k++) {
    let src = 0;
    for (let a = 0; a < data.rank; a++) {
      const coord = Math.floor(k / idxStrides[a]) % indices.dims[a];
      const c = a === axis ? checkedIndex(ctx, indices.getNumber(k), data.dims[a]) : coord;
      src += c * inStrides[a];
    }
    o[k] = s[src];
  }
  return [out];
};

const gatherNDKernel: Kernel = (ctx) => {
  const data = ctx.input(0);
  const indices = ctx.input(1);
  const b = ctx.node.attrInt('batch_dims', 0);
  const q = indices.rank;
  if (q < 1) ctx.fail('GatherND indices must have rank ≥ 1');
  const k = indices.dims[q - 1];
  if (b + k > data.rank) ctx.fail(`index tuples of length ${k} with ${b} batch dims exceed data rank ${data.rank}`);
  for (let i = 0; i < b; i++) if (data.dims[i] !== indices.dims[i]) ctx.fail('batch dims of data and indices differ');
  const sliceDims = data.dims.slice(b + k);
  const slice = sizeOf(sliceDims);
  const dims = [...indices.dims.slice(0, q - 1), ...sliceDims];
  const out = ctx.alloc(data.dtype, dims);
  const batches = sizeOf(data.dims.slice(0, b));
  const tuplesPerBatch = sizeOf(indices.dims.slice(b, q - 1));
  const dataStrides = stridesOf(data.dims);
  const batchStride = sizeOf(data.dims.slice(b));
  const idx = indices.toNumbers();
  const o = out.data as Float64Array;
  const s = data.data as Float64Array;
  let at = 0;
  for (let bi = 0; bi < batches; bi++) {
    for (let t = 0; t < tuplesPerBatch; t++) {
      const tuple = (bi * tuplesPerBatch + t) * k;
      let base = bi * batchStride;
      for (let j = 0; j < k; j++) base += checkedIndex(ctx, idx[tuple + j], data.dims[b + j]) * dataStrides[b + j];
      for (let e = 0; e < slice; e++) o[at++] = s[base + e];
    }
  }
  return [out];
};

const triluKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  if (x.rank < 2) ctx.fail('Trilu needs rank ≥ 2');
  const kArr = ctx.optional(1);
  const k = kArr ? kArr.getNumber(0) : 0;
  const upper = ctx.node.attrInt('upper', 1) === 1;
  const rows = x.dims[x.rank - 2];
  const cols = x.dims[x.rank - 1];
  const out: NdArray = ctx.alloc(x.dtype, x.dims);
  const o = out.data as Float64Array;
  const s = x.data as Float64Array;
  for (let e = 0; e < o.length; e++) {
    const j = e % cols;
    const i = Math.floor(e / cols) % rows;
    const keep = upper ? j - i >= k : j - i <= k;
    if (keep) o[e] = s[e];
  }
  return [out];
};

export const indexingKernels: KernelTable = {
  Gather: gatherKernel,
  GatherElements: gatherElementsKernel,
  GatherND: gatherNDKernel,
  Trilu: triluKernel,
};
