/**
 * Fuzzing the ONNX decoder: seed files, mutators (bit flips, truncations, splices, length-field and varint
 * corruptions guided by the wire structure), and the per-input oracle. Shared by test/ir/serde/fuzz.test.ts
 * (≥ 10k inputs in CI) and bench/fuzz/run.ts (the long run).
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { Graph, Model, OnnxLowerError, summarize, verify } from '../../../src/ir';
import { decodeModel, encodeModel, keepExternal, loadModel } from '../../../src/ir/serde';
import { buildModel, modelRecipe } from '../random-model';

// ---- deterministic randomness ----------------------------------------------------------------------------

/** mulberry32: small, fast, seedable. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

// ---- seeds --------------------------------------------------------------------------------------------------

export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** LEN-delimited fields found by walking the wire format: where their length varint sits. */
  lengths: LenField[];
  /** Varint field values (dims, data_type, ir_version, offsets...). */
  varints: { at: number; size: number }[];
}

export interface LenField {
  /** Where the field's tag starts. */
  tagStart: number;
  /** Where its length varint sits, and that varint's size. */
  at: number;
  size: number;
  contentStart: number;
  contentEnd: number;
  /** Index of the enclosing LEN field in `Seed.lengths` (-1 at the top level). */
  parent: number;
}

/** fixtures/exports, found from this file (jest) or from the working directory (a bundled bench run from the repo root). */
const FIXTURES = [path.join(__dirname, '..', '..', '..', 'fixtures', 'exports'), path.resolve('fixtures', 'exports')].find((d) => fs.existsSync(d)) ?? 'fixtures/exports';

/** The real fixture files (≈ 700 KB each). */
export function fixtureSeeds(): Seed[] {
  return fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx')).sort().map((f) => seed(f, new Uint8Array(fs.readFileSync(path.join(FIXTURES, f)))));
}

/**
 * Small seeds with real structure: each fixture's first nodes (with their metadata and value_info), its big
 * weights turned into external references (so the file is small but has external_data entries to break).
 */
export function trimmedSeeds(nodeCount = 24): Seed[] {
  const out: Seed[] = [];
  for (const f of fs.readdirSync(FIXTURES).filter((x) => x.endsWith('.onnx')).sort()) {
    const m = loadModel(path.join(FIXTURES, f));
    trimGraph(m.graph, nodeCount);
    const bytes = encodeModel(m, {
      place: (t) => (t.byteLength >= 256 ? { kind: 'external', location: 'weights.bin', offset: 0, length: t.byteLength } : { kind: 'inline' }),
    });
    out.push(seed(`trimmed-${f}`, bytes));
  }
  return out;
}

/** Keeps the first `count` nodes: outputs become the last kept node's outputs; dead initializers go. */
function trimGraph(g: Graph, count: number): void {
  const nodes = g.nodes.toArray();
  const keep = nodes.slice(0, count);
  const last = keep[keep.length - 1];
  g.setOutputs(last.outputs.filter((o) => !o.isOmitted));
  const drop = nodes.slice(count);
  for (const n of drop) for (const u of n.outputs.flatMap((o) => o.uses())) if (!drop.includes(u.node)) throw new Error('trim: a kept node uses a dropped one');
  g.remove(drop);
  for (const v of [...g.initializers.values()]) if (!v.hasUses() && !v.isGraphOutput && !v.isGraphInput) g.removeInitializer(v);
  for (const v of [...g.inputs]) if (!v.hasUses() && !v.isGraphOutput && !v.isInitializer) g.removeInput(v);
}

/** Encoded random models (every attribute type, subgraphs, functions, odd dtypes): small, varied seeds. */
export function randomModelSeeds(count: number, fcSeed = 2024): Seed[] {
  return fc.sample(modelRecipe, { numRuns: count, seed: fcSeed }).map((r, i) => seed(`random-${i}`, encodeModel(buildModel(r))));
}

export function seed(name: string, bytes: Uint8Array): Seed {
  const lengths: LenField[] = [];
  const varints: { at: number; size: number }[] = [];
  walk(bytes, 0, bytes.length, 0, -1, lengths, varints);
  return { name, bytes, lengths, varints };
}

/** Reads a varint at `p`; returns [value (as a number, lossy above 2^53), next position] or null. */
function readVarint(b: Uint8Array, p: number, end: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) return null;
    const c = b[p++];
    v += (c & 0x7f) * mul;
    mul *= 128;
    if (c < 0x80) return [v, p];
  }
  return null;
}

/**
 * Walks protobuf fields in [start, end), recording length prefixes and varints. Content of LEN fields is
 * walked too when it parses as a message (so nested lengths, e.g. a tensor's dims, are found); raw byte
 * payloads that happen to parse add harmless extra targets.
 */
function walk(b: Uint8Array, start: number, end: number, depth: number, parent: number, lengths: LenField[], varints: { at: number; size: number }[]): boolean {
  let p = start;
  const found: LenField[] = [];
  const ints: { at: number; size: number }[] = [];
  while (p < end) {
    const tagStart = p;
    const tag = readVarint(b, p, end);
    if (!tag || tag[0] === 0) return false;
    p = tag[1];
    const wt = tag[0] % 8;
    if (wt === 0) {
      const v = readVarint(b, p, end);
      if (!v) return false;
      ints.push({ at: p, size: v[1] - p });
      p = v[1];
    } else if (wt === 1) p += 8;
    else if (wt === 5) p += 4;
    else if (wt === 2) {
      const len = readVarint(b, p, end);
      if (!len || len[1] + len[0] > end) return false;
      found.push({ tagStart, at: p, size: len[1] - p, contentStart: len[1], contentEnd: len[1] + len[0], parent });
      p = len[1] + len[0];
    } else return false;
    if (p > end) return false;
  }
  const first = lengths.length;
  lengths.push(...found);
  varints.push(...ints);
  if (depth < 12) found.forEach((f, i) => walk(b, f.contentStart, f.contentEnd, depth + 1, first + i, lengths, varints));
  return true;
}

// ---- mutators ---------------------------------------------------------------------------------------------

function encodeVarint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x) byte |= 0x80;
    out.push(byte);
  } while (x);
  return out;
}

function splice(b: Uint8Array, at: number, removeCount: number, insert: ArrayLike<number>): Uint8Array {
  const remove = Math.min(removeCount, b.length - at);
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert as ArrayLike<number>, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

const INTERESTING: bigint[] = [0n, 1n, 2n, 127n, 128n, 255n, 4096n, 65535n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, -1n, -(2n ** 63n)];

/**
 * Replaces bytes [from, to) of field `fi`'s content (or of the whole file when fi = -1) with `insert`, and
 * rewrites the length of every enclosing field, so the result is still well-formed protobuf: these edits
 * reach the IR's own checks instead of stopping at the wire decoder.
 */
function editInside(s: Seed, fi: number, from: number, to: number, insert: ArrayLike<number>): Uint8Array {
  const b = s.bytes;
  let piece: Uint8Array = new Uint8Array(insert.length);
  piece.set(insert);
  let cur = fi;
  let lo = from;
  let hi = to;
  while (cur >= 0) {
    const f = s.lengths[cur];
    const content = concat(b.subarray(f.contentStart, lo), piece, b.subarray(hi, f.contentEnd));
    piece = concat(b.subarray(f.tagStart, f.at), Uint8Array.from(encodeVarint(BigInt(content.length))), content);
    lo = f.tagStart;
    hi = f.contentEnd;
    cur = f.parent;
  }
  return concat(b.subarray(0, lo), piece, b.subarray(hi));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const MUTATORS = [
  'flip', 'flips', 'byte', 'truncate', 'delete', 'duplicate', 'splice', 'length', 'length-grow', 'varint', 'zero-run',
  'drop-field', 'dup-field', 'transplant', 'set-varint',
] as const;
export type MutatorName = (typeof MUTATORS)[number];

/** One random mutation of `s` (another seed from `pool` may donate bytes). */
export function mutate(rng: Rng, s: Seed, pool: readonly Seed[]): { kind: MutatorName; bytes: Uint8Array } {
  const b = s.bytes;
  const kind = rng.pick(MUTATORS);
  const at = rng.int(b.length);
  switch (kind) {
    case 'flip': {
      const out = b.slice();
      out[at] ^= 1 << rng.int(8);
      return { kind, bytes: out };
    }
    case 'flips': {
      const out = b.slice();
      for (let i = 0, n = 2 + rng.int(30); i < n; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
      return { kind, bytes: out };
    }
    case 'byte': {
      const out = b.slice();
      out[at] = rng.pick([0, 0x7f, 0x80, 0xff, rng.int(256)]);
      return { kind, bytes: out };
    }
    case 'truncate':
      return { kind, bytes: b.slice(0, at) };
    case 'delete':
      return { kind, bytes: splice(b, at, Math.min(b.length - at, 1 + rng.int(64)), []) };
    case 'duplicate': {
      const len = Math.min(b.length - at, 1 + rng.int(256));
      return { kind, bytes: splice(b, rng.int(b.length), 0, b.slice(at, at + len)) };
    }
    case 'splice': {
      const donor = rng.pick(pool).bytes;
      const from = rng.int(donor.length);
      const chunk = donor.slice(from, from + 1 + rng.int(512));
      return { kind, bytes: splice(b, at, rng.int(64), chunk) };
    }
    case 'length':
    case 'length-grow': {
      if (!s.lengths.length) return { kind, bytes: b.slice(0, at) };
      const f = rng.pick(s.lengths);
      const cur = BigInt(f.contentEnd - f.contentStart);
      const v = kind === 'length' ? rng.pick([cur + 1n, cur - 1n, cur * 2n, 0n, cur + BigInt(1 + rng.int(100))]) : rng.pick(INTERESTING);
      return { kind, bytes: splice(b, f.at, f.size, encodeVarint(v < 0n ? 0n : v)) };
    }
    case 'varint': {
      if (!s.varints.length) return { kind, bytes: b.slice(0, at) };
      const f = rng.pick(s.varints);
      return { kind, bytes: splice(b, f.at, f.size, encodeVarint(rng.pick(INTERESTING))) };
    }
    case 'drop-field':
    case 'dup-field':
    case 'transplant': {
      if (!s.lengths.length) return { kind, bytes: b.slice(0, at) };
      const f = rng.pick(s.lengths);
      const whole = b.subarray(f.tagStart, f.contentEnd);
      if (kind === 'drop-field') return { kind, bytes: editInside(s, f.parent, f.tagStart, f.contentEnd, []) };
      if (kind === 'dup-field') return { kind, bytes: editInside(s, f.parent, f.contentEnd, f.contentEnd, whole) };
      // The content of another field (often another message type) in this field's place.
      const g = rng.pick(s.lengths);
      const content = b.subarray(g.contentStart, g.contentEnd);
      return { kind, bytes: editInside(s, f.parent, f.tagStart, f.contentEnd, concat(b.subarray(f.tagStart, f.at), Uint8Array.from(encodeVarint(BigInt(content.length))), content)) };
    }
    case 'set-varint': {
      // A varint value changed with every enclosing length fixed: dims, data_type, attribute types, offsets...
      if (!s.varints.length) return { kind, bytes: b.slice(0, at) };
      const v = rng.pick(s.varints);
      const owner = s.lengths.reduce((best, f, i) => (f.contentStart <= v.at && v.at < f.contentEnd && (best < 0 || f.contentStart >= s.lengths[best].contentStart) ? i : best), -1);
      return { kind, bytes: editInside(s, owner, v.at, v.at + v.size, encodeVarint(rng.pick(INTERESTING))) };
    }
    case 'zero-run': {
      const out = b.slice();
      out.fill(rng.pick([0, 0xff]), at, Math.min(out.length, at + 1 + rng.int(32)));
      return { kind, bytes: out };
    }
  }
}

/** Random bytes, sometimes starting with a plausible ModelProto prefix (ir_version, then a graph field). */
export function randomBytes(rng: Rng): Uint8Array {
  const n = rng.int(rng.next() < 0.9 ? 64 : 4096);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  if (rng.next() < 0.5 && n > 4) out.set([0x08, 0x0a, 0x3a, Math.min(n - 4, 127)], 0);
  return out;
}

/** Mixes a run seed and a case index into one 32-bit seed (so any case can be regenerated alone). */
export function caseSeed(runSeed: number, index: number): number {
  let h = (runSeed ^ Math.imul(index + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface Pools {
  /** The real fixtures (slow to decode: use a few percent of cases). */
  big: readonly Seed[];
  /** Trimmed fixtures and random models. */
  small: readonly Seed[];
}

/** Case `index` of run `runSeed`: random bytes, or one mutation of a big or a small seed. Deterministic. */
export function makeCase(runSeed: number, index: number, pools: Pools, mix = { random: 0.2, big: 0.06 }): { what: string; bytes: Uint8Array } {
  const rng = new Rng(caseSeed(runSeed, index));
  const r = rng.next();
  if (r < mix.random) return { what: 'random bytes', bytes: randomBytes(rng) };
  const pool = r < mix.random + mix.big ? pools.big : pools.small;
  const s = rng.pick(pool);
  const m = mutate(rng, s, pool);
  return { what: `${s.name} ${m.kind}`, bytes: m.bytes };
}

// ---- the oracle ---------------------------------------------------------------------------------------------

export type Outcome = { kind: 'model'; nodes: number } | { kind: 'error'; code: string } | { kind: 'crash'; error: unknown; stage: string };

/**
 * What must hold for any input: decoding gives a typed OnnxLowerError or a Model; a Model survives verify,
 * summarize and re-encoding (external tensors left where they are: no file is read).
 */
export function runCase(bytes: Uint8Array): Outcome {
  let m: Model;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    if (e instanceof OnnxLowerError) return { kind: 'error', code: e.code };
    return { kind: 'crash', error: e, stage: 'decode' };
  }
  let stage = 'verify';
  try {
    verify(m);
    stage = 'summarize';
    summarize(m);
    stage = 'encode';
    const again = encodeModel(m, { place: keepExternal });
    stage = 'decode-again';
    decodeModel(again);
  } catch (e) {
    return { kind: 'crash', error: e, stage };
  }
  return { kind: 'model', nodes: m.graph.nodes.size };
}

/** A short printable description of an error for reports. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return String(e);
}

