import { DataType, bitsPerElement, byteSizeOf, dataTypeName, isKnownDataType } from '../dtype';
import { SerdeError } from '../errors';
import { checkExternalLocation } from '../external-path';
import { ExternalTensor, RawTensor, StringTensor, Tensor } from '../tensor';
import { Msg, entries, get, toSafeNumber } from './proto-access';

/**
 * Largest element count, and byte size, a tensor may claim (2^53 - 1, so sizes stay exact numbers); anything
 * larger is refused while reading the dims, before a byte is allocated.
 */
const MAX_ELEMENTS = Number.MAX_SAFE_INTEGER;

export interface TensorDecodeContext {
  /** Folder external data locations are relative to; undefined when decoding bytes without a file. */
  baseDir: string | undefined;
}

export function decodeDims(m: Msg, field: string, what: string, bitsPerElement = 8): number[] {
  const raw = get.nums(m, field);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < raw.length; i++) {
    const d = toSafeNumber(raw[i], `${what} dim ${i}`);
    if (d < 0) throw new SerdeError('SERDE_SHAPE', `${what} has a negative dimension ${d}`, what);
    dims.push(d);
    count *= d;
  }
  if (count > MAX_ELEMENTS || (count * bitsPerElement) / 8 > MAX_ELEMENTS) {
    throw new SerdeError('SERDE_TOO_LARGE', `${what} claims ${count} elements`, what);
  }
  return dims;
}

/** TensorProto → Tensor. raw_data stays a view of the file; external data is not touched. */
export function decodeTensor(m: Msg, ctx: TensorDecodeContext): Tensor {
  const name = get.str(m, 'name');
  const what = `tensor '${name}'`;
  const code = get.int(m, 'data_type', what);
  if (!isKnownDataType(code) || code === DataType.UNDEFINED) {
    throw new SerdeError('SERDE_DTYPE', `${what} has unknown or undefined data type ${code}`, name);
  }
  const dtype = code as DataType;
  const dims = decodeDims(m, 'dims', what, bitsPerElement(dtype) ?? 8);
  if (get.has(m, 'segment')) throw new SerdeError('SERDE_UNSUPPORTED', `${what} is segmented (TensorProto.segment), which is not supported`, name);
  const count = dims.reduce((a, b) => a * b, 1);
  let t: Tensor;
  const location = get.int(m, 'data_location', what);
  if (location !== 0 && location !== 1) throw new SerdeError('SERDE_TENSOR_DATA', `${what} has unknown data_location ${location}`, name);
  if (location === 1) {
    if (dtype === DataType.STRING) throw new SerdeError('SERDE_EXTERNAL', `${what} is a STRING tensor with external data, which ONNX does not allow`, name);
    t = decodeExternal(m, dtype, dims, name, ctx);
  } else if (dtype === DataType.STRING) {
    const strings = get.bytesList(m, 'string_data');
    if (strings.length !== count) throw new SerdeError('SERDE_TENSOR_DATA', `${what} has ${strings.length} strings for ${count} elements`, name);
    t = new StringTensor(dims, strings, name);
  } else {
    const raw = get.bytes(m, 'raw_data');
    const want = byteSizeOf(dtype, count);
    if (raw !== undefined) {
      if (raw.byteLength !== want) {
        throw new SerdeError('SERDE_TENSOR_DATA', `${what} of ${dataTypeName(dtype)}[${dims.join(',')}] needs ${want} bytes of raw_data, has ${raw.byteLength}`, name);
      }
      t = new RawTensor(dtype, dims, raw, name);
    } else {
      t = new RawTensor(dtype, dims, typedFieldBytes(m, dtype, count, what), name);
    }
  }
  t.docString = get.str(m, 'doc_string');
  for (const [k, v] of entries(m, 'metadata_props')) t.metadata.set(k, v);
  t.unknownFields = get.unknown(m);
  return t;
}

function decodeExternal(m: Msg, dtype: DataType, dims: number[], name: string, ctx: TensorDecodeContext): Tensor {
  const info = entries(m, 'external_data');
  const location = info.get('location');
  if (location === undefined) throw new SerdeError('SERDE_EXTERNAL', `external tensor '${name}' has no location`, name);
  checkExternalLocation(location);
  const parse = (key: string): number | undefined => {
    const s = info.get(key);
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s)) throw new SerdeError('SERDE_EXTERNAL', `external tensor '${name}' has a bad ${key} '${s}'`, name);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new SerdeError('SERDE_EXTERNAL', `external tensor '${name}' ${key} ${s} is too large`, name);
    return n;
  };
  const offset = parse('offset') ?? 0;
  const want = byteSizeOf(dtype, dims.reduce((a, b) => a * b, 1));
  const length = parse('length') ?? want;
  const extra = [...info].filter(([k]) => k !== 'location' && k !== 'offset' && k !== 'length');
  if (length !== want) {
    throw new SerdeError('SERDE_EXTERNAL', `external tensor '${name}' of ${dataTypeName(dtype)}[${dims.join(',')}] needs ${want} bytes, its length is ${length}`, name);
  }
  return new ExternalTensor(dtype, dims, { location, offset, length, baseDir: ctx.baseDir ?? '.', extra }, name);
}

/** Typed *_data fields → packed little-endian bytes (bounded by the decoded data itself). */
function typedFieldBytes(m: Msg, dtype: DataType, count: number, what: string): Uint8Array {
  const need = (field: string, n: number): ArrayLike<number | bigint> => {
    const v = get.nums(m, field);
    if (v.length !== n) throw new SerdeError('SERDE_TENSOR_DATA', `${what} has ${v.length} values in ${field} for ${n} expected`, what);
    return v;
  };
  const bits = bitsPerElement(dtype) as number;
  switch (dtype) {
    case DataType.FLOAT: return bytesOf(Float32Array.from(need('float_data', count), Number));
    case DataType.COMPLEX64: return bytesOf(Float32Array.from(need('float_data', count * 2), Number));
    case DataType.DOUBLE: return bytesOf(Float64Array.from(need('double_data', count), Number));
    case DataType.COMPLEX128: return bytesOf(Float64Array.from(need('double_data', count * 2), Number));
    case DataType.INT64: return bytesOf(BigInt64Array.from(need('int64_data', count), (x) => BigInt.asIntN(64, BigInt(x))));
    case DataType.UINT64: return bytesOf(BigUint64Array.from(need('uint64_data', count), (x) => BigInt.asUintN(64, BigInt(x))));
    case DataType.UINT32: return bytesOf(Uint32Array.from(need('uint64_data', count), Number));
    case DataType.INT32: return bytesOf(Int32Array.from(need('int32_data', count), Number));
    case DataType.INT16: return bytesOf(Int16Array.from(need('int32_data', count), Number));
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16:
      return bytesOf(Uint16Array.from(need('int32_data', count), Number));
    case DataType.INT8: return bytesOf(Int8Array.from(need('int32_data', count), Number));
    default:
      if (bits === 8) return Uint8Array.from(need('int32_data', count), Number);
      if (bits === 4 || bits === 2) {
        // Sub-byte types are stored packed in int32_data, one byte per int32 entry.
        const n = Math.ceil((count * bits) / 8);
        return Uint8Array.from(need('int32_data', n), Number);
      }
      throw new SerdeError('SERDE_DTYPE', `${what} of ${dataTypeName(dtype)} has no typed data field`, what);
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
