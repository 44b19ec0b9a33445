// Sampling: greedy, seeded temperature / top-k / top-p, argument validation (no model needed).
import fc from 'fast-check';
import { argmax, createRng, sampleToken, SamplingError, SamplingOptions, validateSampling } from '../../src/runtime/sampling';

const logitsArb = fc.array(fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 });

function draws(logits: number[], o: SamplingOptions, n: number, seed = 1): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => sampleToken(logits, 0, logits.length, o, rng));
}

function histogram(ids: number[], size: number): number[] {
  const h = new Array<number>(size).fill(0);
  for (const i of ids) h[i]++;
  return h.map((c) => c / ids.length);
}

describe('argmax and greedy', () => {
  test('argmax takes the first maximum, within offset/length', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([9, 1, 3, 3, 2], 1, 4)).toBe(1);
    expect(argmax([5, 0, -1, 7], 1, 2)).toBe(0);
  });

  test('no temperature (undefined or 0) is greedy whatever top-k/top-p and the rng say', () => {
    fc.assert(fc.property(logitsArb, fc.nat(), (logits, seed) => {
      for (const o of [{}, { temperature: 0 }, { topK: 3, topP: 0.5 }, { temperature: 0, topK: 2 }]) {
        expect(draws(logits, o, 3, seed)).toEqual([argmax(logits), argmax(logits), argmax(logits)]);
      }
    }), { numRuns: 100 });
  });

  test('top_k = 1 equals greedy at any temperature', () => {
    fc.assert(fc.property(logitsArb, fc.double({ min: 0.05, max: 5, noNaN: true }), fc.nat(), (logits, temperature, seed) => {
      const greedy = argmax(logits);
      // Ties: sampling sorts by logit, greedy takes the first index; both pick a maximal logit.
      for (const id of draws(logits, { temperature, topK: 1 }, 5, seed)) expect(logits[id]).toBe(logits[greedy]);
    }), { numRuns: 100 });
  });

  test('a tiny top_p keeps only the most likely token', () => {
    const logits = [0.1, 2.5, -1, 2.4];
    expect(new Set(draws(logits, { temperature: 1, topP: 1e-6 }, 50))).toEqual(new Set([1]));
  });
});

describe('seeded sampling', () => {
  const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i * 1.3) * 2);

  test('the same seed reproduces the same draws; different seeds give different draws', () => {
    const o = { temperature: 1.2, topK: 20, topP: 0.95 };
    expect(draws(logits, o, 64, 42)).toEqual(draws(logits, o, 64, 42));
    const others = [1, 2, 3, 43].map((s) => draws(logits, o, 64, s).join());
    expect(new Set([draws(logits, o, 64, 42).join(), ...others]).size).toBe(5);
  });

  test('createRng: deterministic, in [0, 1), seed-dependent', () => {
    const a = createRng(7);
    const b = createRng(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(createRng(8)()).not.toBe(createRng(7)());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  test('temperature sampling follows softmax(logits / T)', () => {
    const l = [0, Math.log(2), Math.log(4)];
    const n = 20000;
    const h1 = histogram(draws(l, { temperature: 1 }, n, 3), 3);
    [1 / 7, 2 / 7, 4 / 7].forEach((p, i) => expect(Math.abs(h1[i] - p)).toBeLessThan(0.02));
    // T = 2 flattens: probabilities ∝ [1, √2, 2].
    const h2 = histogram(draws(l, { temperature: 2 }, n, 4), 3);
    const z = 1 + Math.SQRT2 + 2;
    [1 / z, Math.SQRT2 / z, 2 / z].forEach((p, i) => expect(Math.abs(h2[i] - p)).toBeLessThan(0.02));
  });

  test('top_k restricts the support to the k largest logits', () => {
    fc.assert(fc.property(logitsArb, fc.integer({ min: 1, max: 6 }), fc.nat(), (logits, k, seed) => {
      const kth = [...logits].sort((a, b) => b - a)[Math.min(k, logits.length) - 1];
      for (const id of draws(logits, { temperature: 1.5, topK: k }, 20, seed)) expect(logits[id]).toBeGreaterThanOrEqual(kth);
    }), { numRuns: 100 });
  });

  test('top_p keeps the smallest prefix of sorted probabilities reaching p', () => {
    // probabilities 0.5, 0.3, 0.2
    const l = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    const support = (p: number) => new Set(draws(l, { temperature: 1, topP: p }, 400, 9));
    expect(support(0.5)).toEqual(new Set([0]));
    expect(support(0.6)).toEqual(new Set([0, 1]));
    expect(support(0.85)).toEqual(new Set([0, 1, 2]));
    expect(support(1)).toEqual(new Set([0, 1, 2]));
    // Renormalised inside the nucleus: 0.5 / 0.8 and 0.3 / 0.8.
    const h = histogram(draws(l, { temperature: 1, topP: 0.6 }, 20000, 5), 3);
    expect(Math.abs(h[0] - 0.625)).toBeLessThan(0.02);
  });

  test('offset selects the row of a [rows, vocab] buffer', () => {
    const buf = [0, 0, 9, /* row 1 */ 7, 0, 0];
    expect(sampleToken(buf, 3, 3, {}, createRng(1))).toBe(0);
    expect(sampleToken(buf, 0, 3, {}, createRng(1))).toBe(2);
    expect(sampleToken(buf, 3, 3, { temperature: 0.01 }, createRng(1))).toBe(0);
  });
});

describe('validation', () => {
  test.each([
    [{ temperature: -1 }, /temperature/],
    [{ temperature: Number.NaN }, /temperature/],
    [{ temperature: Number.POSITIVE_INFINITY }, /temperature/],
    [{ topK: 0 }, /top_k/],
    [{ topK: -3 }, /top_k/],
    [{ topK: 1.5 }, /top_k/],
    [{ topK: Number.NaN }, /top_k/],
    [{ topP: 0 }, /top_p/],
    [{ topP: -0.1 }, /top_p/],
    [{ topP: 1.01 }, /top_p/],
    [{ topP: Number.NaN }, /top_p/],
  ] as [SamplingOptions, RegExp][])('%p is refused with a SamplingError', (o, what) => {
    let err: unknown;
    try {
      validateSampling(o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SamplingError);
    expect((err as SamplingError).code).toBe('SAMPLING');
    expect((err as Error).message).toMatch(what);
  });

  test('boundary values are accepted', () => {
    for (const o of [{}, { temperature: 0 }, { topK: 1 }, { topP: 1 }, { temperature: 0.7, topK: 50, topP: 0.9, seed: 0 }]) {
      expect(() => validateSampling(o)).not.toThrow();
    }
  });
});
