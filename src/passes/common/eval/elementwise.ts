import { DataType, dataTypeName, isFloatType } from '../../../ir/dtype';
import { EvalError } from './errors';
import type { Kernel, KernelContext, KernelTable } from './kernel';
import { BigArray, NdArray, NumberArray, broadcastDims, broadcastIndex } from './ndarray';

/** Elementwise kernels: unary math, binary arithmetic with numpy broadcasting, comparisons, logic, Where. */

type NumFn = (x: number) => number;
type BigFn = (x: bigint) => bigint;

/** A unary op. `ints` says whether integer inputs are allowed (ONNX restricts e.g. Sqrt to floats). */
function unary(float: NumFn, ints?: { num: NumFn; big: BigFn }): Kernel {
  return (ctx) => {
    const x = ctx.input(0);
    const floaty = isFloatType(x.dtype);
    if (!floaty && !ints) throw unsupportedType(ctx, x.dtype);
    const out = ctx.alloc(x.dtype, x.dims);
    if (x.isBig) {
      const src = x.big;
      const dst = out.big;
      const f = (ints as { big: BigFn }).big;
      for (let i = 0; i < src.length; i++) dst[i] = f(src[i]);
    } else {
      const src = x.num;
      const dst = out.num;
      const f = floaty ? float : (ints as { num: NumFn }).num;
      for (let i = 0; i < src.length; i++) dst[i] = f(src[i]);
    }
    return [out];
  };
}

/**
 * Cos and Sin over float32 storage (float, float16, bfloat16) written out, so each loop calls its Math function
 * directly (the shared `unary` loop calls through a variable, slow at RoPE table sizes); same results.
 */
const cosKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  if (!(x.data instanceof Float32Array)) return cosGeneric(ctx);
  const out = ctx.alloc(x.dtype, x.dims);
  const src = x.data;
  const dst = out.data as Float32Array;
  for (let i = 0; i < src.length; i++) dst[i] = Math.cos(src[i]);
  return [out];
};
const cosGeneric = unary(Math.cos);
const sinKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  if (!(x.data instanceof Float32Array)) return sinGeneric(ctx);
  const out = ctx.alloc(x.dtype, x.dims);
  const src = x.data;
  const dst = out.data as Float32Array;
  for (let i = 0; i < src.length; i++) dst[i] = Math.sin(src[i]);
  return [out];
};
const sinGeneric = unary(Math.sin);

function unsupportedType(ctx: KernelContext, dtype: DataType): EvalError {
  return new EvalError('EVAL_UNSUPPORTED', `${ctx.node.op} does not take ${dataTypeName(dtype)} inputs (node ${ctx.node.describe()})`, ctx.node.name);
}

/** Loops over the broadcast output of two inputs, handing the kernel flat indices into each. */
function broadcast2(ctx: KernelContext, a: NdArray, b: NdArray, outDtype: DataType): { out: NdArray; ia: (k: number) => number; ib: (k: number) => number } {
  const dims = broadcastDims([a.dims, b.dims], ctx.node.name);
  const out = ctx.alloc(outDtype, dims);
  const ma = broadcastIndex(dims, a.dims);
  const mb = broadcastIndex(dims, b.dims);
  return { out, ia: ma ? (k) => ma[k] : (k) => k, ib: mb ? (k) => mb[k] : (k) => k };
}

interface Arith {
  float: (x: number, y: number) => number;
  /** Integer dtypes held as numbers (int8..uint32); receives the dtype for wrap-sensitive ops. */
  int: (x: number, y: number, dtype: DataType) => number;
  big: (x: bigint, y: bigint) => bigint;
}

function arithmetic(op: Arith): Kernel {
  return (ctx) => {
    const a = ctx.input(0);
    const b = ctx.input(1);
    if (a.dtype !== b.dtype) ctx.fail(`input types differ (${dataTypeName(a.dtype)} vs ${dataTypeName(b.dtype)})`);
    if (a.dtype === DataType.BOOL) throw unsupportedType(ctx, a.dtype);
    return [binaryLoop(ctx, a, b, a.dtype, op)];
  };
}

function binaryLoop(ctx: KernelContext, a: NdArray, b: NdArray, dtype: DataType, op: Arith): NdArray {
  const { out, ia, ib } = broadcast2(ctx, a, b, dtype);
  const n = out.size;
  if (a.isBig) {
    const x = a.big;
    const y = b.big;
    const o = out.big;
    for (let k = 0; k < n; k++) o[k] = op.big(x[ia(k)], y[ib(k)]);
  } else {
    const x = a.num;
    const y = b.num;
    const o = out.num;
    if (isFloatType(dtype)) for (let k = 0; k < n; k++) o[k] = op.float(x[ia(k)], y[ib(k)]);
    else for (let k = 0; k < n; k++) o[k] = op.int(x[ia(k)], y[ib(k)], dtype);
  }
  return out;
}

function divByZero(ctx: KernelContext): never {
  throw new EvalError('EVAL_INVALID', `integer division by zero in node ${ctx.node.describe()}`, ctx.node.name);
}

const add: Arith = { float: (x, y) => x + y, int: (x, y) => x + y, big: (x, y) => x + y };
const sub: Arith = { float: (x, y) => x - y, int: (x, y) => x - y, big: (x, y) => x - y };
const mul: Arith = {
  float: (x, y) => x * y,
  // Math.imul keeps 32-bit products exact (a double would round products above 2^53).
  int: (x, y, dt) => (dt === DataType.INT32 || dt === DataType.UINT32 ? Math.imul(x, y) : x * y),
  big: (x, y) => x * y,
};

/** Integer Div truncates toward zero (C semantics, as onnxruntime does). */
const divKernel: Kernel = (ctx) => {
  const check = (y: number | bigint) => (y === 0 || y === 0n ? divByZero(ctx) : y);
  return arithmetic({
    float: (x, y) => x / y,
    int: (x, y) => Math.trunc(x / (check(y) as number)),
    big: (x, y) => x / (check(y) as bigint),
  })(ctx);
};

/** Mod: `fmod=1` takes the dividend's sign (C fmod); `fmod=0` (integers only) the divisor's, like Python. */
const modKernel: Kernel = (ctx) => {
  const fmod = ctx.node.attrInt('fmod', 0) === 1;
  const x0 = ctx.input(0);
  if (isFloatType(x0.dtype) && !fmod) ctx.fail('Mod of floating-point inputs requires fmod=1');
  const check = (y: number | bigint) => (y === 0 || y === 0n ? divByZero(ctx) : y);
  return arithmetic({
    float: (x, y) => x % y,
    int: (x, y) => {
      const r = x % (check(y) as number);
      return !fmod && r !== 0 && r < 0 !== y < 0 ? r + y : r;
    },
    big: (x, y) => {
      const r = x % (check(y) as bigint);
      return !fmod && r !== 0n && r < 0n !== y < 0n ? r + y : r;
    },
  })(ctx);
};

/** Pow(X, Y): the output has X's type; Y may be another numeric type. */
const powKernel: Kernel = (ctx) => {
  const a = ctx.input(0);
  const b = ctx.input(1);
  const { out, ia, ib } = broadcast2(ctx, a, b, a.dtype);
  const n = out.size;
  if (a.isBig && b.isBig) {
    const x = a.big;
    const y = b.big;
    const o = out.big;
    for (let k = 0; k < n; k++) o[k] = bigPow(x[ia(k)], y[ib(k)]);
  } else {
    for (let k = 0; k < n; k++) out.setNumber(k, Math.pow(a.getNumber(ia(k)), b.getNumber(ib(k))));
  }
  return [out];
};

function bigPow(x: bigint, y: bigint): bigint {
  if (y >= 0n) return BigInt.asIntN(64, x ** y);
  if (x === 1n) return 1n;
  if (x === -1n) return y % 2n === 0n ? 1n : -1n;
  return 0n;
}

type Cmp = (c: number) => boolean;

/** Comparison to BOOL; bigints compare exactly. */
function comparison(test: Cmp): Kernel {
  return (ctx) => {
    const a = ctx.input(0);
    const b = ctx.input(1);
    if (a.dtype !== b.dtype) ctx.fail(`input types differ (${dataTypeName(a.dtype)} vs ${dataTypeName(b.dtype)})`);
    const { out, ia, ib } = broadcast2(ctx, a, b, DataType.BOOL);
    const o = out.num;
    const x = a.data;
    const y = b.data;
    for (let k = 0; k < o.length; k++) {
      const u = x[ia(k)];
      const v = y[ib(k)];
      // NaN compares false everywhere (c is NaN then).
      const c = u < v ? -1 : u > v ? 1 : u === v ? 0 : NaN;
      o[k] = test(c) ? 1 : 0;
    }
    return [out];
  };
}

function logical(f: (x: boolean, y: boolean) => boolean): Kernel {
  return (ctx) => {
    const a = ctx.input(0);
    const b = ctx.input(1);
    if (a.dtype !== DataType.BOOL || b.dtype !== DataType.BOOL) ctx.fail(`${ctx.node.op} takes BOOL inputs`);
    const { out, ia, ib } = broadcast2(ctx, a, b, DataType.BOOL);
    const x = a.num;
    const y = b.num;
    const o = out.num;
    for (let k = 0; k < o.length; k++) o[k] = f(x[ia(k)] !== 0, y[ib(k)] !== 0) ? 1 : 0;
    return [out];
  };
}

const notKernel: Kernel = (ctx) => {
  const x = ctx.input(0);
  if (x.dtype !== DataType.BOOL) ctx.fail('Not takes a BOOL input');
  const out = ctx.alloc(DataType.BOOL, x.dims);
  const src = x.num;
  const dst = out.num;
  for (let i = 0; i < src.length; i++) dst[i] = src[i] ? 0 : 1;
  return [out];
};

const whereKernel: Kernel = (ctx) => {
  const c = ctx.input(0);
  const x = ctx.input(1);
  const y = ctx.input(2);
  if (x.dtype !== y.dtype) ctx.fail(`X and Y types differ (${dataTypeName(x.dtype)} vs ${dataTypeName(y.dtype)})`);
  const dims = broadcastDims([c.dims, x.dims, y.dims], ctx.node.name);
  const out = ctx.alloc(x.dtype, dims);
  const mc = broadcastIndex(dims, c.dims);
  const mx = broadcastIndex(dims, x.dims);
  const my = broadcastIndex(dims, y.dims);
  const cond = c.num;
  const xs = x.data;
  const ys = y.data;
  const o = out.data;
  for (let k = 0; k < o.length; k++) {
    o[k] = cond[mc ? mc[k] : k] ? xs[mx ? mx[k] : k] : ys[my ? my[k] : k];
  }
  return [out];
};

/** Variadic Max/Min/Sum/Mean: a left fold of the binary op over the broadcast inputs. */
function variadic(op: Arith, mean = false): Kernel {
  return (ctx) => {
    const inputs: NdArray[] = [];
    for (let i = 0; i < ctx.inputCount; i++) {
      const v = ctx.optional(i);
      if (v) inputs.push(v);
    }
    if (inputs.length === 0) ctx.fail(`${ctx.node.op} needs at least one input`);
    const dtype = inputs[0].dtype;
    if (inputs.some((v) => v.dtype !== dtype)) ctx.fail('input types differ');
    if (mean && !isFloatType(dtype)) throw unsupportedType(ctx, dtype);
    let acc = inputs[0];
    if (inputs.length === 1) {
      acc = ctx.alloc(dtype, acc.dims);
      (acc.data as NumberArray | BigArray).set(inputs[0].data as never);
    }
    for (let i = 1; i < inputs.length; i++) acc = binaryLoop(ctx, acc, inputs[i], dtype, op);
    if (mean) {
      const d = acc.num;
      for (let k = 0; k < d.length; k++) d[k] /= inputs.length;
    }
    return [acc];
  };
}

const maxOp: Arith = {
  float: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  int: (x, y) => Math.max(x, y),
  big: (x, y) => (x > y ? x : y),
};
const minOp: Arith = {
  float: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  int: (x, y) => Math.min(x, y),
  big: (x, y) => (x < y ? x : y),
};

function floatPredicate(f: (x: number, ctx: KernelContext) => boolean): Kernel {
  return (ctx) => {
    const x = ctx.input(0);
    if (!isFloatType(x.dtype)) throw unsupportedType(ctx, x.dtype);
    const out = ctx.alloc(DataType.BOOL, x.dims);
    const src = x.num;
    const dst = out.num;
    for (let i = 0; i < src.length; i++) dst[i] = f(src[i], ctx) ? 1 : 0;
    return [out];
  };
}

const isInfKernel: Kernel = (ctx) => {
  const neg = ctx.node.attrInt('detect_negative', 1) === 1;
  const pos = ctx.node.attrInt('detect_positive', 1) === 1;
  return floatPredicate((x) => (x === Infinity && pos) || (x === -Infinity && neg))(ctx);
};

/**
 * erf to near double precision: the Maclaurin series below 3 (terms stay small enough that cancellation
 * costs < 1e-13) and a continued fraction for erfc above, which converges fast there.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 27) return Math.sign(x);
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const signed = { num: (x: number) => x, big: (x: bigint) => x };

export const elementwiseKernels: KernelTable = {
  Neg: unary((x) => -x, { num: (x) => -x, big: (x) => -x }),
  Abs: unary(Math.abs, { num: Math.abs, big: (x) => (x < 0n ? -x : x) }),
  Sign: unary(Math.sign, { num: Math.sign, big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) }),
  Relu: unary((x) => (x > 0 ? x : Number.isNaN(x) ? x : 0), { num: (x) => Math.max(x, 0), big: (x) => (x > 0n ? x : 0n) }),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((x) => 1 / x),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sin: sinKernel,
  Cos: cosKernel,
  Tan: unary(Math.tan),
  Floor: unary(Math.floor, signed),
  Ceil: unary(Math.ceil, signed),
  Round: unary(roundHalfEven),
  Sigmoid: unary((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Add: arithmetic(add),
  Sub: arithmetic(sub),
  Mul: arithmetic(mul),
  Div: divKernel,
  Mod: modKernel,
  Pow: powKernel,
  Max: variadic(maxOp),
  Min: variadic(minOp),
  Sum: variadic(add),
  Mean: variadic(add, true),
  Equal: comparison((c) => c === 0),
  Less: comparison((c) => c < 0),
  LessOrEqual: comparison((c) => c <= 0),
  Greater: comparison((c) => c > 0),
  GreaterOrEqual: comparison((c) => c >= 0),
  And: logical((x, y) => x && y),
  Or: logical((x, y) => x || y),
  Xor: logical((x, y) => x !== y),
  Not: notKernel,
  Where: whereKernel,
  IsNaN: floatPredicate((x) => Number.isNaN(x)),
  IsInf: isInfKernel,
};
