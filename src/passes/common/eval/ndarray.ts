import { DataType, dataTypeName } from '../../../ir/dtype';
import { bfloat16ToFloat, floatsToHalves, floatToBfloat16, halfToFloat, roundFloatsToHalf } from '../../../ir/float16';
import { RawTensor, Tensor, TensorArray } from '../../../ir/tensor';
import { EvalError } from './errors';

export type NumberArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
export type BigArray = BigInt64Array | BigUint64Array;

/**
 * The evaluator's tensor: dtype, dims and a typed array in the dtype's natural storage. int64/uint64 live in
 * BigInt64Array/BigUint64Array so they stay exact; float16/bfloat16 are held decoded in a Float32Array (and
 * rounded back after every op); BOOL is 0/1 in a Uint8Array. Typed-array stores do the wrap-around of
 * integer types and the float32 rounding for us.
 */
export class NdArray {
  private decoded: NumberArray | BigArray | undefined;

  private constructor(
    readonly dtype: DataType,
    readonly dims: readonly number[],
    data: NumberArray | BigArray | undefined,
    private readonly source?: Tensor,
  ) {
    this.decoded = data;
  }

  static of(dtype: DataType, dims: readonly number[], data: NumberArray | BigArray): NdArray {
    if (data.length !== sizeOf(dims)) throw new EvalError('EVAL_INVALID', `${data.length} values do not fill dims [${dims.join(', ')}]`);
    return new NdArray(dtype, [...dims], data);
  }

  /** A zero-filled array; refuses more than `budget` elements. */
  static alloc(dtype: DataType, dims: readonly number[], budget: number, subject?: string): NdArray {
    const n = sizeOf(dims);
    if (!(n <= budget)) {
      throw new EvalError('EVAL_BUDGET', `refusing to materialise ${dataTypeName(dtype)}[${dims.join(', ')}] (${n} elements, budget ${budget})`, subject);
    }
    const ctor = storageFor(dtype, subject);
    return new NdArray(dtype, [...dims], new ctor(n));
  }

  /** Wraps an IR tensor; the bytes are decoded on first access to `data` (Shape/Size never touch them). */
  static fromTensor(t: Tensor, subject?: string): NdArray {
    storageFor(t.dtype, subject ?? t.name);
    return new NdArray(t.dtype, [...t.dims], undefined, t);
  }

  get data(): NumberArray | BigArray {
    if (this.decoded === undefined) this.decoded = decode(this.source as Tensor);
    return this.decoded;
  }
  get size(): number {
    return sizeOf(this.dims);
  }
  get rank(): number {
    return this.dims.length;
  }
  /** True for int64/uint64 (bigint storage). */
  get isBig(): boolean {
    return this.dtype === DataType.INT64 || this.dtype === DataType.UINT64;
  }
  /** Numeric storage (throws for bigint dtypes: callers branch on isBig first). */
  get num(): NumberArray {
    if (this.isBig) throw new EvalError('EVAL_INVALID', `${dataTypeName(this.dtype)} array read as numbers`);
    return this.data as NumberArray;
  }
  get big(): BigArray {
    if (!this.isBig) throw new EvalError('EVAL_INVALID', `${dataTypeName(this.dtype)} array read as bigints`);
    return this.data as BigArray;
  }

  /** Element `i` as a number (int64 beyond 2^53 loses precision; used for indices and float math). */
  getNumber(i: number): number {
    return Number(this.data[i]);
  }
  /** Element `i` as a bigint (integer dtypes; floats are truncated). */
  getBig(i: number): bigint {
    const v = this.data[i];
    return typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  }
  /** Stores a number, converting for bigint storage (truncating toward zero, as C casts do). */
  setNumber(i: number, v: number): void {
    if (this.isBig) (this.data as BigArray)[i] = toBigInt(v, this.dtype);
    else (this.data as NumberArray)[i] = v;
  }

  /** Same data, other dims (same element count). */
  reshaped(dims: readonly number[]): NdArray {
    if (sizeOf(dims) !== this.size) throw new EvalError('EVAL_INVALID', `cannot view [${this.dims.join(', ')}] as [${dims.join(', ')}]`);
    return new NdArray(this.dtype, [...dims], this.data);
  }

  /** Rounds float16/bfloat16 storage to representable values (after an op computed in float32/64). Idempotent. */
  roundToDtype(): void {
    if (this.dtype === DataType.FLOAT16) {
      roundFloatsToHalf(this.data as Float32Array);
    } else if (this.dtype === DataType.BFLOAT16) {
      const d = this.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = bfloat16ToFloat(floatToBfloat16(d[i]));
    }
  }

  /** Element values as numbers (for ints: indices, axes, shapes). */
  toNumbers(): number[] {
    const out = new Array<number>(this.size);
    for (let i = 0; i < out.length; i++) out[i] = Number(this.data[i]);
    return out;
  }

  toTensor(name = ''): Tensor {
    if (this.source && this.decoded === undefined) return this.source;
    const d = this.data;
    // Plain loops: TypedArray.from with a map function is several times slower in V8.
    if (this.dtype === DataType.FLOAT16 || this.dtype === DataType.BFLOAT16) {
      const f = d as Float32Array;
      const bits = new Uint16Array(f.length);
      if (this.dtype === DataType.FLOAT16) floatsToHalves(f, bits);
      else for (let i = 0; i < f.length; i++) bits[i] = floatToBfloat16(f[i]);
      return RawTensor.fromArray(this.dtype, this.dims, bits, name);
    }
    // Copy: the tensor must not alias storage an evaluator caller might still write.
    return RawTensor.fromArray(this.dtype, this.dims, (d as TensorArray).slice() as TensorArray, name);
  }
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Row-major strides. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** float → int64/uint64 as a C cast would (truncation); NaN and out-of-range give INT64_MIN like x86 does. */
export function toBigInt(v: number, dtype: DataType): bigint {
  if (!Number.isFinite(v)) return dtype === DataType.UINT64 ? 0n : INT64_MIN;
  const b = BigInt(Math.trunc(v));
  if (dtype === DataType.INT64 && (b < INT64_MIN || b > INT64_MAX)) return INT64_MIN;
  return b;
}

type Storage = new (n: number) => NumberArray | BigArray;

function storageFor(dtype: DataType, subject?: string): Storage {
  switch (dtype) {
    case DataType.FLOAT: case DataType.FLOAT16: case DataType.BFLOAT16: return Float32Array;
    case DataType.DOUBLE: return Float64Array;
    case DataType.INT8: return Int8Array;
    case DataType.UINT8: case DataType.BOOL: return Uint8Array;
    case DataType.INT16: return Int16Array;
    case DataType.UINT16: return Uint16Array;
    case DataType.INT32: return Int32Array;
    case DataType.UINT32: return Uint32Array;
    case DataType.INT64: return BigInt64Array;
    case DataType.UINT64: return BigUint64Array;
    default: throw new EvalError('EVAL_UNSUPPORTED', `the evaluator does not handle ${dataTypeName(dtype)} tensors`, subject);
  }
}

function decode(t: Tensor): NumberArray | BigArray {
  if (t.dtype === DataType.FLOAT16 || t.dtype === DataType.BFLOAT16) {
    const bits = t.toArray() as Uint16Array;
    const conv = t.dtype === DataType.FLOAT16 ? halfToFloat : bfloat16ToFloat;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i]);
    return out;
  }
  return t.toArray() as NumberArray | BigArray;
}

/** Numpy broadcasting of several shapes; throws EVAL_INVALID naming the shapes when they do not broadcast. */
export function broadcastDims(shapes: readonly (readonly number[])[], subject?: string): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      const d = s[i];
      if (d === out[at] || d === 1) continue;
      if (out[at] === 1) out[at] = d;
      else throw new EvalError('EVAL_INVALID', `shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')} do not broadcast`, subject);
    }
  }
  return out;
}

/**
 * For each flat index of `outDims`, the flat index into an input of `inDims` broadcast to it
 * (null when the input already has the output's shape).
 */
export function broadcastIndex(outDims: readonly number[], inDims: readonly number[]): Int32Array | null {
  const n = sizeOf(outDims);
  if (inDims.length === outDims.length && inDims.every((d, i) => d === outDims[i])) return null;
  const rank = outDims.length;
  const inStrides = stridesOf(inDims);
  // Stride 0 along broadcast (size-1 or missing) axes.
  const strides = new Array<number>(rank).fill(0);
  for (let i = 0; i < inDims.length; i++) {
    const at = rank - inDims.length + i;
    strides[at] = inDims[i] === 1 ? 0 : inStrides[i];
  }
  const map = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let k = 0; k < n; k++) {
    map[k] = offset;
    for (let ax = rank - 1; ax >= 0; ax--) {
      counter[ax]++;
      offset += strides[ax];
      if (counter[ax] < outDims[ax]) break;
      offset -= strides[ax] * counter[ax];
      counter[ax] = 0;
    }
  }
  return map;
}

/** Normalises a possibly negative axis against `rank`, or throws EVAL_INVALID. */
export function normaliseAxis(axis: number, rank: number, subject?: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new EvalError('EVAL_INVALID', `axis ${axis} is out of range for rank ${rank}`, subject);
  return a;
}
