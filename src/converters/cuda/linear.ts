import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { ConvertContext, Converter, DeviceRef } from './context';
import { dtBytes, dtCode, OpCode, UnsupportedOpError } from './opcodes';
import { broadcastShape, broadcastStrides, contiguousStrides, ndArgs, numel } from './strided';

function req(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) throw new UnsupportedOpError('CUDA_INPUT', `${node.describe()}: input ${i} is missing`, node.name);
  return v;
}

/** Rows handled by the GEMV kernels at most (their template instances). */
export const GEMV_MAX_ROWS = 4;
/** Weight matrices one GEMV launch can take (ops.h MAX_GEMV_SEGS). */
const GEMV_MAX_SEGS = 4;

function gemvSplit(ctx: ConvertContext, colBlocks: number, K: number): number {
  const target = 2 * Math.max(ctx.device.smCount, 1);
  return Math.max(1, Math.min(Math.floor(target / colBlocks), Math.floor(K / 64)));
}

interface Segment { w: Value; bias?: Value; out: DeviceRef; N: number }

/** MatMul output whose only use adds a weight vector [N]: the bias joins the GEMV, the Add is skipped. */
function biasAdd(ctx: ConvertContext, out: Value, N: number, dtype: DataType): { result: Value; bias?: Value } {
  if (out.isGraphOutput) return { result: out };
  const uses = out.uses();
  const add = uses.length === 1 ? uses[0].node : undefined;
  if (!add || add.op !== 'Add' || add.domain !== '' || add.inputs.length !== 2) return { result: out };
  const bias = add.inputs.find((v) => v !== out);
  if (!bias || !bias.isInitializer) return { result: out };
  const bi = ctx.info(bias);
  if (bi.dims.length !== 1 || bi.dims[0] !== N || bi.dtype !== dtype) return { result: out };
  ctx.skip(add);
  return { result: add.outputs[0], bias };
}

/** One GEMV launch over up to 4 weight matrices that share the input x (q/k/v, gate/up). */
function emitGemv(ctx: ConvertContext, node: Node, x: DeviceRef, segs: readonly Segment[], rows: number, K: number, dtype: DataType): void {
  const vec = 16 / dtBytes(dtype);
  const cols = 32 * vec;
  const colBlocks = segs.reduce((n, s) => n + Math.ceil(s.N / cols), 0);
  const ks = gemvSplit(ctx, colBlocks, K);
  const counters = ks > 1 ? ctx.counters(colBlocks) : undefined;
  const split = counters ? ks : 1;
  const ws = split > 1 ? ctx.scratch(split * rows * colBlocks * cols * 4) : null;
  ctx.emit(OpCode.GEMV, [dtCode(dtype, node.name), rows, K, segs.length, split, ws, counters ?? null, x,
    ...segs.flatMap((s) => [s.N, ctx.ref(s.w), s.bias ? ctx.ref(s.bias) : null, s.out])]);
}

function gemvEligible(ctx: ConvertContext, x: DeviceRef, w: Value, bias: Value | undefined, rows: number, N: number, dtype: DataType): boolean {
  const vec = 16 / dtBytes(dtype);
  return ctx.device.gemv && w.isInitializer && rows <= GEMV_MAX_ROWS && N % vec === 0 && x.offset % 16 === 0
    && (bias === undefined || (ctx.info(bias).dims.length <= 1 && ctx.info(bias).dtype === dtype));
}

/**
 * out[rows, N] = x[rows, K] @ W (+ bias[N]); W is [K, N], or [N, K] when `transposed` (a deferred Transpose of
 * a weight, e.g. a tied LM head). Small row counts with a weight matrix go to the runtime's GEMV kernels
 * (memory-bound decode: one pass over W with 16-byte loads); the rest to cuBLAS.
 */
export function emitLinear(ctx: ConvertContext, node: Node, x: DeviceRef, w: Value, bias: Value | undefined, out: DeviceRef, rows: number, N: number, K: number, dtype: DataType, transposed = false): void {
  const vec = 16 / dtBytes(dtype);
  if (transposed) {
    if (ctx.device.gemv && rows <= GEMV_MAX_ROWS && K % vec === 0 && x.offset % 16 === 0 && (!bias || ctx.info(bias).dims.length <= 1)) {
      ctx.emit(OpCode.GEMV_T, [dtCode(dtype, node.name), rows, N, K, x, ctx.ref(w), bias ? ctx.ref(bias) : null, out]);
      return;
    }
  } else if (gemvEligible(ctx, x, w, bias, rows, N, dtype)) {
    emitGemv(ctx, node, x, [{ w, bias, out, N }], rows, K, dtype);
    return;
  }
  let beta = 0;
  if (bias) {
    broadcastInto(ctx, node, bias, out, [rows, N], dtype);
    beta = 1;
  }
  ctx.emit(OpCode.GEMM, [dtCode(dtype, node.name), 0, transposed ? 1 : 0, rows, N, K, 1, x, 0, ctx.ref(w), 0, out, 0, 1, beta]);
}

function broadcastInto(ctx: ConvertContext, node: Node, v: Value, out: DeviceRef, dims: number[], dtype: DataType): void {
  const vi = ctx.info(v);
  const code = dtCode(dtype, node.name);
  ctx.emit(OpCode.COPY, [dtCode(vi.dtype, node.name), code, ...ndArgs(node, dims, [broadcastStrides(vi.dims, dims), contiguousStrides(dims)]), ctx.ref(v), out]);
}

const matmul: Converter = (node, ctx) => {
  const a = req(node, 0);
  const b = req(node, 1);
  const ai = ctx.info(a);
  const bi = ctx.info(b);
  if (ai.dims.length < 2 || bi.dims.length < 2) throw new UnsupportedOpError('CUDA_MATMUL', `${node.describe()}: 1-D MatMul operands are not supported`, node.name);
  const M = ai.dims[ai.dims.length - 2];
  const K = ai.dims[ai.dims.length - 1];
  const N = bi.dims[bi.dims.length - 1];
  if (bi.dims[bi.dims.length - 2] !== K) throw new UnsupportedOpError('CUDA_SHAPE', `${node.describe()}: inner dims ${K} and ${bi.dims[bi.dims.length - 2]} differ`, node.name);
  if (ai.dtype !== bi.dtype) throw new UnsupportedOpError('CUDA_DTYPE', `${node.describe()}: operand dtypes differ`, node.name);
  if (bi.dims.length === 2) {
    const dims = [...ai.dims.slice(0, -1), N];
    const o = ctx.define(node.outputs[0], { dims, dtype: ai.dtype });
    const rows = numel(ai.dims.slice(0, -1));
    if (rows === 0) return;
    const wT = ctx.transposedWeight(b);
    if (wT) {
      emitLinear(ctx, node, ctx.ref(a), wT, undefined, o, rows, N, K, ai.dtype, true);
      return;
    }
    const x = ctx.ref(a);
    if (gemvEligible(ctx, x, b, undefined, rows, N, ai.dtype)) {
      // Horizontal fusion: later MatMuls of the same input with weight matrices join this launch, and bias
      // Adds that follow them join their segment.
      const first = biasAdd(ctx, node.outputs[0], N, ai.dtype);
      const segs: Segment[] = [{ w: b, bias: first.bias, out: first.bias ? ctx.define(first.result, { dims, dtype: ai.dtype }) : o, N }];
      for (const sib of a.consumers()) {
        if (segs.length >= GEMV_MAX_SEGS) break;
        if (sib === node || sib.op !== 'MatMul' || sib.domain !== '' || sib.inputs[0] !== a) continue;
        const w = sib.inputs[1];
        if (!w || !w.isInitializer) continue;
        const wi = ctx.info(w);
        if (wi.dims.length !== 2 || wi.dims[0] !== K || wi.dtype !== ai.dtype || !gemvEligible(ctx, x, w, undefined, rows, wi.dims[1], ai.dtype)) continue;
        const sibBias = biasAdd(ctx, sib.outputs[0], wi.dims[1], ai.dtype);
        const so = ctx.define(sibBias.result, { dims: [...ai.dims.slice(0, -1), wi.dims[1]], dtype: ai.dtype });
        ctx.skip(sib);
        segs.push({ w, bias: sibBias.bias, out: so, N: wi.dims[1] });
      }
      emitGemv(ctx, node, x, segs, rows, K, ai.dtype);
      return;
    }
    emitLinear(ctx, node, x, b, undefined, o, rows, N, K, ai.dtype);
    return;
  }
  const aB = ai.dims.slice(0, -2);
  const bB = bi.dims.slice(0, -2);
  const outB = broadcastShape(node, [aB, bB]);
  const dims = [...outB, M, N];
  const o = ctx.define(node.outputs[0], { dims, dtype: ai.dtype });
  const batch = numel(outB);
  const batchStride = (d: readonly number[], size: number): number => {
    if (numel(d) === 1) return 0;
    const padded = [...new Array<number>(outB.length - d.length).fill(1), ...d];
    if (padded.every((x, i) => x === outB[i])) return size;
    throw new UnsupportedOpError('CUDA_MATMUL', `${node.describe()}: batch dims [${aB.join(',')}] x [${bB.join(',')}] need a partial broadcast`, node.name);
  };
  if (batch * M * N === 0) return;
  ctx.emit(OpCode.GEMM, [dtCode(ai.dtype, node.name), 0, 0, M, N, K, batch, ctx.ref(a), batchStride(aB, M * K), ctx.ref(b), batchStride(bB, K * N), o, M * N, 1, 0]);
};

const gemm: Converter = (node, ctx) => {
  const a = req(node, 0);
  let b = req(node, 1);
  const c = node.inputs[2] ?? undefined;
  const ai = ctx.info(a);
  const bi = ctx.info(b);
  const transA = node.attrInt('transA', 0);
  let transB = node.attrInt('transB', 0);
  const alpha = node.attrFloat('alpha', 1);
  const beta = node.attrFloat('beta', 1);
  const M = transA ? ai.dims[1] : ai.dims[0];
  const K = transA ? ai.dims[0] : ai.dims[1];
  const N = transB ? bi.dims[0] : bi.dims[1];
  const wT = ctx.transposedWeight(b);
  if (wT) {
    b = wT;
    transB = 1 - transB;
  }
  const dims = [M, N];
  const o = ctx.define(node.outputs[0], { dims, dtype: ai.dtype });
  if (M * N === 0) return;
  if (!transA && alpha === 1 && (!c || beta === 1) && (!transB || b.isInitializer)) {
    emitLinear(ctx, node, ctx.ref(a), b, c, o, M, N, K, ai.dtype, transB === 1);
    return;
  }
  let b0 = 0;
  if (c && beta !== 0) {
    broadcastInto(ctx, node, c, o, dims, ai.dtype);
    b0 = beta;
  }
  ctx.emit(OpCode.GEMM, [dtCode(ai.dtype, node.name), transA, transB, M, N, K, 1, ctx.ref(a), 0, ctx.ref(b), 0, o, 0, alpha, b0]);
};

export const linearConverters: Record<string, Converter> = { MatMul: matmul, Gemm: gemm };
