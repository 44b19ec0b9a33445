import * as fs from 'fs';
import { DataType, bitsPerElement, byteSizeOf, dataTypeName } from './dtype';
import { bfloat16ToFloat, halfToFloat } from './float16';
import { ExternalDataError, IrError } from './errors';
import { resolveConfinedPath } from './external-path';

export type TensorArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array;

/** Where the bytes of an external tensor live (ONNX `external_data` entries, already validated). */
export interface ExternalLocation {
  /** Location as written in the file, relative to the model's folder. */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
  /** The model's folder the location is confined to. */
  readonly baseDir: string;
  /** Other key/value entries (e.g. checksum), kept for the round trip. */
  readonly extra?: ReadonlyArray<readonly [string, string]>;
}

/**
 * A tensor: dtype, dims and lazily available bytes. Tensors are immutable; passes make new ones.
 * Subclasses differ only in where the bytes come from.
 */
export abstract class Tensor {
  docString = '';
  metadata = new Map<string, string>();
  /** Raw wire bytes of fields this schema does not know, re-emitted on save. */
  unknownFields: Uint8Array[] = [];

  protected constructor(
    readonly dtype: DataType,
    readonly dims: readonly number[],
    public name = '',
  ) {}

  get numElements(): number {
    let n = 1;
    for (const d of this.dims) n *= d;
    return n;
  }

  /** Packed size in bytes (what raw_data would hold). */
  get byteLength(): number {
    return byteSizeOf(this.dtype, this.numElements);
  }

  /** True when the bytes live in an external file and have not been read. */
  get isExternal(): boolean {
    return false;
  }

  /** Little-endian packed bytes, as ONNX raw_data holds them. External data is read here, not before. */
  abstract bytes(): Uint8Array;

  /** The values as the natural typed array (FLOAT16/BFLOAT16 as raw Uint16 bits, BOOL as Uint8). */
  toArray(): TensorArray {
    const raw = this.bytes();
    const ctor = typedArrayFor(this.dtype);
    if (!ctor) throw new IrError('IR_TENSOR_DTYPE', `cannot view ${dataTypeName(this.dtype)} tensor '${this.name}' as an array`, this.name);
    const n = this.numElements;
    const aligned = raw.byteOffset % ctor.BYTES_PER_ELEMENT === 0 ? raw : raw.slice();
    return new ctor(aligned.buffer, aligned.byteOffset, n);
  }

  /** Values as float64 numbers (decoding half/bfloat16; int64 converted, exact below 2^53). */
  toNumbers(): number[] {
    const a = this.toArray();
    const out = new Array<number>(a.length);
    if (this.dtype === DataType.FLOAT16) for (let i = 0; i < a.length; i++) out[i] = halfToFloat(a[i] as number);
    else if (this.dtype === DataType.BFLOAT16) for (let i = 0; i < a.length; i++) out[i] = bfloat16ToFloat(a[i] as number);
    else for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
    return out;
  }

  /** Values as bigint (integer dtypes only), exact for int64. */
  toBigInts(): bigint[] {
    const a = this.toArray();
    return Array.from(a as ArrayLike<number | bigint>, (v) => BigInt(v));
  }
}

/** Bytes held in memory: a view of the model file (raw_data) or of a buffer a pass made. */
export class RawTensor extends Tensor {
  constructor(dtype: DataType, dims: readonly number[], private readonly raw: Uint8Array, name = '') {
    super(dtype, dims, name);
    const bits = bitsPerElement(dtype);
    if (bits === undefined) throw new IrError('IR_TENSOR_DTYPE', `raw tensor '${name}' has data type ${dataTypeName(dtype)} without a fixed size`, name);
    const want = byteSizeOf(dtype, this.numElements);
    if (raw.byteLength !== want) {
      throw new IrError('IR_TENSOR_SIZE', `tensor '${name}' of ${dataTypeName(dtype)}[${dims.join(',')}] needs ${want} bytes, has ${raw.byteLength}`, name);
    }
  }

  bytes(): Uint8Array {
    return this.raw;
  }

  static fromArray(dtype: DataType, dims: readonly number[], values: TensorArray, name = ''): RawTensor {
    return new RawTensor(dtype, dims, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), name);
  }
}

/** STRING tensors (each element raw bytes, usually UTF-8). */
export class StringTensor extends Tensor {
  constructor(dims: readonly number[], readonly strings: readonly Uint8Array[], name = '') {
    super(DataType.STRING, dims, name);
  }
  override get byteLength(): number {
    return this.strings.reduce((s, b) => s + b.byteLength, 0);
  }
  bytes(): Uint8Array {
    throw new IrError('IR_TENSOR_DTYPE', `STRING tensor '${this.name}' has no raw bytes`, this.name);
  }
}

/** Bytes in an external file, read only when asked for (and then cached). */
export class ExternalTensor extends Tensor {
  private cached: Uint8Array | undefined;
  private _external: ExternalLocation;

  constructor(dtype: DataType, dims: readonly number[], external: ExternalLocation, name = '') {
    super(dtype, dims, name);
    this._external = external;
    const want = byteSizeOf(dtype, this.numElements);
    if (external.length !== want) {
      throw new ExternalDataError('EXTERNAL_SIZE', `external tensor '${name}' of ${dataTypeName(dtype)}[${dims.join(',')}] needs ${want} bytes, its length is ${external.length}`, name);
    }
  }

  /** Where the bytes are. */
  get external(): ExternalLocation {
    return this._external;
  }

  /**
   * @internal A save rewrote the file this tensor reads from: the same bytes now live at `external`.
   * The tensor's value does not change, only where it is read from.
   */
  _rebind(external: ExternalLocation): void {
    if (external.length !== this._external.length) throw new IrError('IR_TENSOR_SIZE', `cannot rebind tensor '${this.name}' to ${external.length} bytes`, this.name);
    this._external = external;
  }

  override get isExternal(): boolean {
    return this.cached === undefined;
  }

  /** Absolute path of the data file, confined to the model folder (links leaving it are refused). */
  dataPath(): string {
    return resolveConfinedPath(this.external.baseDir, this.external.location);
  }

  bytes(): Uint8Array {
    if (this.cached) return this.cached;
    const file = this.dataPath();
    const { offset, length } = this.external;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new ExternalDataError('EXTERNAL_MISSING', `cannot open external data '${this.external.location}' of tensor '${this.name}': ${(e as Error).message}`, this.name);
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new ExternalDataError('EXTERNAL_MISSING', `external data '${this.external.location}' of tensor '${this.name}' is not a regular file`, this.name);
      if (offset + length > stat.size) {
        throw new ExternalDataError('EXTERNAL_RANGE', `tensor '${this.name}' reads bytes ${offset}..${offset + length} of '${this.external.location}', which has ${stat.size}`, this.name);
      }
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          n = fs.readSync(fd, buf, done, length - done, offset + done);
        } catch (e) {
          throw new ExternalDataError('EXTERNAL_READ', `cannot read external data '${this.external.location}' of tensor '${this.name}': ${(e as Error).message}`, this.name);
        }
        if (n <= 0) throw new ExternalDataError('EXTERNAL_RANGE', `short read of '${this.external.location}' for tensor '${this.name}'`, this.name);
        done += n;
      }
      this.cached = buf;
      return buf;
    } finally {
      fs.closeSync(fd);
    }
  }
}

function typedArrayFor(dtype: DataType):
  | (new (buf: ArrayBufferLike, off: number, len: number) => TensorArray) & { BYTES_PER_ELEMENT: number }
  | undefined {
  switch (dtype) {
    case DataType.FLOAT: return Float32Array;
    case DataType.DOUBLE: return Float64Array;
    case DataType.INT8: return Int8Array;
    case DataType.UINT8: case DataType.BOOL: return Uint8Array;
    case DataType.INT16: return Int16Array;
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16: return Uint16Array;
    case DataType.INT32: return Int32Array;
    case DataType.UINT32: return Uint32Array;
    case DataType.INT64: return BigInt64Array;
    case DataType.UINT64: return BigUint64Array;
    case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ: case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ:
    case DataType.FLOAT8E8M0: return Uint8Array;
    default: return undefined;
  }
}

/** Convenience constructors used by passes and tests. */
export const tensor = {
  float32: (dims: readonly number[], values: ArrayLike<number>, name = '') =>
    RawTensor.fromArray(DataType.FLOAT, dims, Float32Array.from(values), name),
  int64: (dims: readonly number[], values: ArrayLike<number | bigint>, name = '') =>
    RawTensor.fromArray(DataType.INT64, dims, BigInt64Array.from(Array.from(values, (v) => BigInt(v))), name),
  int32: (dims: readonly number[], values: ArrayLike<number>, name = '') =>
    RawTensor.fromArray(DataType.INT32, dims, Int32Array.from(values), name),
  bool: (dims: readonly number[], values: ArrayLike<boolean | number>, name = '') =>
    RawTensor.fromArray(DataType.BOOL, dims, Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0))), name),
};
