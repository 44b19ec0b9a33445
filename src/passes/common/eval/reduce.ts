import { DataType, isFloatType } from '../../../ir/dtype';
import type { Kernel, KernelContext, KernelTable } from './kernel';
import { NdArray, broadcastIndex, normaliseAxis, sizeOf, stridesOf } from './ndarray';
import { intsFromInputOrAttr } from './shape-ops';

/** Reductions along axes: Reduce{Sum,Max,Min,Mean,Prod}, ArgMax/ArgMin, CumSum, Softmax/LogSoftmax. */

interface Reducer {
  init: number;
  bigInit: bigint;
  step: (acc: number, x: number) => number;
  bigStep: (acc: bigint, x: bigint) => bigint;
  /** Final transform given the count of reduced elements. */
  finish?: (acc: number, count: number) => number;
  bigFinish?: (acc: bigint, count: number) => bigint;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const reducers: Record<string, Reducer> = {
  ReduceSum: { init: 0, bigInit: 0n, step: (a, x) => a + x, bigStep: (a, x) => a + x },
  ReduceProd: { init: 1, bigInit: 1n, step: (a, x) => a * x, bigStep: (a, x) => a * x },
  ReduceMax: {
    init: -Infinity, bigInit: INT64_MIN,
    step: (a, x) => (Number.isNaN(a) || Number.isNaN(x) ? NaN : x > a ? x : a),
    bigStep: (a, x) => (x > a ? x : a),
  },
  ReduceMin: {
    init: Infinity, bigInit: INT64_MAX,
    step: (a, x) => (Number.isNaN(a) || Number.isNaN(x) ? NaN : x < a ? x : a),
    bigStep: (a, x) => (x < a ? x : a),
  },
  ReduceMean: {
    init: 0, bigInit: 0n, step: (a, x) => a + x, bigStep: (a, x) => a + x,
    finish: (a, n) => a / n,
    bigFinish: (a, n) => a / BigInt(n),
  },
};

/** Axes to reduce (sorted, normalised) or null for "no-op" (empty axes with noop_with_empty_axes=1). */
function reduceAxes(ctx: KernelContext, rank: number): number[] | null {
  const axes = intsFromInputOrAttr(ctx, 1, 'axes');
  if (!axes || axes.length === 0) {
    if (ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(axes.map((a) => normaliseAxis(a, rank, ctx.node.name)))].sort((a, b) => a - b);
}

function reduceKernel(r: Reducer): Kernel {
  return (ctx) => {
    const x = ctx.input(0);
    const axes = reduceAxes(ctx, x.rank);
    if (axes === null) return [x];
    const keepDims = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
    const outDims = ctx.node.attrInt('keepdims', 1) === 1 ? keepDims : x.dims.filter((_, i) => !axes.includes(i));
    const out = ctx.alloc(x.dtype, outDims);
    const reducedCount = sizeOf(axes.map((a) => x.dims[a]));
    // Maps each input element to the (keepdims) output element it folds into.
    const map = broadcastIndex(x.dims, keepDims);
    const n = x.size;
    if (x.isBig) {
      const acc = new Array<bigint>(out.size).fill(r.bigInit);
      const s = x.big;
      for (let k = 0; k < n; k++) {
        const o = map ? map[k] : k;
        acc[o] = r.bigStep(acc[o], s[k]);
      }
      const o = out.big;
      for (let i = 0; i < acc.length; i++) o[i] = r.bigFinish ? r.bigFinish(acc[i], reducedCount) : acc[i];
    } else {
      const acc = new Float64Array(out.size).fill(r.init);
      const s = x.num;
      for (let k = 0; k < n; k++) {
        const o = map ? map[k] : k;
        acc[o] = r.step(acc[o], s[k]);
      }
      const o = out.num;
      const intType = !isFloatType(x.dtype);
      for (let i = 0; i < acc.length; i++) {
        const v = r.finish ? r.finish(acc[i], reducedCount) : acc[i];
        o[i] = intType ? Math.trunc(v) : v;
      }
    }
    return [out];
  };
}

function argKernel(max: boolean): Kernel {
  return (ctx) => {
    const x = ctx.input(0);
    const axis = normaliseAxis(ctx.node.attrInt('axis', 0), x.rank, ctx.node.name);
    const last = ctx.node.attrInt('select_last_index', 0) === 1;
    const keepDims = x.dims.map((d, i) => (i === axis ? 1 : d));
    const outDims = ctx.node.attrInt('keepdims', 1) === 1 ? keepDims : x.dims.filter((_, i) => i !== axis);
    const out = ctx.alloc(DataType.INT64, outDims);
    const inner = sizeOf(x.dims.slice(axis + 1));
    const dim = x.dims[axis];
    const outer = sizeOf(x.dims.slice(0, axis));
    const o = out.big;
    const s = x.data;
    for (let b = 0; b < outer; b++) {
      for (let k = 0; k < inner; k++) {
        let best = 0;
        for (let i = 1; i < dim; i++) {
          const v = s[(b * dim + i) * inner + k];
          const w = s[(b * dim + best) * inner + k];
          if (max ? v > w || (last && v === w) : v < w || (last && v === w)) best = i;
        }
        o[b * inner + k] = BigInt(best);
      }
    }
    return [out];
  };
}

/** CumSum accumulates in the element type (float32 rounding each step, like a sequential C loop). */
const cumSumKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  const axis = normaliseAxis(ctx.input(1).getNumber(0), x.rank, ctx.node.name);
  const exclusive = ctx.node.attrInt('exclusive', 0) === 1;
  const reverse = ctx.node.attrInt('reverse', 0) === 1;
  const out = ctx.alloc(x.dtype, x.dims);
  const dim = x.dims[axis];
  const inner = stridesOf(x.dims)[axis];
  const outer = sizeOf(x.dims.slice(0, axis));
  // float32 and half types accumulate in float32; double and integers as they are (stores wrap ints).
  const round = x.dtype === DataType.FLOAT || x.dtype === DataType.FLOAT16 || x.dtype === DataType.BFLOAT16 ? Math.fround : (v: number) => v;
  for (let b = 0; b < outer; b++) {
    for (let k = 0; k < inner; k++) {
      if (x.isBig) {
        let acc = 0n;
        for (let t = 0; t < dim; t++) {
          const i = reverse ? dim - 1 - t : t;
          const at = (b * dim + i) * inner + k;
          if (exclusive) {
            out.big[at] = acc;
            acc += x.big[at];
          } else {
            acc += x.big[at];
            out.big[at] = acc;
          }
        }
      } else {
        const o = out.num;
        const s = x.num;
        let acc = 0;
        for (let t = 0; t < dim; t++) {
          const i = reverse ? dim - 1 - t : t;
          const at = (b * dim + i) * inner + k;
          if (exclusive) o[at] = acc;
          acc = round(acc + s[at]);
          if (!exclusive) o[at] = acc;
        }
      }
    }
  }
  return [out];
};

/**
 * Softmax/LogSoftmax. Opset ≥ 13 normalises along `axis` (default -1); older opsets flatten to 2-D at
 * `axis` (default 1) and normalise each row of the flattened tensor.
 */
function softmaxKernel(log: boolean): Kernel {
  return (ctx) => {
    const x = ctx.input(0);
    if (!isFloatType(x.dtype)) ctx.fail(`${ctx.node.op} takes floating-point input`);
    const legacy = ctx.opset < 13;
    const axis = normaliseAxis(ctx.node.attrInt('axis', legacy ? 1 : -1), Math.max(x.rank, 1), ctx.node.name);
    let outer: number;
    let dim: number;
    let inner: number;
    if (legacy) {
      outer = sizeOf(x.dims.slice(0, axis));
      dim = sizeOf(x.dims.slice(axis));
      inner = 1;
    } else {
      outer = sizeOf(x.dims.slice(0, axis));
      dim = x.rank === 0 ? 1 : x.dims[axis];
      inner = sizeOf(x.dims.slice(axis + 1));
    }
    const out: NdArray = ctx.alloc(x.dtype, x.dims);
    const o = out.num;
    const s = x.num;
    for (let b = 0; b < outer; b++) {
      for (let k = 0; k < inner; k++) {
        const at = (i: number) => (b * dim + i) * inner + k;
        let m = -Infinity;
        for (let i = 0; i < dim; i++) m = Math.max(m, s[at(i)]);
        let sum = 0;
        for (let i = 0; i < dim; i++) sum += Math.exp(s[at(i)] - m);
        for (let i = 0; i < dim; i++) o[at(i)] = log ? s[at(i)] - m - Math.log(sum) : Math.exp(s[at(i)] - m) / sum;
      }
    }
    return [out];
  };
}

export const reduceKernels: KernelTable = {
  ReduceSum: reduceKernel(reducers.ReduceSum),
  ReduceProd: reduceKernel(reducers.ReduceProd),
  ReduceMax: reduceKernel(reducers.ReduceMax),
  ReduceMin: reduceKernel(reducers.ReduceMin),
  ReduceMean: reduceKernel(reducers.ReduceMean),
  ArgMax: argKernel(true),
  ArgMin: argKernel(false),
  CumSum: cumSumKernel,
  Softmax: softmaxKernel(false),
  LogSoftmax: softmaxKernel(true),
};
