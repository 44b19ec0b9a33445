import type { Kernel, KernelTable } from './kernel';
import { broadcastDims, broadcastIndex, sizeOf } from './ndarray';

/**
 * MatMul with numpy semantics: 1-D operands are promoted (and the added axis dropped afterwards), batch
 * dims broadcast. Meant for small shape-computing matrices; float sums accumulate in double.
 */
const matMulKernel: Kernel = (ctx) => {
  const a0 = ctx.input(0);
  const b0 = ctx.input(1);
  if (a0.dtype !== b0.dtype) ctx.fail('input types differ');
  if (a0.rank === 0 || b0.rank === 0) ctx.fail('MatMul does not take scalars');
  const a = a0.rank === 1 ? a0.reshaped([1, a0.dims[0]]) : a0;
  const b = b0.rank === 1 ? b0.reshaped([b0.dims[0], 1]) : b0;
  const [m, k] = a.dims.slice(-2);
  const [k2, n] = b.dims.slice(-2);
  if (k !== k2) ctx.fail(`inner dimensions differ: [${a0.dims.join(', ')}] × [${b0.dims.join(', ')}]`);
  const batchA = a.dims.slice(0, -2);
  const batchB = b.dims.slice(0, -2);
  const batch = broadcastDims([batchA, batchB], ctx.node.name);
  const dims = [...batch, m, n];
  const out = ctx.alloc(a.dtype, dims);
  const mapA = broadcastIndex(batch, batchA);
  const mapB = broadcastIndex(batch, batchB);
  const batches = sizeOf(batch);
  for (let t = 0; t < batches; t++) {
    const offA = (mapA ? mapA[t] : t) * m * k;
    const offB = (mapB ? mapB[t] : t) * k * n;
    const offO = t * m * n;
    if (a.isBig) {
      const x = a.big;
      const y = b.big;
      const o = out.big;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let acc = 0n;
        for (let p = 0; p < k; p++) acc += x[offA + i * k + p] * y[offB + p * n + j];
        o[offO + i * n + j] = acc;
      }
    } else {
      const x = a.num;
      const y = b.num;
      const o = out.num;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += x[offA + i * k + p] * y[offB + p * n + j];
        o[offO + i * n + j] = acc;
      }
    }
  }
  // Drop the axes added for 1-D operands.
  let finalDims = dims;
  if (a0.rank === 1) finalDims = [...finalDims.slice(0, -2), finalDims[finalDims.length - 1]];
  if (b0.rank === 1) finalDims = finalDims.slice(0, -1);
  return [out.reshaped(finalDims)];
};

export const matMulKernels: KernelTable = { MatMul: matMulKernel };
