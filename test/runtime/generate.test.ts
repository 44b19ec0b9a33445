// Generation loops on onnxruntime CPU: seeded sampling, EOS, batches, argument errors. The fixture exports fix
// the batch dim to 1 (input_ids [1, seq], Reshape constants [1, -1, H, D]), so batch 2 is tested for refusal
// there and for correctness on a tiny IR-built LM with a dynamic batch dim.
import type { Model } from '../../src/ir/model';
import { CacheKind, lowerLlm } from '../../src/passes/llm';
import type { Backend } from '../../src/runtime/backend';
import { cacheLayout, CacheLayout } from '../../src/runtime/cache-layout';
import { generate, generateWithStaticCache, GenerationError, GenerationResult, StaticCacheOptions } from '../../src/runtime/generate';
import type { HostTensor } from '../../src/runtime/host-tensor';
import { OrtBackend } from '../../src/runtime/ort-backend';
import { SamplingError, SamplingOptions } from '../../src/runtime/sampling';
import { promptOf } from '../helpers/llm';
import { loadExport } from '../helpers/models';
import { TINY, tinyLm } from './tiny-lm';

/** Runs `fn` and returns what it threw (fails when it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

/** A backend that must never be called: argument errors come before any model run. */
const unusedBackend: Backend = {
  name: 'unused', inputNames: [], outputNames: [],
  run: async () => {
    throw new Error('the model was run');
  },
  dispose: async () => {},
};
const unusedLayout: CacheLayout = { layers: [], maxSeqLen: undefined, batch: undefined, kind: undefined };

interface Runner {
  /** No cache (full recompute) on the original. */
  plain: (prompt: number[][], o: StaticCacheOptions) => Promise<GenerationResult>;
  /** Static cache on the lowered model. */
  cached: (prompt: number[][], o: StaticCacheOptions) => Promise<GenerationResult>;
  dispose: () => Promise<void>;
}

async function runner(original: Model, cache: Exclude<CacheKind, 'none'>): Promise<Runner> {
  const lowered = lowerLlm(original, { cache }).model;
  const plain = await OrtBackend.create(original);
  const cached = await OrtBackend.create(lowered);
  const layout = cacheLayout(lowered) as CacheLayout;
  return {
    plain: (p, o) => generate(plain, p, o),
    cached: (p, o) => generateWithStaticCache(cached, layout, p, o),
    dispose: async () => {
      await plain.dispose();
      await cached.dispose();
    },
  };
}

describe('fixture (llama, opset 18; static_v2)', () => {
  let r: Runner;
  const prompt = promptOf(7, 256);
  let greedy: number[] = [];
  beforeAll(async () => {
    r = await runner(loadExport('llama', 18), 'static_v2');
    greedy = (await r.plain([prompt], { maxNewTokens: 24, ignoreEos: true })).tokens[0];
  });
  afterAll(async () => r.dispose());

  test.each([
    ['temperature', { temperature: 1.0 }],
    ['temperature + top-k', { temperature: 0.9, topK: 8 }],
    ['temperature + top-p', { temperature: 1.1, topP: 0.9 }],
    ['temperature + top-k + top-p', { temperature: 0.8, topK: 40, topP: 0.8 }],
  ] as [string, SamplingOptions][])('seeded %s sampling: reproducible per seed, different across seeds, same with and without the cache', async (_what, sampling) => {
    const run = (seed: number, how: 'plain' | 'cached') => r[how]([prompt], { maxNewTokens: 24, ignoreEos: true, sampling: { ...sampling, seed } });
    const a = (await run(11, 'cached')).tokens[0];
    expect(a).toHaveLength(24);
    expect((await run(11, 'cached')).tokens[0]).toEqual(a);
    expect((await run(11, 'plain')).tokens[0]).toEqual(a);
    const others = [(await run(12, 'cached')).tokens[0], (await run(13, 'cached')).tokens[0]];
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    expect(a).not.toEqual(greedy);
  });

  test('top_k = 1 sampling equals greedy', async () => {
    for (const how of ['plain', 'cached'] as const) {
      const t = await r[how]([prompt], { maxNewTokens: 24, ignoreEos: true, sampling: { temperature: 1.3, topK: 1, seed: 5 } });
      expect(t.tokens[0]).toEqual(greedy);
    }
  });

  test('generation stops at the first EOS (kept), and ignoreEos generates the fixed count', async () => {
    // A token greedy produces, whose first occurrence is not at the start.
    const at = greedy.findIndex((t, i) => i >= 3 && greedy.indexOf(t) === i);
    expect(at).toBeGreaterThanOrEqual(3);
    const eos = greedy[at];
    for (const how of ['plain', 'cached'] as const) {
      const steps: number[] = [];
      const stopped = await r[how]([prompt], { maxNewTokens: 24, eosTokenIds: [eos], onStep: (s) => steps.push(s) });
      expect(stopped.tokens[0]).toEqual(greedy.slice(0, at + 1));
      expect(stopped.decodeMs).toHaveLength(at);
      expect(steps).toEqual(Array.from({ length: at + 1 }, (_, i) => i));
      // Several EOS ids: the earliest produced one stops.
      const two = await r[how]([prompt], { maxNewTokens: 24, eosTokenIds: [999, eos, greedy[at + 2]] });
      expect(two.tokens[0]).toEqual(greedy.slice(0, at + 1));
      const ignored = await r[how]([prompt], { maxNewTokens: 24, eosTokenIds: [eos], ignoreEos: true });
      expect(ignored.tokens[0]).toEqual(greedy);
    }
  });

  test('maxNewTokens 0 generates nothing; 1 generates only the prefill token', async () => {
    for (const how of ['plain', 'cached'] as const) {
      expect((await r[how]([prompt], { maxNewTokens: 0 })).tokens).toEqual([[]]);
      const one = await r[how]([prompt], { maxNewTokens: 1 });
      expect(one.tokens).toEqual([greedy.slice(0, 1)]);
      expect(one.decodeMs).toEqual([]);
    }
  });

  test('batch 2 is refused with a clear error: the export fixes batch to 1', async () => {
    const model = loadExport('llama', 18);
    expect(model.graph.inputs.find((i) => i.name === 'input_ids')?.shape?.[0]).toBe(1);
    const cached = await thrown(() => r.cached([prompt, prompt], { maxNewTokens: 2 }));
    expect(cached).toBeInstanceOf(GenerationError);
    expect(cached.code).toBe('GEN_BATCH');
    expect(cached.message).toMatch(/lowered for batch 1, got 2 prompts/);
    const plain = await thrown(() => r.plain([prompt, prompt], { maxNewTokens: 2 }));
    expect(plain).toBeInstanceOf(GenerationError);
    expect(plain.code).toBe('GEN_RUN');
    expect(plain.message).toMatch(/input_ids \[2, 7\]/);
    expect(plain.message).toMatch(/input_ids.*index: 0 Got: 2 Expected: 1/s);
  });
});

describe('tiny LM with a dynamic batch', () => {
  const original = tinyLm();
  const p1 = [1, 5, 9, 2, 30, 4];
  const p2 = [7, 7, 3, 30, 0, 11];
  const runners = new Map<string, Runner>();
  beforeAll(async () => {
    for (const cache of ['static_v1', 'static_v2', 'static_v3'] as const) runners.set(cache, await runner(original, cache));
  });
  afterAll(async () => {
    for (const x of runners.values()) await x.dispose();
  });

  test('the lowered graphs keep the batch dim symbolic and GQA caches', () => {
    for (const cache of ['static_v1', 'static_v2', 'static_v3'] as const) {
      const layout = cacheLayout(lowerLlm(original, { cache }).model) as CacheLayout;
      expect(layout.batch).toBeUndefined();
      expect(layout.layers.map((l) => [l.heads, l.headDim])).toEqual([[TINY.kvHeads, TINY.headDim]]);
    }
  });

  test.each(['static_v1', 'static_v2', 'static_v3'])('%s: batch of two equals two batch-1 runs, with and without the cache', async (cache) => {
    const r = runners.get(cache) as Runner;
    const o = { maxNewTokens: 20, ignoreEos: true };
    const one1 = (await r.plain([p1], o)).tokens[0];
    const one2 = (await r.plain([p2], o)).tokens[0];
    expect(one1).not.toEqual(one2);
    for (const how of ['plain', 'cached'] as const) {
      expect((await r[how]([p1, p2], o)).tokens).toEqual([one1, one2]);
      expect((await r[how]([p2, p2], o)).tokens).toEqual([one2, one2]);
      expect((await r[how]([p1], o)).tokens).toEqual([one1]);
    }
    // Chunked prefill with a batch.
    expect((await r.cached([p1, p2], { ...o, prefillChunk: 4 })).tokens).toEqual([one1, one2]);
  });

  test('identical prompts give identical rows under greedy decoding', async () => {
    const r = runners.get('static_v2') as Runner;
    const t = await r.cached([p1, p1, p1], { maxNewTokens: 12, ignoreEos: true });
    expect(t.tokens[1]).toEqual(t.tokens[0]);
    expect(t.tokens[2]).toEqual(t.tokens[0]);
  });

  test('a row that hits EOS stops (repeating nothing), the other rows still stop at maxNewTokens', async () => {
    const r = runners.get('static_v2') as Runner;
    const o = { maxNewTokens: 12, ignoreEos: true };
    const one1 = (await r.plain([p1], o)).tokens[0];
    const one2 = (await r.plain([p2], o)).tokens[0];
    // An EOS that row 1 produces early and row 2 never produces.
    const at = one1.findIndex((t, i) => one1.indexOf(t) === i && !one2.includes(t));
    expect(at).toBeGreaterThanOrEqual(0);
    for (const how of ['plain', 'cached'] as const) {
      const t = await r[how]([p1, p2], { maxNewTokens: 12, eosTokenIds: [one1[at]], maxSeqLen: 64 });
      expect(t.tokens).toEqual([one1.slice(0, at + 1), one2]);
    }
  });
});

describe('argument errors come before any model run', () => {
  const loops = {
    plain: (p: number[][], o: StaticCacheOptions) => generate(unusedBackend, p, o),
    cached: (p: number[][], o: StaticCacheOptions) => generateWithStaticCache(unusedBackend, unusedLayout, p, o),
  };

  test.each(['plain', 'cached'] as const)('%s: invalid sampling → SamplingError', async (how) => {
    for (const sampling of [{ temperature: -0.5 }, { temperature: 1, topK: 0 }, { temperature: 1, topP: 1.5 }]) {
      const e = await thrown(() => loops[how]([[1, 2]], { maxNewTokens: 4, sampling }));
      expect(e).toBeInstanceOf(SamplingError);
      expect(e.code).toBe('SAMPLING');
    }
  });

  test.each(['plain', 'cached'] as const)('%s: bad prompts and token counts → GenerationError', async (how) => {
    const cases: [number[][], number, string][] = [
      [[], 4, 'GEN_PROMPT'],
      [[[]], 4, 'GEN_PROMPT'],
      [[[1, 2], [3]], 4, 'GEN_PROMPT'],
      [[[1, 2]], -1, 'GEN_TOKENS'],
      [[[1, 2]], 2.5, 'GEN_TOKENS'],
    ];
    for (const [prompt, maxNewTokens, code] of cases) {
      const e = await thrown(() => loops[how](prompt, { maxNewTokens }));
      expect(e).toBeInstanceOf(GenerationError);
      expect(e.code).toBe(code);
    }
  });

  test('static cache: a prompt longer than the cache → GEN_TOO_LONG, naming the sizes', async () => {
    const layout: CacheLayout = { ...unusedLayout, maxSeqLen: 8 };
    const e = await thrown(() => generateWithStaticCache(unusedBackend, layout, [promptOf(9, 256)], { maxNewTokens: 1 }));
    expect(e).toBeInstanceOf(GenerationError);
    expect(e.code).toBe('GEN_TOO_LONG');
    expect(e.message).toMatch(/prompt \(9 tokens\).*cache holds 8/);
    // Exactly full is fine up to the model run (this backend refuses to run).
    const ok = await thrown(() => generateWithStaticCache(unusedBackend, layout, [promptOf(6, 256)], { maxNewTokens: 3 }));
    expect(ok.code).toBe('GEN_RUN');
    expect(ok.message).toMatch(/input_ids \[1, 6\]: the model was run/);
  });

  test('a model without the updated caches in its outputs → GEN_OUTPUT', async () => {
    const layout: CacheLayout = {
      layers: [{ keyName: 'key_cache_0', valueName: 'value_cache_0', keyOutput: 'present_key_cache_0', valueOutput: 'present_value_cache_0', heads: 1, headDim: 2, dtype: 'float32' }],
      maxSeqLen: undefined, batch: undefined, kind: undefined,
    };
    const logits: HostTensor = { type: 'float32', dims: [1, 2, 3], data: new Float32Array(6) };
    const forgetful: Backend = { ...unusedBackend, run: async () => ({ logits }) };
    const e = await thrown(() => generateWithStaticCache(forgetful, layout, [[1, 2]], { maxNewTokens: 2 }));
    expect(e).toBeInstanceOf(GenerationError);
    expect(e.code).toBe('GEN_OUTPUT');
    expect(e.message).toMatch(/present_key_cache_0/);
  });
});
