import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { ConvertContext, Converter } from './context';
import { BinOp, dtCode, OpCode, UnOp, UnsupportedOpError } from './opcodes';
import { broadcastShape, broadcastStrides, contiguousStrides, ndArgs, numel } from './strided';

const BINARY: Record<string, BinOp> = {
  Add: BinOp.ADD, Sub: BinOp.SUB, Mul: BinOp.MUL, Div: BinOp.DIV, Pow: BinOp.POW, Max: BinOp.MAX, Min: BinOp.MIN,
  Equal: BinOp.EQ, Less: BinOp.LT, LessOrEqual: BinOp.LE, Greater: BinOp.GT, GreaterOrEqual: BinOp.GE, And: BinOp.AND,
  Or: BinOp.OR, Mod: BinOp.MOD,
};
const COMPARISON = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or']);

const UNARY: Record<string, UnOp> = {
  Neg: UnOp.NEG, Sqrt: UnOp.SQRT, Reciprocal: UnOp.RECIP, Sigmoid: UnOp.SIGMOID, Tanh: UnOp.TANH, Cos: UnOp.COS, Sin: UnOp.SIN,
  Exp: UnOp.EXP, Log: UnOp.LOG, Erf: UnOp.ERF, Relu: UnOp.RELU, Abs: UnOp.ABS, Not: UnOp.NOT,
};

function req(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) throw new UnsupportedOpError('CUDA_INPUT', `${node.describe()}: input ${i} is missing`, node.name);
  return v;
}

export function emitBinary(ctx: ConvertContext, node: Node, op: BinOp, a: Value, b: Value, out: Value, outDtype?: DataType): void {
  const ai = ctx.info(a);
  const bi = ctx.info(b);
  const dims = broadcastShape(node, [ai.dims, bi.dims]);
  const dtype = outDtype ?? ai.dtype;
  const o = ctx.define(out, { dims, dtype });
  if (numel(dims) === 0) return;
  ctx.emit(OpCode.BINARY, [
    op, dtCode(ai.dtype, node.name), dtCode(bi.dtype, node.name), dtCode(dtype, node.name),
    ...ndArgs(node, dims, [broadcastStrides(ai.dims, dims), broadcastStrides(bi.dims, dims)]),
    ctx.ref(a), ctx.ref(b), o,
  ]);
}

interface SiluPending { gate: Value; sigmoid: Node; inner: Node }

function isSiluPending(x: unknown): x is SiluPending {
  return typeof x === 'object' && x !== null && 'gate' in x;
}

function soleUse(v: Value): Node | undefined {
  if (v.isGraphOutput) return undefined;
  const uses = v.uses();
  return uses.length === 1 ? uses[0].node : undefined;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Mul(silu(g), u) with silu = Mul(g, Sigmoid(g)) deferred by the Sigmoid: one SILU_MUL kernel. */
function trySiluMul(ctx: ConvertContext, node: Node, inputs: readonly Value[]): boolean {
  for (let i = 0; i < 2; i++) {
    const p = ctx.pending.get(inputs[i]);
    if (!isSiluPending(p)) continue;
    const up = inputs[1 - i];
    const gi = ctx.info(p.gate);
    const ui = ctx.info(up);
    if (sameDims(gi.dims, ui.dims) && gi.dtype === ui.dtype) {
      const o = ctx.define(node.outputs[0], gi);
      const n = numel(gi.dims);
      if (n) ctx.emit(OpCode.SILU_MUL, [dtCode(gi.dtype, node.name), n, ctx.ref(p.gate), ctx.ref(up), o]);
      return true;
    }
    // Shapes differ: compute the deferred silu after all.
    emitUnary(ctx, p.sigmoid, UnOp.SIGMOID, p.gate, p.sigmoid.outputs[0]);
    emitBinary(ctx, p.inner, BinOp.MUL, p.gate, p.sigmoid.outputs[0], inputs[i]);
  }
  return false;
}

/** Add whose sum feeds RMSNormalization (the residual stream): one kernel writes the sum and its norm. */
function tryAddRmsNorm(ctx: ConvertContext, node: Node, a: Value, b: Value): boolean {
  const sum = node.outputs[0];
  const ai = ctx.info(a);
  const bi = ctx.info(b);
  if (!sameDims(ai.dims, bi.dims) || ai.dtype !== bi.dtype || (ai.dtype !== DataType.FLOAT && ai.dtype !== DataType.FLOAT16 && ai.dtype !== DataType.BFLOAT16)) return false;
  const norm = sum.consumers().find((n) => n.op === 'RMSNormalization' && n.domain === '' && n.inputs[0] === sum);
  if (!norm || norm.outputs.slice(1).some((o) => o.hasUses() || o.isGraphOutput)) return false;
  const rank = ai.dims.length;
  const axis = norm.attrInt('axis', -1);
  if (axis !== -1 && axis !== rank - 1) return false;
  const scale = norm.inputs[1];
  if (!scale) return false;
  const si = ctx.info(scale);
  const cols = ai.dims[rank - 1];
  if (numel(si.dims) !== cols || (si.dtype !== ai.dtype && si.dtype !== DataType.FLOAT)) return false;
  const s = ctx.define(sum, ai);
  const o = ctx.define(norm.outputs[0], ai);
  const rows = numel(ai.dims) / Math.max(cols, 1);
  if (rows) {
    ctx.emit(OpCode.ADD_RMSNORM, [dtCode(ai.dtype, node.name), dtCode(si.dtype, node.name), rows, cols, norm.attrFloat('epsilon', 1e-5), ctx.ref(a), ctx.ref(b), ctx.ref(scale), s, o]);
  }
  ctx.skip(norm);
  return true;
}

const binary: Converter = (node, ctx) => {
  const op = BINARY[node.op];
  const inputs = node.inputs.filter((v): v is Value => v !== null);
  if (inputs.length === 1) {
    ctx.alias(node.outputs[0], inputs[0], ctx.info(inputs[0]));
    return;
  }
  if (inputs.length > 2) throw new UnsupportedOpError('CUDA_ARITY', `${node.describe()}: variadic ${node.op} with ${inputs.length} inputs is not supported`, node.name);
  if (node.op === 'Mul' && trySiluMul(ctx, node, inputs)) return;
  if (node.op === 'Add' && tryAddRmsNorm(ctx, node, inputs[0], inputs[1])) return;
  emitBinary(ctx, node, op, inputs[0], inputs[1], node.outputs[0], COMPARISON.has(node.op) ? DataType.BOOL : undefined);
};

/** Sigmoid(g) feeding only Mul(g, .) feeding only another Mul: deferred to that Mul (SiLU-gated MLP). */
const sigmoid: Converter = (node, ctx) => {
  const g = req(node, 0);
  const s = node.outputs[0];
  const inner = soleUse(s);
  const other = inner && inner.op === 'Mul' && inner.inputs.length === 2 ? inner.inputs.find((v) => v !== s) : undefined;
  const outer = inner && soleUse(inner.outputs[0]);
  if (inner && other === g && outer && outer.op === 'Mul') {
    ctx.skip(inner);
    ctx.pending.set(inner.outputs[0], { gate: g, sigmoid: node, inner } satisfies SiluPending);
    return;
  }
  emitUnary(ctx, node, UnOp.SIGMOID, g, s);
};

export function emitUnary(ctx: ConvertContext, node: Node, op: UnOp, x: Value, out: Value, outDtype?: DataType): void {
  const xi = ctx.info(x);
  const dtype = outDtype ?? (op === UnOp.NOT ? DataType.BOOL : xi.dtype);
  const o = ctx.define(out, { dims: xi.dims, dtype });
  const n = numel(xi.dims);
  if (n === 0) return;
  ctx.emit(OpCode.UNARY, [op, dtCode(xi.dtype, node.name), dtCode(dtype, node.name), n, ctx.ref(x), o, 0]);
}

const unary: Converter = (node, ctx) => emitUnary(ctx, node, UNARY[node.op], req(node, 0), node.outputs[0]);

const gelu: Converter = (node, ctx) => {
  const approx = node.attr('approximate') ? node.attrString('approximate') : 'none';
  emitUnary(ctx, node, approx === 'tanh' ? UnOp.GELU_TANH : UnOp.GELU, req(node, 0), node.outputs[0]);
};

const identity: Converter = (node, ctx) => ctx.alias(node.outputs[0], req(node, 0), ctx.info(req(node, 0)));

const cast: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const to = node.op === 'CastLike' ? ctx.info(req(node, 1)).dtype : (node.attrInt('to') as DataType);
  if (to === xi.dtype) {
    ctx.alias(node.outputs[0], x, xi);
    return;
  }
  const o = ctx.define(node.outputs[0], { dims: xi.dims, dtype: to });
  if (numel(xi.dims) === 0) return;
  const cs = contiguousStrides(xi.dims);
  ctx.emit(OpCode.COPY, [dtCode(xi.dtype, node.name), dtCode(to, node.name), ...ndArgs(node, xi.dims, [cs, cs]), ctx.ref(x), o]);
};

const where: Converter = (node, ctx) => {
  const [c, x, y] = [req(node, 0), req(node, 1), req(node, 2)];
  const ci = ctx.info(c), xi = ctx.info(x), yi = ctx.info(y);
  const dims = broadcastShape(node, [ci.dims, xi.dims, yi.dims]);
  const o = ctx.define(node.outputs[0], { dims, dtype: xi.dtype });
  if (numel(dims) === 0) return;
  ctx.emit(OpCode.WHERE, [
    dtCode(xi.dtype, node.name),
    ...ndArgs(node, dims, [broadcastStrides(ci.dims, dims), broadcastStrides(xi.dims, dims), broadcastStrides(yi.dims, dims)]),
    ctx.ref(c), ctx.ref(x), ctx.ref(y), o,
  ]);
};

export const elementwiseConverters: Record<string, Converter> = {
  ...Object.fromEntries(Object.keys(BINARY).map((k) => [k, binary])),
  ...Object.fromEntries(Object.keys(UNARY).map((k) => [k, unary])),
  Sigmoid: sigmoid,
  Gelu: gelu,
  Identity: identity,
  Cast: cast,
  CastLike: cast,
  Where: where,
};

