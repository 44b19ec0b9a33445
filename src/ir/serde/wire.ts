/**
 * Reflection-driven protobuf wire codec for the ONNX schema (proto level only: no IR classes).
 *
 * The schema (`onnx.proto`, next to this file in src/ and copied next to the compiled file in dist/)
 * is parsed once, lazily, with protobufjs; the reflected `Type`s/`Field`s are turned into per-type
 * tables (field number -> name, kind, label, packing, message table). Decoding and encoding are done
 * by this module on the raw bytes, not by protobufjs' generated code, because we need things
 * protobufjs' Reader/Writer do not give: exact 64-bit integers as `bigint` (its Reader yields Long or
 * a lossy number), bytes fields that are views of the input (never copies), unknown fields kept as
 * raw bytes, every malformed input reported as a `SerdeError` (its Reader throws RangeError), a
 * nesting limit, and an encoder that can hand big payloads back as separate, uncopied chunks.
 *
 * ## ProtoMessage representation
 *
 * A message is a plain object keyed by the **proto field names as written in the schema**
 * (snake_case: `raw_data`, `dim_value`, `opset_import`...). Absent fields are absent (`undefined`),
 * so presence is known (proto2). Values by field type:
 *
 * | schema type                                   | singular            | repeated                       |
 * |-----------------------------------------------|---------------------|--------------------------------|
 * | int32, sint32, sfixed32, uint32, fixed32, enum | `number`            | `number[]`                     |
 * | int64, sint64, sfixed64, uint64, fixed64      | `bigint` (exact)    | `bigint[]`                     |
 * | float, double                                 | `number`            | `number[]`                     |
 * | bool                                          | `boolean`           | `boolean[]`                    |
 * | string                                        | `string`            | `string[]`                     |
 * | bytes                                         | `Uint8Array` (view) | `Uint8Array[]` (views)         |
 * | message                                       | `ProtoMessage`      | `ProtoMessage[]`               |
 *
 * Exception, for bulk data: repeated numeric fields that the schema declares `[packed = true]`
 * (in ONNX exactly the `TensorProto.*_data` payload fields) decode to typed arrays:
 * float -> `Float32Array`, double -> `Float64Array`, int32/sint32/sfixed32/enum -> `Int32Array`,
 * uint32/fixed32 -> `Uint32Array`, int64/sint64/sfixed64 -> `BigInt64Array`,
 * uint64/fixed64 -> `BigUint64Array` (packed bool stays `boolean[]`). Typed arrays are fresh copies
 * (the wire data need not be aligned), bytes fields are `subarray` views of the decoded input.
 * The encoder accepts either plain arrays or typed arrays for any repeated numeric field, and
 * `number` (safe integer) or `bigint` for any integer field.
 *
 * Fields the schema does not know are kept, in wire order, as raw wire bytes (tag + value; views of
 * the input) in `$unknown: Uint8Array[]`, and the encoder writes them back after the known fields.
 *
 * Wire semantics follow protobuf: for a singular field the last occurrence wins, a singular message
 * field that occurs several times is merged, setting one member of a `oneof` clears the others, and
 * repeated numeric fields are accepted both packed and unpacked. A known field with an unexpected wire
 * type is an error (protobuf would treat it as unknown). Enum values are kept as plain numbers, known
 * or not.
 *
 * Short ASCII strings are decoded through a small shared intern cache, so repeated value names, op
 * types and attribute names share one string (less memory and GC work for big graphs).
 *
 * The encoder writes fields in field-number order, packed exactly where the schema says
 * `[packed = true]` (upstream ONNX is proto2: unpacked by default, packed only for the tensor payload
 * fields), then `$unknown`; this is byte-identical to what protobuf (C++/Python) writes for the same
 * message, so decode -> encode of a canonical file reproduces it byte for byte.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { SerdeError } from '../errors';

// Hot-path globals, bound once. Under jest (a vm context) every global lookup goes through the
// context's interceptors and is many times slower than a module-level binding.
const U8 = Uint8Array;
const F32 = Float32Array;
const F64 = Float64Array;
const I32 = Int32Array;
const U32 = Uint32Array;
const BI64 = BigInt64Array;
const BU64 = BigUint64Array;
const DV = DataView;
const isArray = Array.isArray;
const isView = ArrayBuffer.isView;
const toBigInt = BigInt;
const asIntN = BigInt.asIntN;
const asUintN = BigInt.asUintN;
const isSafeInteger = Number.isSafeInteger;
const isInteger = Number.isInteger;
const clz32 = Math.clz32;
const ceil = Math.ceil;
const max = Math.max;
const min = Math.min;
const imul = Math.imul;

// ---------------------------------------------------------------------------------------------
// Public types

/** Typed arrays used for packed (bulk) numeric repeated fields. */
export type ProtoTypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;
/** A scalar field value. */
export type ProtoScalar = number | bigint | boolean | string | Uint8Array;
/** Any field value. */
export type ProtoValue = ProtoScalar | ProtoMessage | ProtoTypedArray | ProtoScalar[] | ProtoMessage[];

/** A decoded message: proto (snake_case) field name -> value; see the module documentation. */
export interface ProtoMessage {
  [field: string]: ProtoValue | undefined;
  /** Fields unknown to the schema, each as its raw wire bytes (tag + value), in wire order. */
  $unknown?: Uint8Array[];
}

/** Deepest message nesting accepted by the decoder and the encoder (the top-level message is level 1). */
export const MAX_PROTO_DEPTH = 64;

/** Names of `onnx.TensorProto.DataType` values (checked against the schema by the tests). */
export type DataTypeName =
  | 'UNDEFINED' | 'FLOAT' | 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'INT32' | 'INT64' | 'STRING' | 'BOOL'
  | 'FLOAT16' | 'DOUBLE' | 'UINT32' | 'UINT64' | 'COMPLEX64' | 'COMPLEX128' | 'BFLOAT16'
  | 'FLOAT8E4M3FN' | 'FLOAT8E4M3FNUZ' | 'FLOAT8E5M2' | 'FLOAT8E5M2FNUZ' | 'UINT4' | 'INT4' | 'FLOAT4E2M1'
  | 'FLOAT8E8M0' | 'UINT2' | 'INT2';

/** Names of `onnx.AttributeProto.AttributeType` values (checked against the schema by the tests). */
export type AttributeTypeName =
  | 'UNDEFINED' | 'FLOAT' | 'INT' | 'STRING' | 'TENSOR' | 'GRAPH' | 'SPARSE_TENSOR' | 'TYPE_PROTO'
  | 'FLOATS' | 'INTS' | 'STRINGS' | 'TENSORS' | 'GRAPHS' | 'SPARSE_TENSORS' | 'TYPE_PROTOS';

// ---------------------------------------------------------------------------------------------
// Schema tables

const K_DOUBLE = 1;
const K_FLOAT = 2;
const K_INT64 = 3;
const K_UINT64 = 4;
const K_INT32 = 5;
const K_FIXED64 = 6;
const K_FIXED32 = 7;
const K_BOOL = 8;
const K_STRING = 9;
const K_BYTES = 10;
const K_MESSAGE = 11;
const K_UINT32 = 12;
const K_ENUM = 13;
const K_SFIXED32 = 14;
const K_SFIXED64 = 15;
const K_SINT32 = 16;
const K_SINT64 = 17;

const SCALAR_KINDS: Record<string, number> = {
  double: K_DOUBLE, float: K_FLOAT, int64: K_INT64, uint64: K_UINT64, int32: K_INT32, fixed64: K_FIXED64,
  fixed32: K_FIXED32, bool: K_BOOL, string: K_STRING, bytes: K_BYTES, uint32: K_UINT32, sfixed32: K_SFIXED32,
  sfixed64: K_SFIXED64, sint32: K_SINT32, sint64: K_SINT64,
};

const W_VARINT = 0;
const W_I64 = 1;
const W_LEN = 2;
const W_SGROUP = 3;
const W_EGROUP = 4;
const W_I32 = 5;

function wireTypeOf(kind: number): number {
  switch (kind) {
    case K_DOUBLE: case K_FIXED64: case K_SFIXED64: return W_I64;
    case K_FLOAT: case K_FIXED32: case K_SFIXED32: return W_I32;
    case K_STRING: case K_BYTES: case K_MESSAGE: return W_LEN;
    default: return W_VARINT;
  }
}

/** Typed-array representation codes for packed fields (0 = plain JS array). */
const TA_NONE = 0;
const TA_F32 = 1;
const TA_F64 = 2;
const TA_I32 = 3;
const TA_U32 = 4;
const TA_I64 = 5;
const TA_U64 = 6;

function typedCodeOf(kind: number): number {
  switch (kind) {
    case K_FLOAT: return TA_F32;
    case K_DOUBLE: return TA_F64;
    case K_INT32: case K_SINT32: case K_SFIXED32: case K_ENUM: return TA_I32;
    case K_UINT32: case K_FIXED32: return TA_U32;
    case K_INT64: case K_SINT64: case K_SFIXED64: return TA_I64;
    case K_UINT64: case K_FIXED64: return TA_U64;
    default: return TA_NONE;
  }
}

function newTyped(code: number, n: number): ProtoTypedArray {
  switch (code) {
    case TA_F32: return new F32(n);
    case TA_F64: return new F64(n);
    case TA_I32: return new I32(n);
    case TA_U32: return new U32(n);
    case TA_I64: return new BI64(n);
    default: return new BU64(n);
  }
}

interface FieldInfo {
  readonly name: string;
  readonly number: number;
  readonly kind: number;
  /** Wire type of one element. */
  readonly wire: number;
  readonly repeated: boolean;
  /** Repeated scalar numeric (may arrive packed). */
  readonly packable: boolean;
  /** Encoded packed (schema says [packed = true]). */
  readonly packed: boolean;
  /** Typed-array code for decoding (non-zero only for packed numeric fields). */
  readonly typed: number;
  /** Tag of one element: number << 3 | wire. */
  readonly tag: number;
  /** Tag of a length-delimited record: number << 3 | 2. */
  readonly lenTag: number;
  /** Other members of the same oneof, or null. */
  readonly siblings: readonly string[] | null;
  /** Message table (set after all tables exist), for K_MESSAGE. */
  message: TypeTable | null;
  /** Qualified name for messages: Type.field */
  readonly path: string;
}

interface TypeTable {
  readonly fullName: string;
  /** Field by number, dense for small numbers. */
  readonly byNumber: (FieldInfo | null)[];
  /** Fields with large numbers, or null. */
  readonly byNumberBig: Map<number, FieldInfo> | null;
  /** Fields in ascending field-number order. */
  readonly fields: readonly FieldInfo[];
  readonly byName: ReadonlyMap<string, FieldInfo>;
  /** Repeated fields decoded to plain JS arrays. */
  readonly plainRepeated: readonly FieldInfo[];
}

const DENSE_LIMIT = 1024;

function fullNameOf(t: protobuf.ReflectionObject): string {
  return t.fullName.startsWith('.') ? t.fullName.slice(1) : t.fullName;
}

function buildTables(root: protobuf.Root): Map<string, TypeTable> {
  const types: protobuf.Type[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) types.push(obj);
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) visit(obj);
    }
  };
  visit(root);
  const tables = new Map<string, TypeTable>();
  const pending: [FieldInfo, protobuf.Type][] = [];
  for (const type of types) {
    const typeName = fullNameOf(type);
    const fields: FieldInfo[] = [];
    for (const f of type.fieldsArray) {
      if (f instanceof protobuf.MapField || f.map) {
        throw new SerdeError('SERDE_SCHEMA', `map fields are not supported by the wire codec: ${typeName}.${f.name}`);
      }
      if (f.delimited) {
        throw new SerdeError('SERDE_SCHEMA', `group fields are not supported by the wire codec: ${typeName}.${f.name}`);
      }
      const rt = f.resolvedType;
      let kind: number;
      if (rt instanceof protobuf.Type) kind = K_MESSAGE;
      else if (rt instanceof protobuf.Enum) kind = K_ENUM;
      else {
        const k = SCALAR_KINDS[f.type];
        if (k === undefined) throw new SerdeError('SERDE_SCHEMA', `unsupported field type ${f.type} at ${typeName}.${f.name}`);
        kind = k;
      }
      const wire = wireTypeOf(kind);
      const repeated = f.repeated;
      const packable = repeated && wire !== W_LEN;
      const packed = packable && f.packed;
      const oneof = f.partOf;
      const siblings = oneof ? oneof.oneof.filter((n) => n !== f.name) : null;
      const info: FieldInfo = {
        name: f.name,
        number: f.id,
        kind,
        wire,
        repeated,
        packable,
        packed,
        typed: packed ? typedCodeOf(kind) : TA_NONE,
        tag: ((f.id << 3) | wire) >>> 0,
        lenTag: ((f.id << 3) | W_LEN) >>> 0,
        siblings: siblings && siblings.length > 0 ? siblings : null,
        message: null,
        path: `${typeName}.${f.name}`,
      };
      if (kind === K_MESSAGE) pending.push([info, rt as protobuf.Type]);
      fields.push(info);
    }
    fields.sort((a, b) => a.number - b.number);
    let maxDense = 0;
    for (const f of fields) if (f.number < DENSE_LIMIT && f.number > maxDense) maxDense = f.number;
    const byNumber: (FieldInfo | null)[] = new Array<FieldInfo | null>(maxDense + 1).fill(null);
    let byNumberBig: Map<number, FieldInfo> | null = null;
    for (const f of fields) {
      if (f.number < DENSE_LIMIT) byNumber[f.number] = f;
      else (byNumberBig ??= new Map()).set(f.number, f);
    }
    tables.set(typeName, {
      fullName: typeName,
      byNumber,
      byNumberBig,
      fields,
      byName: new Map(fields.map((f) => [f.name, f])),
      plainRepeated: fields.filter((f) => f.repeated && f.typed === TA_NONE),
    });
  }
  for (const [info, type] of pending) info.message = tables.get(fullNameOf(type)) ?? null;
  return tables;
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers

const LITTLE_ENDIAN = new U8(new Uint16Array([1]).buffer)[0] === 1;
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();
const TWO_32 = 4294967296;

/**
 * Node's native `Buffer.prototype.utf8Slice` / `latin1Slice` (callable on any Uint8Array) are much
 * faster than TextDecoder for the many short names of a graph. They are not documented API, so they are
 * feature-tested here, and TextDecoder / String.fromCharCode are used where they are missing.
 */
type NativeSlice = (this: Uint8Array, start: number, end: number) => string;
function nativeSlice(name: 'utf8Slice' | 'latin1Slice', probe: number[], start: number, end: number, expect: (s: string) => boolean): NativeSlice | null {
  const fn = (globalThis as { Buffer?: { prototype?: Record<string, unknown> } }).Buffer?.prototype?.[name];
  if (typeof fn !== 'function') return null;
  try {
    return expect((fn as NativeSlice).call(new U8(probe), start, end)) ? (fn as NativeSlice) : null;
  } catch {
    return null;
  }
}
/** UTF-8 decode that replaces invalid sequences with U+FFFD (and keeps a BOM). */
const NATIVE_UTF8_SLICE = nativeSlice('utf8Slice', [0x78, 0xc3, 0xa9, 0xef, 0xbb, 0xbf, 0xff, 0x79], 1, 7, (s) => s === '\u00e9\ufeff\ufffd');
/** One char per byte. */
const NATIVE_LATIN1_SLICE = nativeSlice('latin1Slice', [0x61, 0x62, 0x63], 1, 3, (s) => s === 'bc');

/** String intern cache (shared by all decodes; entries are always verified byte for byte). */
const INTERN_MAX_LEN = 64;
const INTERN_MASK = 8191;
const INTERN_STRINGS: (string | undefined)[] = new Array<string | undefined>(INTERN_MASK + 1).fill(undefined);
const INTERN_HASHES = new I32(INTERN_MASK + 1);

/** Preallocated bigints for small values (dims, attribute ints...), so decoding does not allocate them. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => toBigInt(i));
const MINUS_ONE = -1n;

function int64FromParts(lo: number, hi: number): bigint {
  if (hi === 0 && lo < 1024) return SMALL_BIGINTS[lo]!;
  const hs = hi | 0;
  if (hs === -1 && lo === 0xffffffff) return MINUS_ONE;
  if (hs >= -0x200000 && hs < 0x200000) return toBigInt(hs * TWO_32 + lo);
  return asIntN(64, (toBigInt(hi >>> 0) << 32n) | toBigInt(lo));
}

function uint64FromParts(lo: number, hi: number): bigint {
  if (hi === 0 && lo < 1024) return SMALL_BIGINTS[lo]!;
  if (hi < 0x200000) return toBigInt(hi * TWO_32 + lo);
  return (toBigInt(hi) << 32n) | toBigInt(lo);
}

function fail(code: string, message: string, subject?: string): never {
  throw new SerdeError(code, message, subject);
}

/** Decode-side "typed parts": pieces of a packed field collected before the final typed array is built. */
type TypedPart = ProtoTypedArray | number | bigint;

// ---------------------------------------------------------------------------------------------
// Decoder

class Decoder {
  pos = 0;
  lo = 0;
  hi = 0;
  private readonly view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.view = new DV(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private truncated(end: number, what: string, type: TypeTable): never {
    return fail('SERDE_TRUNCATED', `truncated ${what} at byte ${this.pos} (limit ${end}) in ${type.fullName}`, type.fullName);
  }

  /** Reads a varint (up to 10 bytes) into lo/hi (unsigned 32-bit halves). */
  varint(end: number, type: TypeTable): void {
    const buf = this.buf;
    let p = this.pos;
    if (p >= end) this.truncated(end, 'varint', type);
    let b = buf[p++]!;
    if (b < 0x80) {
      this.lo = b;
      this.hi = 0;
      this.pos = p;
      return;
    }
    let lo = b & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (p >= end) this.truncated(end, 'varint', type);
      b = buf[p++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        this.pos = p;
        return;
      }
    }
    if (p >= end) this.truncated(end, 'varint', type);
    b = buf[p++]!;
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >>> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) {
          this.pos = p;
          fail('SERDE_BAD_VARINT', `varint longer than 10 bytes at byte ${p} in ${type.fullName}`, type.fullName);
        }
        if (p >= end) this.truncated(end, 'varint', type);
        b = buf[p++]!;
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = p;
  }

  /** Reads a length prefix and checks it against the bytes left before `end`. */
  length(end: number, type: TypeTable): number {
    this.varint(end, type);
    const len = this.lo;
    if (this.hi !== 0 || len > end - this.pos) {
      fail('SERDE_TRUNCATED', `length ${this.hi !== 0 ? '>= 2^32' : len} at byte ${this.pos} runs past the end (${end - this.pos} bytes left) in ${type.fullName}`, type.fullName);
    }
    return len;
  }

  string(len: number, f: FieldInfo): string {
    const buf = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    if (len === 0) return '';
    if (len <= INTERN_MAX_LEN) {
      // Short ASCII strings go through a small direct-mapped cache: graphs repeat value names (one
      // output, several inputs, value_info), op types, domains and attribute names, so most lookups hit
      // and the decoded tree shares one string instead of allocating a copy per occurrence.
      let h = 0x811c9dc5 ^ len;
      let high = 0;
      for (let i = start; i < end; i++) {
        const c = buf[i]!;
        high |= c;
        h = imul(h ^ c, 0x01000193);
      }
      if (high < 0x80) {
        const slot = (h ^ (h >>> 15)) & INTERN_MASK;
        const cached = INTERN_STRINGS[slot];
        if (cached !== undefined && INTERN_HASHES[slot] === h && cached.length === len) {
          let same = true;
          for (let i = 0; i < len; i++) {
            if (cached.charCodeAt(i) !== buf[start + i]) {
              same = false;
              break;
            }
          }
          if (same) return cached;
        }
        const s = NATIVE_LATIN1_SLICE !== null ? NATIVE_LATIN1_SLICE.call(buf, start, end) : String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
        INTERN_STRINGS[slot] = s;
        INTERN_HASHES[slot] = h;
        return s;
      }
    }
    if (NATIVE_UTF8_SLICE !== null) {
      // Fast native decode (replaces invalid sequences with U+FFFD); a string with a U+FFFD is
      // re-checked strictly, so invalid UTF-8 is still an error and a genuine U+FFFD is kept.
      const s = NATIVE_UTF8_SLICE.call(buf, start, end);
      if (s.indexOf('\uFFFD') === -1) return s;
    }
    try {
      return UTF8_DECODER.decode(buf.subarray(start, end));
    } catch {
      return fail('SERDE_BAD_UTF8', `invalid UTF-8 in string field ${f.path} at byte ${start}`, f.path);
    }
  }

  /** Skips one field value of wire type `wt` (the tag already read); groups are skipped whole. */
  skip(wt: number, fno: number, end: number, depth: number, type: TypeTable): void {
    switch (wt) {
      case W_VARINT:
        this.varint(end, type);
        return;
      case W_I64:
        if (end - this.pos < 8) this.truncated(end, 'fixed64', type);
        this.pos += 8;
        return;
      case W_I32:
        if (end - this.pos < 4) this.truncated(end, 'fixed32', type);
        this.pos += 4;
        return;
      case W_LEN: {
        const len = this.length(end, type); // (read before updating pos: length() moves it)
        this.pos += len;
        return;
      }
      case W_SGROUP:
        this.skipGroup(fno, end, depth, type);
        return;
      case W_EGROUP:
        return fail('SERDE_BAD_GROUP', `unexpected end-group tag (field ${fno}) at byte ${this.pos} in ${type.fullName}`, type.fullName);
      default:
        return fail('SERDE_BAD_WIRE_TYPE', `invalid wire type ${wt} (field ${fno}) at byte ${this.pos} in ${type.fullName}`, type.fullName);
    }
  }

  /** Skips a (possibly nested) group, iteratively, up to the matching end-group tag. */
  private skipGroup(fno: number, end: number, depth: number, type: TypeTable): void {
    const open: number[] = [fno];
    while (open.length > 0) {
      if (depth + open.length > MAX_PROTO_DEPTH) {
        fail('SERDE_TOO_DEEP', `groups nested deeper than ${MAX_PROTO_DEPTH} levels at byte ${this.pos} in ${type.fullName}`, type.fullName);
      }
      if (this.pos >= end) this.truncated(end, 'group', type);
      this.varint(end, type);
      if (this.hi !== 0) fail('SERDE_BAD_TAG', `tag wider than 32 bits at byte ${this.pos} in ${type.fullName}`, type.fullName);
      const n = this.lo >>> 3;
      const wt = this.lo & 7;
      if (n === 0) fail('SERDE_BAD_TAG', `field number 0 at byte ${this.pos} in ${type.fullName}`, type.fullName);
      if (wt === W_SGROUP) open.push(n);
      else if (wt === W_EGROUP) {
        if (open.pop() !== n) fail('SERDE_BAD_GROUP', `mismatched end-group tag (field ${n}) at byte ${this.pos} in ${type.fullName}`, type.fullName);
      } else this.skip(wt, n, end, depth, type);
    }
  }

  /** Decodes the fields in [pos, end) into `msg` (which may already hold fields: protobuf merge). */
  message(t: TypeTable, end: number, depth: number, msg: ProtoMessage): ProtoMessage {
    if (depth > MAX_PROTO_DEPTH) {
      fail('SERDE_TOO_DEEP', `messages nested deeper than ${MAX_PROTO_DEPTH} levels at byte ${this.pos} (${t.fullName})`, t.fullName);
    }
    const buf = this.buf;
    const byNumber = t.byNumber;
    let typedParts: Map<FieldInfo, TypedPart[]> | null = null;
    let grew = false; // some repeated field got a second element (its array has spare capacity)
    while (this.pos < end) {
      const tagStart = this.pos;
      // Tag: a one-byte fast path, else a full varint.
      let tag = buf[tagStart]!;
      if (tag < 0x80) this.pos = tagStart + 1;
      else {
        this.varint(end, t);
        if (this.hi !== 0) fail('SERDE_BAD_TAG', `tag wider than 32 bits at byte ${tagStart} in ${t.fullName}`, t.fullName);
        tag = this.lo;
      }
      const fno = tag >>> 3;
      const wt = tag & 7;
      if (fno === 0) fail('SERDE_BAD_TAG', `field number 0 at byte ${tagStart} in ${t.fullName}`, t.fullName);
      const f = fno < byNumber.length ? byNumber[fno]! : t.byNumberBig !== null ? (t.byNumberBig.get(fno) ?? null) : null;
      if (f === null) {
        this.skip(wt, fno, end, depth, t);
        const unknown = msg.$unknown;
        const raw = buf.subarray(tagStart, this.pos);
        if (unknown === undefined) msg.$unknown = [raw];
        else unknown.push(raw);
        continue;
      }
      if (wt === f.wire) {
        if (f.kind === K_MESSAGE) {
          const len = this.length(end, t);
          const subEnd = this.pos + len;
          const sub = f.message!;
          if (f.repeated) {
            const child = this.message(sub, subEnd, depth + 1, {});
            const arr = msg[f.name] as ProtoMessage[] | undefined;
            if (arr === undefined) msg[f.name] = [child];
            else {
              arr.push(child);
              grew = true;
            }
          } else {
            const existing = msg[f.name] as ProtoMessage | undefined;
            if (f.siblings !== null) this.clearSiblings(msg, f);
            msg[f.name] = this.message(sub, subEnd, depth + 1, existing ?? {});
          }
          continue;
        }
        const v = this.scalar(f, end, t);
        if (f.repeated) {
          if (f.typed !== TA_NONE) {
            typedParts ??= new Map();
            const parts = typedParts.get(f);
            if (parts === undefined) typedParts.set(f, [v as number | bigint]);
            else parts.push(v as number | bigint);
          } else {
            const arr = msg[f.name] as ProtoScalar[] | undefined;
            if (arr === undefined) msg[f.name] = [v];
            else {
              arr.push(v);
              grew = true;
            }
          }
        } else {
          if (f.siblings !== null) this.clearSiblings(msg, f);
          msg[f.name] = v;
        }
        continue;
      }
      if (wt === W_LEN && f.packable) {
        const len = this.length(end, t);
        const runEnd = this.pos + len;
        // An empty run adds no elements (and, as in protobuf, does not make the field present).
        if (len === 0) continue;
        if (f.typed !== TA_NONE) {
          const chunk = this.packedTyped(f, len, runEnd, t);
          typedParts ??= new Map();
          const parts = typedParts.get(f);
          if (parts === undefined) typedParts.set(f, [chunk]);
          else parts.push(chunk);
        } else {
          let arr = msg[f.name] as ProtoScalar[] | undefined;
          if (arr === undefined) msg[f.name] = arr = [];
          while (this.pos < runEnd) arr.push(this.scalar(f, runEnd, t));
          grew = true;
        }
        continue;
      }
      fail('SERDE_BAD_WIRE_TYPE', `wire type ${wt} for field ${f.path} (expected ${f.wire}${f.packable ? ' or 2' : ''}) at byte ${tagStart}`, f.path);
    }
    if (typedParts !== null) {
      for (const [f, parts] of typedParts) msg[f.name] = joinTyped(f.typed, msg[f.name] as ProtoTypedArray | undefined, parts);
    }
    if (grew) {
      // push() over-allocates (capacity n + n/2 + 16); keep exact-size copies, as the decoded tree is
      // long-lived and big (a 2-element array would otherwise hold 18 slots).
      for (const f of t.plainRepeated) {
        const arr = msg[f.name] as unknown[] | undefined;
        if (arr !== undefined && arr.length > 1) msg[f.name] = arr.slice() as ProtoValue;
      }
    }
    return msg;
  }

  private clearSiblings(msg: ProtoMessage, f: FieldInfo): void {
    for (const s of f.siblings!) if (msg[s] !== undefined) delete msg[s];
  }

  /** Reads one non-message value of field `f` (wire type already checked). */
  private scalar(f: FieldInfo, end: number, t: TypeTable): ProtoScalar {
    switch (f.kind) {
      case K_STRING:
        return this.string(this.length(end, t), f);
      case K_BYTES: {
        const len = this.length(end, t);
        const start = this.pos;
        this.pos = start + len;
        return this.buf.subarray(start, start + len);
      }
      case K_FLOAT:
      case K_FIXED32:
      case K_SFIXED32: {
        const p = this.pos;
        if (end - p < 4) this.truncated(end, 'fixed32', t);
        this.pos = p + 4;
        const dv = this.view;
        return f.kind === K_FLOAT ? dv.getFloat32(p, true) : f.kind === K_FIXED32 ? dv.getUint32(p, true) : dv.getInt32(p, true);
      }
      case K_DOUBLE:
      case K_FIXED64:
      case K_SFIXED64: {
        const p = this.pos;
        if (end - p < 8) this.truncated(end, 'fixed64', t);
        this.pos = p + 8;
        const dv = this.view;
        if (f.kind === K_DOUBLE) return dv.getFloat64(p, true);
        const lo = dv.getUint32(p, true);
        const hi = dv.getUint32(p + 4, true);
        return f.kind === K_FIXED64 ? uint64FromParts(lo, hi) : int64FromParts(lo, hi);
      }
      default: {
        this.varint(end, t);
        const lo = this.lo;
        const hi = this.hi;
        switch (f.kind) {
          case K_INT32:
          case K_ENUM:
            return lo | 0;
          case K_UINT32:
            return lo;
          case K_SINT32:
            return (lo >>> 1) ^ -(lo & 1);
          case K_BOOL:
            return lo !== 0 || hi !== 0;
          case K_INT64:
            return int64FromParts(lo, hi);
          case K_UINT64:
            return uint64FromParts(lo, hi);
          default: {
            // K_SINT64: zigzag over 64 bits.
            const mask = -(lo & 1);
            return int64FromParts((((lo >>> 1) | (hi << 31)) ^ mask) >>> 0, ((hi >>> 1) ^ mask) >>> 0);
          }
        }
      }
    }
  }

  /** Decodes one packed run [pos, runEnd) of a typed field into a fresh typed array. */
  private packedTyped(f: FieldInfo, len: number, runEnd: number, t: TypeTable): ProtoTypedArray {
    const buf = this.buf;
    const start = this.pos;
    const fixed = f.wire === W_I32 ? 4 : f.wire === W_I64 ? 8 : 0;
    if (fixed !== 0) {
      if (len % fixed !== 0) {
        fail('SERDE_BAD_LENGTH', `packed ${f.path} has ${len} bytes, not a multiple of ${fixed}, at byte ${start}`, f.path);
      }
      const out = newTyped(f.typed, len / fixed);
      if (LITTLE_ENDIAN) new U8(out.buffer).set(buf.subarray(start, runEnd));
      else {
        const dv = this.view;
        for (let i = 0, p = start; p < runEnd; i++, p += fixed) {
          switch (f.typed) {
            case TA_F32: (out as Float32Array)[i] = dv.getFloat32(p, true); break;
            case TA_F64: (out as Float64Array)[i] = dv.getFloat64(p, true); break;
            case TA_I32: (out as Int32Array)[i] = dv.getInt32(p, true); break;
            case TA_U32: (out as Uint32Array)[i] = dv.getUint32(p, true); break;
            case TA_I64: (out as BigInt64Array)[i] = dv.getBigInt64(p, true); break;
            default: (out as BigUint64Array)[i] = dv.getBigUint64(p, true); break;
          }
        }
      }
      this.pos = runEnd;
      return out;
    }
    // Varints: count terminators to size the array exactly (bounded by len).
    let count = 0;
    for (let p = start; p < runEnd; p++) if (buf[p]! < 0x80) count++;
    if (len > 0 && buf[runEnd - 1]! >= 0x80) this.truncated(runEnd, `varint in packed ${f.path}`, t);
    const out = newTyped(f.typed, count);
    const kind = f.kind;
    if (f.typed === TA_I64 || f.typed === TA_U64) {
      const words = LITTLE_ENDIAN ? new U32(out.buffer) : null;
      for (let i = 0; i < count; i++) {
        this.varint(runEnd, t);
        let lo = this.lo;
        let hi = this.hi;
        if (kind === K_SINT64) {
          const mask = -(lo & 1);
          lo = (((lo >>> 1) | (hi << 31)) ^ mask) >>> 0;
          hi = ((hi >>> 1) ^ mask) >>> 0;
        }
        if (words !== null) {
          words[2 * i] = lo;
          words[2 * i + 1] = hi;
        } else if (f.typed === TA_I64) (out as BigInt64Array)[i] = int64FromParts(lo, hi);
        else (out as BigUint64Array)[i] = uint64FromParts(lo, hi);
      }
    } else {
      const arr = out as Int32Array | Uint32Array;
      for (let i = 0; i < count; i++) {
        this.varint(runEnd, t);
        const lo = this.lo;
        arr[i] = kind === K_SINT32 ? (lo >>> 1) ^ -(lo & 1) : lo;
      }
    }
    return out;
  }
}

function joinTyped(code: number, existing: ProtoTypedArray | undefined, parts: TypedPart[]): ProtoTypedArray {
  if (existing === undefined && parts.length === 1 && typeof parts[0] === 'object') return parts[0];
  let total = existing !== undefined ? existing.length : 0;
  for (const p of parts) total += typeof p === 'object' ? p.length : 1;
  const out = newTyped(code, total);
  let i = 0;
  const put = (p: ProtoTypedArray): void => {
    (out as Float64Array).set(p as Float64Array, i);
    i += p.length;
  };
  if (existing !== undefined) put(existing);
  for (const p of parts) {
    if (typeof p === 'object') put(p);
    else (out as unknown as (number | bigint)[])[i++] = p;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoder: writes back to front (like upb), so every length prefix is known when it is written and
// no size pre-pass is needed. Output is a list of chunks; big bytes payloads become their own chunks
// (views of the caller's arrays, not copied).

/** Bytes fields (and packed typed arrays) at least this long are emitted as separate, uncopied chunks. */
const EXTERNAL_MIN = 32 * 1024;
const FIRST_CHUNK = 4096;
const MAX_CHUNK = 4 * 1024 * 1024;
const MAX_MESSAGE = 0x7fffffff;

function varintSize32(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // surrogate pair: 2 UTF-16 units -> 4 bytes
      i++;
    } else len += 2; // BMP (lone surrogates become U+FFFD: also 3 bytes)
  }
  return len;
}

class BackWriter {
  /** Finished chunks, last chunk first. */
  readonly chunks: Uint8Array[] = [];
  private buf: Uint8Array;
  private view: DataView;
  /** Data of the current segment is buf[pos, end); free space is buf[0, pos). */
  private pos: number;
  private end: number;
  private flushed = 0;
  private nextSize: number;
  hasExternal = false;

  constructor() {
    this.buf = new U8(FIRST_CHUNK);
    this.view = new DV(this.buf.buffer);
    this.pos = this.end = FIRST_CHUNK;
    this.nextSize = FIRST_CHUNK * 2;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.flushed + (this.end - this.pos);
  }

  private flushSegment(): void {
    if (this.pos < this.end) {
      this.chunks.push(this.buf.subarray(this.pos, this.end));
      this.flushed += this.end - this.pos;
      this.end = this.pos;
    }
  }

  /** Makes room for n bytes before pos. */
  private reserve(n: number): void {
    if (this.pos >= n) return;
    this.flushSegment();
    const size = max(n, this.nextSize);
    this.nextSize = min(this.nextSize * 2, MAX_CHUNK);
    this.buf = new U8(size);
    this.view = new DV(this.buf.buffer);
    this.pos = this.end = size;
  }

  external(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.flushSegment();
    this.chunks.push(bytes);
    this.flushed += bytes.length;
    this.hasExternal = true;
  }

  bytes(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n >= EXTERNAL_MIN) return this.external(bytes);
    this.reserve(n);
    this.pos -= n;
    this.buf.set(bytes, this.pos);
  }

  /** Unsigned varint of a number in [0, 2^32). */
  varint32(v: number): void {
    const n = varintSize32(v);
    this.reserve(n);
    const buf = this.buf;
    let p = (this.pos -= n);
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  /** Varint of a 64-bit value given as unsigned 32-bit halves. */
  varint64(lo: number, hi: number): void {
    if (hi === 0) return this.varint32(lo);
    const bits = 64 - clz32(hi);
    const n = ceil(bits / 7);
    this.reserve(n);
    const buf = this.buf;
    let p = (this.pos -= n);
    for (let i = 1; i < n; i++) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[p] = lo & 0x7f;
  }

  float(v: number): void {
    this.reserve(4);
    this.pos -= 4;
    this.view.setFloat32(this.pos, v, true);
  }

  double(v: number): void {
    this.reserve(8);
    this.pos -= 8;
    this.view.setFloat64(this.pos, v, true);
  }

  fixed32(v: number): void {
    this.reserve(4);
    this.pos -= 4;
    this.view.setUint32(this.pos, v >>> 0, true);
  }

  fixed64(lo: number, hi: number): void {
    this.reserve(8);
    this.pos -= 8;
    this.view.setUint32(this.pos, lo, true);
    this.view.setUint32(this.pos + 4, hi, true);
  }

  string(s: string): void {
    const n = s.length;
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.reserve(n);
        const buf = this.buf;
        const p = (this.pos -= n);
        for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
        return;
      }
    }
    const len = utf8Length(s);
    this.reserve(len);
    this.pos -= len;
    UTF8_ENCODER.encodeInto(s, this.buf.subarray(this.pos, this.pos + len));
  }

  /** All output, front to back. */
  finish(): Uint8Array[] {
    this.flushSegment();
    return this.chunks.slice().reverse();
  }
}

function badValue(f: FieldInfo | string, what: string): never {
  const where = typeof f === 'string' ? f : f.path;
  return fail('SERDE_BAD_VALUE', `cannot encode ${where}: ${what}`, where);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (isArray(v)) return 'an array';
  if (isView(v)) return `a ${v.constructor.name}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v).slice(0, 40)}`;
}

// 64-bit conversion scratch (set by to64).
let LO = 0;
let HI = 0;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Splits an integer value (number or bigint) into LO/HI for a 64-bit field. */
function to64(f: FieldInfo, v: unknown, signed: boolean): void {
  if (typeof v === 'number') {
    if (!isSafeInteger(v) || (!signed && v < 0)) badValue(f, `${v} is not a${signed ? '' : ' non-negative'} safe integer (use a bigint)`);
    if (v >= 0 && v < TWO_32) {
      LO = v;
      HI = 0;
      return;
    }
    const hi = Math.floor(v / TWO_32);
    LO = (v - hi * TWO_32) >>> 0;
    HI = hi >>> 0;
    return;
  }
  if (typeof v === 'bigint') {
    if (signed ? v < INT64_MIN || v > INT64_MAX : v < 0n || v > UINT64_MAX) badValue(f, `${v} is out of ${signed ? 'int64' : 'uint64'} range`);
    if (v >= 0n && v < 0x100000000n) {
      LO = Number(v);
      HI = 0;
      return;
    }
    const u = asUintN(64, v);
    LO = Number(u & 0xffffffffn);
    HI = Number(u >> 32n);
    return;
  }
  badValue(f, `expected an integer (number or bigint), got ${describe(v)}`);
}

function to32(f: FieldInfo, v: unknown, min: number, max: number): number {
  const n = typeof v === 'bigint' && v >= toBigInt(min) && v <= toBigInt(max) ? Number(v) : v;
  if (typeof n !== 'number' || !isInteger(n) || n < min || n > max) {
    badValue(f, `expected an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return n;
}

/** Writes one scalar value (no tag) of field f. */
function writeScalar(w: BackWriter, f: FieldInfo, v: unknown): void {
  switch (f.kind) {
    case K_STRING:
      if (typeof v !== 'string') badValue(f, `expected a string, got ${describe(v)}`);
      {
        const start = w.length;
        w.string(v);
        w.varint32(w.length - start);
      }
      return;
    case K_BYTES:
      if (!(v instanceof U8)) badValue(f, `expected a Uint8Array, got ${describe(v)}`);
      if (v.length > MAX_MESSAGE) badValue(f, 'bytes value larger than 2 GiB');
      w.bytes(v);
      w.varint32(v.length);
      return;
    case K_FLOAT:
    case K_DOUBLE:
      if (typeof v !== 'number') badValue(f, `expected a number, got ${describe(v)}`);
      if (f.kind === K_FLOAT) w.float(v);
      else w.double(v);
      return;
    case K_INT32:
    case K_ENUM: {
      const n = to32(f, v, -0x80000000, 0x7fffffff);
      if (n >= 0) w.varint32(n);
      else w.varint64(n >>> 0, 0xffffffff);
      return;
    }
    case K_UINT32:
      w.varint32(to32(f, v, 0, 0xffffffff));
      return;
    case K_SINT32: {
      const n = to32(f, v, -0x80000000, 0x7fffffff);
      w.varint32(((n << 1) ^ (n >> 31)) >>> 0);
      return;
    }
    case K_FIXED32:
      w.fixed32(to32(f, v, 0, 0xffffffff));
      return;
    case K_SFIXED32:
      w.fixed32(to32(f, v, -0x80000000, 0x7fffffff));
      return;
    case K_BOOL:
      if (typeof v !== 'boolean') badValue(f, `expected a boolean, got ${describe(v)}`);
      w.varint32(v ? 1 : 0);
      return;
    case K_INT64:
    case K_UINT64:
      to64(f, v, f.kind === K_INT64);
      w.varint64(LO, HI);
      return;
    case K_SINT64: {
      to64(f, v, true);
      const sign = HI >> 31; // 0 or -1
      const lo = ((LO << 1) ^ sign) >>> 0;
      const hi = (((HI << 1) | (LO >>> 31)) ^ sign) >>> 0;
      w.varint64(lo, hi);
      return;
    }
    case K_FIXED64:
    case K_SFIXED64:
      to64(f, v, f.kind === K_SFIXED64);
      w.fixed64(LO, HI);
      return;
    default:
      badValue(f, 'unsupported field kind');
  }
}

function isTypedArray(v: unknown): v is ProtoTypedArray {
  return (
    v instanceof F32 || v instanceof F64 || v instanceof I32 || v instanceof U32 ||
    v instanceof BI64 || v instanceof BU64
  );
}

/** Typed array whose raw little-endian bytes are exactly the packed wire form of field f. */
function rawPackedView(f: FieldInfo, v: ProtoTypedArray): Uint8Array | null {
  if (!LITTLE_ENDIAN) return null;
  const ok =
    (f.kind === K_FLOAT && v instanceof F32) ||
    (f.kind === K_DOUBLE && v instanceof F64) ||
    (f.kind === K_FIXED32 && v instanceof U32) ||
    (f.kind === K_SFIXED32 && v instanceof I32) ||
    (f.kind === K_FIXED64 && v instanceof BU64) ||
    (f.kind === K_SFIXED64 && v instanceof BI64);
  return ok ? new U8(v.buffer, v.byteOffset, v.byteLength) : null;
}

/** Writes elements [0, n) of a repeated scalar, back to front, each with its tag unless packed. */
function writeElements(w: BackWriter, f: FieldInfo, v: ArrayLike<unknown>, withTags: boolean): void {
  const n = v.length;
  // 64-bit typed arrays: read the halves directly instead of materialising bigints.
  if (LITTLE_ENDIAN && ((f.kind === K_INT64 && v instanceof BI64) || (f.kind === K_UINT64 && v instanceof BU64))) {
    const words = new U32(v.buffer, v.byteOffset, n * 2);
    for (let i = n - 1; i >= 0; i--) {
      w.varint64(words[2 * i]!, words[2 * i + 1]!);
      if (withTags) w.varint32(f.tag);
    }
    return;
  }
  for (let i = n - 1; i >= 0; i--) {
    writeScalar(w, f, v[i]);
    if (withTags) w.varint32(f.tag);
  }
}

function writeField(w: BackWriter, f: FieldInfo, v: unknown, depth: number): void {
  if (!f.repeated) {
    if (f.kind === K_MESSAGE) {
      const start = w.length;
      writeMessage(w, f.message!, v, depth + 1, f.path);
      const len = w.length - start;
      if (len > MAX_MESSAGE) badValue(f, 'message larger than 2 GiB');
      w.varint32(len);
      w.varint32(f.lenTag);
      return;
    }
    writeScalar(w, f, v);
    w.varint32(f.tag);
    return;
  }
  const typed = !isArray(v) && isTypedArray(v);
  if (!typed && !isArray(v)) badValue(f, `expected an array for a repeated field, got ${describe(v)}`);
  if (typed && !f.packable) badValue(f, `a typed array is only accepted for repeated numeric fields`);
  const arr = v as ArrayLike<unknown>;
  const n = arr.length;
  if (n === 0) return;
  if (f.kind === K_MESSAGE) {
    const sub = f.message!;
    for (let i = n - 1; i >= 0; i--) {
      const start = w.length;
      writeMessage(w, sub, arr[i], depth + 1, f.path);
      const len = w.length - start;
      if (len > MAX_MESSAGE) badValue(f, 'message larger than 2 GiB');
      w.varint32(len);
      w.varint32(f.lenTag);
    }
    return;
  }
  if (f.packed) {
    const start = w.length;
    const raw = typed ? rawPackedView(f, v as ProtoTypedArray) : null;
    if (raw !== null) w.bytes(raw);
    else writeElements(w, f, arr, false);
    const len = w.length - start;
    if (len > MAX_MESSAGE) badValue(f, 'packed field larger than 2 GiB');
    w.varint32(len);
    w.varint32(f.lenTag);
    return;
  }
  writeElements(w, f, arr, true);
}

function writeMessage(w: BackWriter, t: TypeTable, msg: unknown, depth: number, where: string): void {
  if (depth > MAX_PROTO_DEPTH) fail('SERDE_TOO_DEEP', `messages nested deeper than ${MAX_PROTO_DEPTH} levels at ${where} (or a cycle)`, where);
  if (typeof msg !== 'object' || msg === null || isArray(msg) || isView(msg)) {
    badValue(where, `expected a ${t.fullName} message object, got ${describe(msg)}`);
  }
  const m = msg as ProtoMessage;
  let present = 0;
  const unknown = m.$unknown;
  if (unknown !== undefined) {
    present++;
    if (!isArray(unknown)) badValue(`${t.fullName}.$unknown`, `expected an array of Uint8Array, got ${describe(unknown)}`);
    for (let i = unknown.length - 1; i >= 0; i--) {
      const raw = unknown[i];
      if (!(raw instanceof U8)) badValue(`${t.fullName}.$unknown`, `expected Uint8Array entries, got ${describe(raw)}`);
      w.bytes(raw);
    }
  }
  const fields = t.fields;
  for (let i = fields.length - 1; i >= 0; i--) {
    const f = fields[i]!;
    const v = m[f.name];
    if (v === undefined) continue;
    present++;
    writeField(w, f, v, depth);
  }
  let keys = 0;
  for (const k in m) if (m[k] !== undefined) keys++;
  if (keys !== present) {
    for (const k in m) {
      if (m[k] !== undefined && k !== '$unknown' && !t.byName.has(k)) badValue(`${t.fullName}.${k}`, `${t.fullName} has no field named "${k}"`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Codec over a protobufjs Root

/** A wire codec for the message types of one protobufjs Root (parsed with keepCase). */
export class WireCodec {
  private readonly tables: Map<string, TypeTable>;

  constructor(readonly root: protobuf.Root) {
    root.resolveAll();
    this.tables = buildTables(root);
  }

  private table(typeName: string): TypeTable {
    const name = typeName.startsWith('.') ? typeName.slice(1) : typeName;
    const t = this.tables.get(name);
    if (t !== undefined) return t;
    for (const [full, table] of this.tables) if (full.endsWith(`.${name}`) && full.split('.').length === name.split('.').length + 1) return table;
    return fail('SERDE_UNKNOWN_TYPE', `unknown message type ${typeName}`, typeName);
  }

  /** Decodes `bytes` as a `typeName` message (bytes fields of the result are views of `bytes`). */
  decode(typeName: string, bytes: Uint8Array): ProtoMessage {
    const t = this.table(typeName);
    if (!(bytes instanceof U8)) badValue(typeName, `expected a Uint8Array to decode, got ${describe(bytes)}`);
    // Normalise Buffer (and other subclasses) to a plain Uint8Array over the same memory.
    const buf = bytes.constructor === Uint8Array ? bytes : new U8(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const d = new Decoder(buf);
    return d.message(t, buf.length, 1, {});
  }

  /** Encodes `msg` as a `typeName` message, as a list of chunks to be written in order. */
  encodeChunks(typeName: string, msg: ProtoMessage): Uint8Array[] {
    const t = this.table(typeName);
    const w = new BackWriter();
    writeMessage(w, t, msg, 1, t.fullName);
    return w.finish();
  }

  /** Encodes `msg` as a `typeName` message into one fresh buffer. */
  encode(typeName: string, msg: ProtoMessage): Uint8Array {
    const t = this.table(typeName);
    const w = new BackWriter();
    writeMessage(w, t, msg, 1, t.fullName);
    const chunks = w.finish();
    if (chunks.length === 1 && !w.hasExternal) return chunks[0]!;
    let total = 0;
    for (const c of chunks) total += c.length;
    const out = new U8(total);
    let p = 0;
    for (const c of chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }

  /** Fully qualified names of all message types, without the leading dot. */
  typeNames(): string[] {
    return [...this.tables.keys()];
  }
}

// ---------------------------------------------------------------------------------------------
// The ONNX schema, loaded once on first use

let onnxCodec: WireCodec | null = null;

function findSchemaFile(): string {
  const candidates = [
    path.join(__dirname, 'onnx.proto'), // src/ir/serde under ts/jest, dist/ir/serde after postbuild
    path.join(__dirname, '..', '..', '..', 'src', 'ir', 'serde', 'onnx.proto'), // dist/ without the copied schema
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  return fail('SERDE_SCHEMA', `cannot find onnx.proto (looked in ${candidates.join(', ')})`);
}

function codec(): WireCodec {
  if (onnxCodec === null) {
    const file = findSchemaFile();
    const parsed = protobuf.parse(fs.readFileSync(file, 'utf8'), { keepCase: true });
    onnxCodec = new WireCodec(parsed.root);
  }
  return onnxCodec;
}

/** The protobufjs Root of the ONNX schema (field names as in the .proto, snake_case). */
export function protoRoot(): protobuf.Root {
  return codec().root;
}

/**
 * Decodes `bytes` as the ONNX message `typeName` (e.g. `'onnx.ModelProto'`; the `onnx.` prefix may be
 * left out). Bytes fields of the result are views of `bytes`. Throws SerdeError on malformed input.
 */
export function decodeProto(typeName: string, bytes: Uint8Array): ProtoMessage {
  return codec().decode(typeName, bytes);
}

/** Encodes `msg` as the ONNX message `typeName` into one fresh buffer. Throws SerdeError on bad values. */
export function encodeProto(typeName: string, msg: ProtoMessage): Uint8Array {
  return codec().encode(typeName, msg);
}

/**
 * Encodes `msg` as the ONNX message `typeName` as chunks to be written in order (e.g. with
 * `fs.writevSync`). Bytes fields of 32 KiB or more (raw_data...), and packed float/double payloads of that
 * size given as Float32Array/Float64Array, are chunks of their own that share the caller's memory (no
 * copy): do not modify them until the chunks are written.
 */
export function encodeProtoChunks(typeName: string, msg: ProtoMessage): Uint8Array[] {
  return codec().encodeChunks(typeName, msg);
}

/** A read-only name -> number map of one schema enum, filled on first access. */
function lazyEnum<K extends string>(enumName: string): Readonly<Record<K, number>> {
  const target: Record<string, number> = {};
  let filled = false;
  const fill = (): void => {
    if (filled) return;
    filled = true;
    const e = protoRoot().lookupEnum(enumName);
    for (const [k, v] of Object.entries(e.values)) target[k] = v;
    Object.freeze(target);
  };
  return new Proxy(target, {
    get: (o, k, r) => (fill(), Reflect.get(o, k, r)),
    has: (o, k) => (fill(), Reflect.has(o, k)),
    ownKeys: (o) => (fill(), Reflect.ownKeys(o)),
    getOwnPropertyDescriptor: (o, k) => (fill(), Reflect.getOwnPropertyDescriptor(o, k)),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  }) as Readonly<Record<K, number>>;
}

/** `onnx.TensorProto.DataType`: name -> code (e.g. `DataTypeCode.FLOAT === 1`), read from the schema. */
export const DataTypeCode: Readonly<Record<DataTypeName, number>> = lazyEnum<DataTypeName>('onnx.TensorProto.DataType');

/** `onnx.AttributeProto.AttributeType`: name -> code (e.g. `AttributeTypeCode.INTS === 7`), read from the schema. */
export const AttributeTypeCode: Readonly<Record<AttributeTypeName, number>> = lazyEnum<AttributeTypeName>('onnx.AttributeProto.AttributeType');
