import { SerdeError } from '../errors';

/** A decoded protobuf message: snake_case field names, as produced by wire.ts. */
export type Msg = { [field: string]: unknown; $unknown?: Uint8Array[] };

/** Shared empty results for absent fields (decoding a big graph should not allocate one per message). */
const NO_MSGS: readonly Msg[] = Object.freeze([]);
const NO_STRS: readonly string[] = Object.freeze([]);
const NO_BYTES: readonly Uint8Array[] = Object.freeze([]);
const NO_ENTRIES: ReadonlyMap<string, string> = new Map();

/** Typed accessors over decoded messages; a wrong shape is a SerdeError, never a crash. */
export const get = {
  str(m: Msg, f: string): string {
    const v = m[f];
    return typeof v === 'string' ? v : '';
  },
  optStr(m: Msg, f: string): string | undefined {
    const v = m[f];
    return typeof v === 'string' ? v : undefined;
  },
  int(m: Msg, f: string, what: string): number {
    const v = m[f];
    if (v === undefined) return 0;
    return toSafeNumber(v, `${what}.${f}`);
  },
  has(m: Msg, f: string): boolean {
    return m[f] !== undefined;
  },
  msg(m: Msg, f: string): Msg | undefined {
    const v = m[f];
    return v && typeof v === 'object' && !(v instanceof Uint8Array) ? (v as Msg) : undefined;
  },
  msgs(m: Msg, f: string): readonly Msg[] {
    const v = m[f];
    return Array.isArray(v) ? (v as Msg[]) : NO_MSGS;
  },
  strs(m: Msg, f: string): readonly string[] {
    const v = m[f];
    return Array.isArray(v) ? (v as string[]) : NO_STRS;
  },
  bytes(m: Msg, f: string): Uint8Array | undefined {
    const v = m[f];
    return v instanceof Uint8Array ? v : undefined;
  },
  bytesList(m: Msg, f: string): readonly Uint8Array[] {
    const v = m[f];
    return Array.isArray(v) ? (v as Uint8Array[]) : NO_BYTES;
  },
  /** Repeated numeric field as an array-like (plain array or typed array). */
  nums(m: Msg, f: string): ArrayLike<number | bigint> {
    const v = m[f];
    if (v === undefined) return [];
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return v as ArrayLike<number | bigint>;
    throw new SerdeError('SERDE_SHAPE', `field '${f}' is not a repeated number`);
  },
  unknown(m: Msg): Uint8Array[] {
    return m.$unknown ? [...m.$unknown] : [];
  },
};

export function toSafeNumber(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new SerdeError('SERDE_RANGE', `${what} = ${v} is outside the supported integer range`, what);
    }
    return Number(v);
  }
  throw new SerdeError('SERDE_SHAPE', `${what} is not an integer`, what);
}

/** A repeated StringStringEntryProto field as a map (last value of a repeated key wins). */
export function entries(m: Msg, f: string): ReadonlyMap<string, string> {
  const list = get.msgs(m, f);
  if (!list.length) return NO_ENTRIES;
  const out = new Map<string, string>();
  for (const e of list) out.set(get.str(e, 'key'), get.str(e, 'value'));
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8enc = new TextEncoder();
export function bytesToString(b: Uint8Array): string {
  return utf8.decode(b);
}
export function stringToBytes(s: string): Uint8Array {
  return utf8enc.encode(s);
}
