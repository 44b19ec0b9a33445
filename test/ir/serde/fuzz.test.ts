/**
 * Fuzzing the decoder: ≥ 10,000 random and mutated byte strings (mutations of the real fixtures and of
 * small structured seeds) each give a typed OnnxLowerError or a valid Model, never another exception, a
 * hang or a huge allocation. The long run (≥ 100k) is `npm run bench:fuzz`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OnnxLowerError, SerdeError } from '../../../src/ir';
import { decodeModel } from '../../../src/ir/serde';
import { encodeProto, ProtoMessage } from '../../../src/ir/serde/wire';
import { describeError, fixtureSeeds, mutate, MutatorName, randomBytes, randomModelSeeds, Rng, runCase, Seed, trimmedSeeds } from './fuzz-corpus';

/** A case running this long is a hang (cases take milliseconds); this is not a performance assertion. */
const HANG_MS = 10_000;

describe('fuzzing decodeModel', () => {
  test('10,000+ random and mutated inputs: a typed error or a model that verifies, summarizes and re-encodes', () => {
    const big = fixtureSeeds();
    const small = [...trimmedSeeds(), ...randomModelSeeds(24)];
    const rng = new Rng(0x5eed);
    const plan: { count: number; make: () => { what: string; bytes: Uint8Array } }[] = [
      { count: 2_000, make: () => ({ what: 'random bytes', bytes: randomBytes(rng) }) },
      { count: 600, make: () => mutated(rng, big) },
      { count: 7_600, make: () => mutated(rng, small) },
    ];
    const outcomes = new Map<string, number>();
    const byMutator = new Map<string, number>();
    const failures: string[] = [];
    let total = 0;
    let slowest = 0;
    let peakRss = 0;
    for (const { count, make } of plan) {
      for (let i = 0; i < count; i++) {
        const { what, bytes } = make();
        const start = performance.now();
        const o = runCase(bytes);
        slowest = Math.max(slowest, performance.now() - start);
        total++;
        const key = o.kind === 'error' ? o.code : o.kind;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (o.kind === 'model') byMutator.set(what, (byMutator.get(what) ?? 0) + 1);
        if (o.kind === 'crash' && failures.length < 5) {
          const file = path.join(os.tmpdir(), `onnx-lower-fuzz-${total}.onnx`);
          fs.writeFileSync(file, bytes);
          failures.push(`${what} (saved to ${file}), ${o.stage}: ${describeError(o.error)}`);
        }
        if (total % 500 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
    }
    expect(failures).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(slowest).toBeLessThan(HANG_MS);
    expect(peakRss).toBeLessThan(2 ** 31);
    // The mutations must get past the wire level often, or the IR checks are not being fuzzed.
    expect(outcomes.get('model') ?? 0).toBeGreaterThan(1_000);
    expect([...outcomes.keys()].filter((k) => !k.startsWith('SERDE_TRUNCATED') && k !== 'model').length).toBeGreaterThan(8);
  }, 120_000);
});

function mutated(rng: Rng, pool: readonly Seed[]): { what: string; bytes: Uint8Array } {
  const s = rng.pick(pool);
  const { kind, bytes }: { kind: MutatorName; bytes: Uint8Array } = mutate(rng, s, pool);
  return { what: `${s.name} ${kind}`, bytes };
}

/** A length-delimited field: tag, length, bytes. */
function field(no: number, bytes: Uint8Array): Uint8Array {
  const head: number[] = [];
  for (let v = (no << 3) | 2; ; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  for (let v = bytes.length; ; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  return cat(Uint8Array.from(head), bytes);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** A model proto with one initializer built from `tensor` (a raw TensorProto message). */
function withTensor(tensor: ProtoMessage): Uint8Array {
  return encodeProto('onnx.ModelProto', {
    ir_version: 10n,
    opset_import: [{ domain: '', version: 18n }],
    graph: { name: 'g', initializer: [{ name: 't', ...tensor }], output: [{ name: 't' }] },
  });
}

/** Decodes `bytes` expecting a SerdeError with one of `codes`, and checks that no big buffer was allocated. */
function refusedCheaply(bytes: Uint8Array, codes: string[]): SerdeError | OnnxLowerError {
  const before = process.memoryUsage().arrayBuffers;
  let caught: unknown;
  try {
    decodeModel(bytes);
  } catch (e) {
    caught = e;
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  expect(caught).toBeInstanceOf(OnnxLowerError);
  expect(codes).toContain((caught as OnnxLowerError).code);
  expect(grown).toBeLessThan(64 * 1024 * 1024);
  return caught as OnnxLowerError;
}

describe('hostile sizes are refused before anything is allocated', () => {
  const FLOAT = 1;
  test('a tensor claiming 2^62 elements (as dims 2^31 × 2^31, or one dim of 2^62)', () => {
    const e = refusedCheaply(withTensor({ data_type: FLOAT, dims: [2n ** 31n, 2n ** 31n], raw_data: new Uint8Array(16) }), ['SERDE_TOO_LARGE']);
    expect(e.message).toMatch(/claims 4611686018427388000 elements|claims 4\.6\d*e\+18 elements/);
    refusedCheaply(withTensor({ data_type: FLOAT, dims: [2n ** 62n], raw_data: new Uint8Array(16) }), ['SERDE_RANGE']);
    refusedCheaply(withTensor({ data_type: FLOAT, dims: [2n ** 62n], float_data: [1, 2] }), ['SERDE_RANGE']);
    refusedCheaply(withTensor({ data_type: 8, dims: [2n ** 31n, 2n ** 31n], string_data: [new Uint8Array(1)] }), ['SERDE_TOO_LARGE']);
  });

  test('a tensor whose typed data or raw bytes disagree with a huge (but representable) shape', () => {
    refusedCheaply(withTensor({ data_type: FLOAT, dims: [2n ** 24n, 2n ** 24n], float_data: [1, 2, 3] }), ['SERDE_TENSOR_DATA']);
    refusedCheaply(withTensor({ data_type: FLOAT, dims: [2n ** 24n, 2n ** 24n], raw_data: new Uint8Array(8) }), ['SERDE_TENSOR_DATA']);
    refusedCheaply(withTensor({ data_type: 7, dims: [2n ** 40n], int64_data: [1n] }), ['SERDE_TENSOR_DATA']);
  });

  test('an external tensor claiming 2^62 bytes is refused at load; a 4 PB one is only a reference until read', () => {
    const ext = (dims: bigint[], length: string) => withTensor({
      data_type: FLOAT, dims, data_location: 1,
      external_data: [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: length }],
    });
    refusedCheaply(ext([2n ** 30n, 2n ** 30n], String(2n ** 62n)), ['SERDE_TOO_LARGE']);
    refusedCheaply(ext([2n ** 25n, 2n ** 25n], String(2n ** 62n)), ['SERDE_EXTERNAL']);
    refusedCheaply(ext([2n ** 25n, 2n ** 25n], '12'), ['SERDE_EXTERNAL']);
    const lazy = decodeModel(ext([2n ** 25n, 2n ** 25n], String(2n ** 52n)), { baseDir: os.tmpdir() });
    expect(lazy.graph.initializers.get('t')!.constValue!.byteLength).toBe(2 ** 52);
    expect(() => lazy.graph.initializers.get('t')!.constValue!.bytes()).toThrow(OnnxLowerError); // no such file / range, never an allocation
  });

  test('a length prefix claiming 2^62 bytes, and nesting bombs, are typed errors', () => {
    const model = withTensor({ data_type: FLOAT, dims: [1n], raw_data: new Uint8Array(4) });
    // graph (field 7, LEN) with its length replaced by 2^62.
    const at = model.indexOf(0x3a);
    const bomb = Uint8Array.from([...model.subarray(0, at + 1), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, ...model.subarray(at + 2)]);
    refusedCheaply(bomb, ['SERDE_TRUNCATED']);

    // If nodes nested 200 deep (then_branch inside then_branch ...), assembled by hand: the encoder
    // itself refuses to write messages this deep.
    let graph = encodeProto('onnx.GraphProto', { name: 'leaf', output: [{ name: 'c' }] });
    const attrHead = encodeProto('onnx.AttributeProto', { name: 'then_branch', type: 5 });
    const nodeHead = encodeProto('onnx.NodeProto', { op_type: 'If', input: ['c'], output: ['o'] });
    for (let i = 0; i < 200; i++) graph = field(1, cat(nodeHead, field(5, cat(attrHead, field(6, graph)))));
    refusedCheaply(cat(Uint8Array.of(0x08, 0x0a), field(7, graph)), ['SERDE_TOO_DEEP']);

    // A TypeProto nested 40 sequences deep (TypeProto.sequence_type = 4, Sequence.elem_type = 1).
    let type = encodeProto('onnx.TypeProto', { tensor_type: { elem_type: 1 } });
    for (let i = 0; i < 40; i++) type = field(4, field(1, type));
    const input = cat(encodeProto('onnx.ValueInfoProto', { name: 'x' }), field(2, type));
    refusedCheaply(cat(Uint8Array.of(0x08, 0x0a), field(7, field(11, input))), ['SERDE_TOO_DEEP']);
  });
});
