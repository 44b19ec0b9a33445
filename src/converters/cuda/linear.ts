import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { ConvertContext, Converter, DeviceRef } from './context';
import { dtBytes, dtCode, isFloatDt, OpCode, UnsupportedOpError } from './opcodes';
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

function vecOf(dtype: DataType): number {
  return 16 / dtBytes(dtype);
}

/**
 * The weights the cuda backend stores transposed, [N, K] row-major instead of ONNX's [K, N]: 2-D float
 * initializers whose every use is the weight operand of a MatMul or of a Gemm without transposes, with K a
 * multiple of 16 bytes. Decode products read them with the row-major GEMV (one warp streams a row), prefill
 * products pass them to cuBLAS as B^T. A model-level decision, so that every plan of one model agrees.
 */
export function weightsStoredTransposed(model: Model): Set<Value> {
  const out = new Set<Value>();
  for (const v of model.graph.initializers.values()) {
    const t = v.constValue;
    if (!t || t.dims.length !== 2 || !isFloatDt(t.dtype) || !v.hasUses() || v.isGraphOutput) continue;
    if (t.dims[0] % vecOf(t.dtype) !== 0) continue;
    const ok = v.uses().every((u) => u.index === 1 && u.node.domain === '' && (
      (u.node.op === 'MatMul' && u.node.inputs[0] !== v)
      || (u.node.op === 'Gemm' && u.node.attrInt('transA', 0) === 0 && u.node.attrInt('transB', 0) === 0)));
    if (ok) out.add(v);
  }
  return out;
}

/** One weight matrix of a GEMV launch, stored [N, K]; `up` makes it a SwiGLU gate/up pair. */
interface Segment { w: Value; up?: Value; bias?: Value; out: DeviceRef; N: number }

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

/** One GEMV launch over up to 4 weight matrices (each [N_i, K]) that share the input x (q/k/v). */
function emitGemv(ctx: ConvertContext, node: Node, x: DeviceRef, segs: readonly Segment[], rows: number, K: number, dtype: DataType): void {
  // x, then the (here empty) RMSNorm prologue: na nb nscale nsum eps dts (src/runtime/plan/fuse-norm-gemv.ts fills it).
  ctx.emit(OpCode.GEMV, [dtCode(dtype, node.name), rows, K, segs.length, x, null, null, null, null, 0, 0,
    ...segs.flatMap((s) => [s.N, ctx.ref(s.w), s.up ? ctx.ref(s.up) : null, s.bias ? ctx.ref(s.bias) : null, s.out])]);
}

/** Whether x[rows, K] @ W^T with W stored [N, K] runs on the GEMV kernel. */
function gemvFits(ctx: ConvertContext, x: DeviceRef, bias: Value | undefined, rows: number, K: number, dtype: DataType): boolean {
  return ctx.device.gemv && rows <= GEMV_MAX_ROWS && K % vecOf(dtype) === 0 && x.offset % 16 === 0
    && (bias === undefined || (ctx.info(bias).dims.length <= 1 && ctx.info(bias).dtype === dtype));
}

/**
 * out[rows, N] = x[rows, K] @ W (+ bias[N]); W is [K, N] in device memory, or [N, K] when `transposed` (a weight
 * the backend stores transposed, or a deferred Transpose of one such as a tied LM head). Small row counts with
 * an [N, K] weight go to the runtime's GEMV kernel (memory-bound decode); the rest to cuBLAS.
 */
export function emitLinear(ctx: ConvertContext, node: Node, x: DeviceRef, w: Value, bias: Value | undefined, out: DeviceRef, rows: number, N: number, K: number, dtype: DataType, transposed = false): void {
  if (transposed && w.isInitializer && gemvFits(ctx, x, bias, rows, K, dtype)) {
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

/** The sole consumer of `v`, if `v` is not a graph output and has exactly one use. */
function soleUse(v: Value): Node | undefined {
  if (v.isGraphOutput) return undefined;
  const uses = v.uses();
  return uses.length === 1 ? uses[0].node : undefined;
}

/**
 * SwiGLU around two products of one input: out = Mul(Mul(g, Sigmoid(g)), u), g = x W_gate, u = x W_up, where
 * g and u feed nothing else. Returns the nodes the fused GEMV replaces and the value it computes.
 */
function swiglu(g: Value, u: Value): { nodes: Node[]; out: Value } | undefined {
  if (g.isGraphOutput || u.isGraphOutput) return undefined;
  const gUses = g.uses();
  if (gUses.length !== 2) return undefined;
  const sig = gUses.find((x) => x.node.op === 'Sigmoid' && x.node.domain === '')?.node;
  const inner = gUses.find((x) => x.node.op === 'Mul' && x.node.domain === '')?.node;
  if (!sig || !inner || sig === inner) return undefined;
  if (soleUse(sig.outputs[0]) !== inner || !inner.inputs.includes(sig.outputs[0]) || !inner.inputs.includes(g)) return undefined;
  const outer = soleUse(inner.outputs[0]);
  if (!outer || outer.op !== 'Mul' || outer.domain !== '' || soleUse(u) !== outer) return undefined;
  const ins = outer.inputs;
  if (ins.length !== 2 || !ins.includes(inner.outputs[0]) || !ins.includes(u)) return undefined;
  return { nodes: [sig, inner, outer], out: outer.outputs[0] };
}

/** Products of x with weights stored [N, K], launched together: q/k/v share one GEMV, gate/up fuse SwiGLU. */
function emitGemvGroup(ctx: ConvertContext, node: Node, a: Value, x: DeviceRef, rows: number, K: number, dtype: DataType, batchDims: readonly number[]): void {
  const products: Node[] = [node];
  for (const sib of a.consumers()) {
    if (products.length >= GEMV_MAX_SEGS) break;
    if (sib === node || sib.op !== 'MatMul' || sib.domain !== '' || sib.inputs[0] !== a || ctx.isHandled(sib)) continue;
    const w = sib.inputs[1];
    if (!w || !ctx.storedTransposed(w)) continue;
    const wi = ctx.info(w);
    if (wi.dims.length !== 2 || wi.dims[0] !== K || wi.dtype !== dtype) continue;
    products.push(sib);
  }
  const used = new Set<Node>();
  const segs: Segment[] = [];
  // Gate/up pairs first (each pair is one segment), then the rest with their bias Adds.
  for (const p of products) {
    if (used.has(p)) continue;
    for (const q of products) {
      if (q === p || used.has(q)) continue;
      const fused = swiglu(p.outputs[0], q.outputs[0]);
      if (!fused) continue;
      const N = ctx.info(p.inputs[1] as Value).dims[1];
      if (ctx.info(q.inputs[1] as Value).dims[1] !== N) continue;
      fused.nodes.forEach((n) => ctx.skip(n));
      if (p !== node) ctx.skip(p);
      if (q !== node) ctx.skip(q);
      used.add(p).add(q);
      segs.push({ w: p.inputs[1] as Value, up: q.inputs[1] as Value, out: ctx.define(fused.out, { dims: [...batchDims, N], dtype }), N });
      break;
    }
  }
  for (const p of products) {
    if (used.has(p)) continue;
    const N = ctx.info(p.inputs[1] as Value).dims[1];
    const withBias = biasAdd(ctx, p.outputs[0], N, dtype);
    if (p !== node) ctx.skip(p);
    segs.push({ w: p.inputs[1] as Value, bias: withBias.bias, out: ctx.define(withBias.result, { dims: [...batchDims, N], dtype }), N });
  }
  emitGemv(ctx, node, x, segs, rows, K, dtype);
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
    const rows = numel(ai.dims.slice(0, -1));
    const wT = ctx.transposedWeight(b);
    const x = () => ctx.ref(a);
    if (!wT && ctx.storedTransposed(b) && rows > 0 && gemvFits(ctx, x(), undefined, rows, K, ai.dtype)) {
      emitGemvGroup(ctx, node, a, x(), rows, K, ai.dtype, ai.dims.slice(0, -1));
      return;
    }
    const o = ctx.define(node.outputs[0], { dims: [...ai.dims.slice(0, -1), N], dtype: ai.dtype });
    if (rows === 0) return;
    if (wT) emitLinear(ctx, node, x(), wT, undefined, o, rows, N, K, ai.dtype, true);
    else emitLinear(ctx, node, x(), b, undefined, o, rows, N, K, ai.dtype, ctx.storedTransposed(b));
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
  } else if (ctx.storedTransposed(b)) {
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
