/**
 * Device sampling (issue 6) on the CPU emulator addon: the OP_SAMPLE instruction (the emulator runs the same
 * definition, weights and RNG as the CUDA kernel in src/runtime/native/sample.cuh) and CudaBackend.generate.
 * No timing. Skipped where the emulator addon was not built.
 */
import { floatToBfloat16, floatToHalf, bfloat16ToFloat, halfToFloat } from '../../../src/ir/float16';
import { DT, OpCode } from '../../../src/converters/cuda';
import { createCudaBackend } from '../../../src/runtime/cuda-backend';
import { deviceSampling, DeviceSampling, MAX_SAMPLE_VOCAB, rngState, selectInstruction, truncateAtEos } from '../../../src/runtime/cuda-sampling';
import { loadAddon, NativeAddon } from '../../../src/runtime/native/addon';
import { argmax, createRng, SamplingError, SamplingOptions, samplingDistribution } from '../../../src/runtime/sampling';
import { lowered } from './helpers';

const addon = loadAddon('emulator').addon as NativeAddon;
const maybe = addon ? describe : describe.skip;

type Row = { dt: DT; data: Float32Array | Uint16Array; values: Float32Array };

function row(values: number[], dt: DT = DT.F32): Row {
  const f = Float32Array.from(values);
  if (dt === DT.F32) return { dt, data: f, values: f };
  const enc = dt === DT.F16 ? floatToHalf : floatToBfloat16;
  const dec = dt === DT.F16 ? halfToFloat : bfloat16ToFloat;
  const data = Uint16Array.from(f, (v) => enc(v));
  return { dt, data, values: Float32Array.from(data, (h) => dec(h)) };
}

/** Runs one OP_SAMPLE over `rows` rows (rowStride 0: the same row `rows` times unless the data holds several). */
function sample(r: Row, rows: number, cols: number, rowStride: number, s: { temperature: number; topK?: number; topP?: number }, state: number): number[] {
  const inPtr = addon.alloc(r.data.byteLength);
  const outPtr = addon.alloc(rows * 8);
  try {
    addon.upload(inPtr, r.data);
    addon.exec(new Float64Array([OpCode.SAMPLE, 10, r.dt, rows, cols, rowStride, inPtr, outPtr, state, s.temperature, s.topK ?? 0, s.topP ?? 1]));
    const out = new BigInt64Array(rows);
    addon.download(outPtr, out);
    return Array.from(out, Number);
  } finally {
    addon.free(inPtr);
    addon.free(outPtr);
  }
}

function withState<T>(seed: number, f: (state: number) => T): T {
  const state = addon.alloc(32);
  try {
    addon.upload(state, rngState(seed));
    return f(state);
  } finally {
    addon.free(state);
  }
}

function randomLogits(n: number, seed: number, scale = 4): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => (rng() - 0.5) * 2 * scale);
}

/** Chi-square critical value at about p = 1e-6 (Wilson–Hilferty). */
function chi2Critical(df: number): number {
  const z = 4.75;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

function chi2(counts: Map<number, number>, ids: number[], probs: number[], n: number): number {
  let x = 0;
  ids.forEach((id, i) => {
    const e = probs[i] * n;
    x += ((counts.get(id) ?? 0) - e) ** 2 / e;
  });
  return x;
}

maybe('OP_SAMPLE on the emulator', () => {
  beforeAll(() => addon.init());

  test('temperature 0 and top_k 1 equal argmax (first maximal index), f32 / f16 / bf16', () => {
    for (const dt of [DT.F32, DT.F16, DT.BF16]) {
      for (let t = 0; t < 20; t++) {
        const V = 5 + t * 7;
        // Coarse values: f16/bf16 rows have ties, which argmax breaks by the lowest index.
        const r = row(randomLogits(V, 100 + t).map((x) => Math.round(x * 2) / 2), dt);
        const want = argmax(r.values);
        withState(t, (st) => {
          expect(sample(r, 3, V, 0, { temperature: 0 }, st)).toEqual([want, want, want]);
          expect(sample(r, 3, V, 0, { temperature: 1.3, topK: 1 }, st)).toEqual([want, want, want]);
          expect(sample(r, 3, V, 0, { temperature: 0.7, topK: 1, topP: 0.5 }, st)).toEqual([want, want, want]);
        });
      }
    }
  });

  test('a tiny top_p equals argmax (ties: the first maximal index)', () => {
    for (let t = 0; t < 20; t++) {
      const r = row(randomLogits(40, 300 + t));
      const want = argmax(r.values);
      withState(t, (st) => expect(new Set(sample(r, 50, 40, 0, { temperature: 1, topP: 1e-9 }, st))).toEqual(new Set([want])));
    }
    const tie = row([0, 3, 1, 3, 3, -2]);
    withState(1, (st) => expect(new Set(sample(tie, 50, 6, 0, { temperature: 2, topP: 1e-9 }, st))).toEqual(new Set([1])));
  });

  test('top_k keeps the k largest, ties at the threshold by index (stable order)', () => {
    // Sorted (stable): 7(i4), 5(i1), 5(i3), 5(i6), 2, ...; top_k 3 keeps i4, i1, i3, never i6.
    const r = row([0, 5, 1, 5, 7, 2, 5, -1]);
    const got = withState(9, (st) => sample(r, 4000, 8, 0, { temperature: 5, topK: 3 }, st));
    expect(new Set(got)).toEqual(new Set([4, 1, 3]));
  });

  test('a fixed seed repeats; other seeds and later steps draw other tokens; the step counter advances', () => {
    const r = row(randomLogits(64, 5, 1));
    const o = { temperature: 1.2, topK: 40, topP: 0.95 };
    const run = (seed: number, launches: number) => withState(seed, (st) => Array.from({ length: launches }, () => sample(r, 16, 64, 0, o, st).join()));
    const a = run(42, 3);
    expect(run(42, 3)).toEqual(a);
    expect(new Set(a).size).toBe(3); // each launch (step) draws anew from the same state buffer
    const others = [1, 2, 3, 43].map((s) => run(s, 1)[0]);
    expect(new Set([a[0], ...others]).size).toBe(5);
    withState(7, (st) => {
      sample(r, 2, 64, 0, o, st);
      sample(r, 2, 64, 0, o, st);
      const state = new BigUint64Array(4);
      addon.download(st, state);
      expect(Array.from(state)).toEqual([7n, 2n, 0n, 0n]);
    });
  });

  const CASES: { name: string; logits: number[]; o: SamplingOptions }[] = [
    { name: 'temperature only', logits: [2, 1.5, 0.3, -1, 0.9, 1.1, -0.2, 0.5], o: { temperature: 1.5 } },
    { name: 'top_k', logits: [2, 1.5, 0.3, -1, 0.9, 1.1, -0.2, 0.5, 1.4, 0], o: { temperature: 0.8, topK: 4 } },
    { name: 'top_p', logits: [2, 1.5, 0.3, -1, 0.9, 1.1, -0.2, 0.5, 1.4, 0], o: { temperature: 1, topP: 0.7 } },
    { name: 'top_k + top_p with a tie at the top-k threshold', logits: [3, 2.5, 2.5, 2.5, 1, 0.2, -0.5, 2.0, 0.7, 1.8, -3, 0.1], o: { temperature: 0.9, topK: 6, topP: 0.9 } },
  ];

  test.each(CASES.map((c) => [c.name, c] as const))('the empirical distribution matches the restricted softmax: %s', (_name, c) => {
    const N = 40000;
    const r = row(c.logits);
    const { ids, probs } = samplingDistribution(r.values, 0, c.logits.length, c.o);
    const got = withState(1234, (st) => sample(r, N, c.logits.length, 0, { temperature: c.o.temperature as number, topK: c.o.topK, topP: c.o.topP }, st));
    const counts = new Map<number, number>();
    for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
    // Nothing outside the support, and a chi-square that a wrong distribution cannot pass.
    expect([...counts.keys()].every((id) => ids.includes(id))).toBe(true);
    const x = chi2(counts, ids, probs, N);
    const crit = chi2Critical(Math.max(1, ids.length - 1));
    expect(x).toBeLessThan(crit);
    let tv = 0;
    ids.forEach((id, i) => (tv += Math.abs((counts.get(id) ?? 0) / N - probs[i])));
    expect(tv / 2).toBeLessThan(0.02);
    // Negative control: the unrestricted softmax at temperature 1 is rejected by the same test.
    const wrong = samplingDistribution(r.values, 0, c.logits.length, { temperature: (c.o.temperature as number) * 1.5 });
    const wrongCounts = new Map([...counts].filter(([id]) => wrong.ids.includes(id)));
    expect(chi2(wrongCounts, wrong.ids, wrong.probs, N)).toBeGreaterThan(chi2Critical(Math.max(1, wrong.ids.length - 1)));
  });

  test('rows with their own stride; a large bf16 vocabulary (152064) with ties stays within top-k', () => {
    const V = 152064;
    const values = randomLogits(V, 77, 6).map((x) => Math.round(x * 8) / 8);
    const r = row(values, DT.BF16);
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => r.values[b] - r.values[a]);
    const top = new Set(order.slice(0, 50));
    const got = withState(3, (st) => sample(r, 40, V, 0, { temperature: 1, topK: 50, topP: 0.95 }, st));
    expect(got.every((id) => top.has(id))).toBe(true);
    expect(new Set(got).size).toBeGreaterThan(5);
    // Two different rows: each row's draw is from its own logits.
    const two = row([...Array.from({ length: 8 }, (_, i) => (i === 2 ? 10 : 0)), ...Array.from({ length: 8 }, (_, i) => (i === 6 ? 10 : 0))]);
    expect(withState(5, (st) => sample(two, 2, 8, 8, { temperature: 0.5, topK: 2, topP: 0.5 }, st))).toEqual([2, 6]);
  });

  test('invalid options give the typed SamplingError', () => {
    const bad: SamplingOptions[] = [{ temperature: -1 }, { temperature: NaN }, { temperature: 1, topK: 0 }, { temperature: 1, topK: 2.5 }, { temperature: 1, topP: 0 }, { temperature: 1, topP: 1.5 }, { temperature: 1, seed: -1 }, { temperature: 1, seed: 0.5 }];
    for (const o of bad) expect(() => deviceSampling(o, 100)).toThrow(SamplingError);
    expect(() => deviceSampling({ temperature: 1 }, MAX_SAMPLE_VOCAB)).toThrow(SamplingError);
    expect(deviceSampling({ temperature: 0, topK: 5 }, 100)).toBeUndefined();
    expect(deviceSampling({ temperature: 0.5, topP: 0.9, seed: 3 }, 100)).toEqual<DeviceSampling>({ temperature: 0.5, topK: 0, topP: 0.9, seed: 3 });
    expect(selectInstruction(undefined, DT.F32, 1, 10, 10, 1, 2, 3)[0]).toBe(OpCode.ARGMAX);
    expect(truncateAtEos([[1, 2, 3, 2], [4, 5]], [2])).toEqual([[1, 2], [4, 5]]);
  });
});

maybe('CudaBackend.generate with device sampling on the emulator', () => {
  const MAX = 32;
  const prompt = [3, 17, 42, 9, 100, 7, 1];
  for (const cache of ['static_v3', 'static_v2'] as const) {
    test(`${cache}: temperature 0 / top_k 1 equal greedy; seeded runs repeat; seeds differ; EOS cuts`, async () => {
      const model = lowered('models/llama-eager18/model.onnx', cache, MAX);
      const b = await createCudaBackend(model, { device: 'emulator' });
      try {
        const greedy = b.greedy([prompt], { maxNewTokens: 12, maxSeqLen: MAX }).tokens[0];
        expect(b.generate([prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: { temperature: 0 } }).tokens[0]).toEqual(greedy);
        expect(b.generate([prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: { temperature: 0.9, topK: 1 } }).tokens[0]).toEqual(greedy);
        const o = { temperature: 1, topK: 50, topP: 0.95, seed: 11 };
        const a = b.generate([prompt, prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: o });
        expect(a.tokens[0]).toHaveLength(12);
        expect(a.decodeSteps).toBe(11);
        expect(a.stepMs).toHaveLength(11);
        expect(b.generate([prompt, prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: o }).tokens).toEqual(a.tokens);
        expect(a.tokens[0]).not.toEqual(a.tokens[1]); // rows draw independently
        expect(a.tokens[0]).not.toEqual(greedy);
        const c = b.generate([prompt, prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: { ...o, seed: 12 } });
        expect(c.tokens).not.toEqual(a.tokens);
        // EOS: a token of row 0 (first occurrence at i >= 2) stops row 0 there; generation stops early once every
        // row has one (synchronising every 2 steps).
        const single = b.generate([prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: o }).tokens[0];
        const at = single.findIndex((t, i) => i >= 2 && single.indexOf(t) === i);
        const e = b.generate([prompt], { maxNewTokens: 12, maxSeqLen: MAX, sampling: o, eosTokenIds: [single[at]], syncEvery: 2 });
        expect(e.tokens[0]).toEqual(single.slice(0, at + 1));
        expect(e.decodeSteps).toBeLessThanOrEqual(at + 2);
        expect(() => b.generate([prompt], { maxNewTokens: 4, maxSeqLen: MAX, sampling: { temperature: 1, topP: 2 } })).toThrow(SamplingError);
      } finally {
        await b.dispose();
      }
    });
  }
});
