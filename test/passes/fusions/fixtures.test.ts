// Acceptance (issue 9) on every fixture and both opsets: after the `llm` pipeline (no cache, and each static
// cache) no decomposed RMSNorm, rotate-half RoPE or GELU remains (ops counted), RoPE is RotaryEmbedding with
// cos/sin caches and position_ids, logits equal the original export within 1e-4 for 1, 7, 64 and 200 tokens,
// greedy generation with each static cache equals PyTorch's greedy_16, and the pass reports count each fusion.
//
// Runtime: one onnxruntime session per model (original and each lowering); the models are tiny.
import type { Model } from '../../../src/ir/model';
import { lowerLlm } from '../../../src/passes/llm';
import type { CacheKind } from '../../../src/passes/llm';
import '../../../src/passes/fusions';
import { DEFAULT_ROTARY_MAX_POSITIONS, FUSION_KEY, ROTARY_MAX_POSITIONS_KEY, SKIP_ADD_KEY } from '../../../src/passes/fusions';
import type { PipelineReport } from '../../../src/passes/pass-manager';
import { cacheLayout, CacheLayout } from '../../../src/runtime/cache-layout';
import { generateWithStaticCache } from '../../../src/runtime/generate';
import { OrtBackend } from '../../../src/runtime/ort-backend';
import { createSession, int64Tensor } from '../../../src/runtime/ort-session';
import { loadExport, loadReference, maxAbsDiff, MODEL_NAMES, OPSETS, referencePrompt } from '../../helpers/models';
import { opCount } from './helpers';

const LENGTHS = [1, 7, 64, 200];
const CACHES: readonly Exclude<CacheKind, 'none'>[] = ['static_v1', 'static_v2', 'static_v3'];
/** static_v3 also gets a fixed max_seq_len, so the RoPE caches follow it (prompt 8 + 16 new tokens fit). */
const FIXED_MAX_SEQ: Partial<Record<CacheKind, number>> = { static_v3: 32 };

function histogram(model: Model): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of model.graph.allNodes()) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
}

function counts(report: PipelineReport, pass: string): Record<string, number> | undefined {
  return report.passes.find((p) => p.name === pass)?.counts;
}

/** What every lowering of a fixture must show: the fused ops and none of the decomposed ones. */
function expectFused(name: string, model: Model, layers: number, maxPositions: number): void {
  const h = histogram(model);
  // No decomposed RMSNorm chain, no rotate-half (Neg) nor per-layer cos/sin, no tanh-GELU.
  for (const op of ['Pow', 'ReduceMean', 'Sqrt', 'Reciprocal', 'Neg', 'Cos', 'Sin', 'Tanh', 'Erf']) expect([op, h[op] ?? 0]).toEqual([op, 0]);
  if (name === 'gpt2') {
    expect(h.Gelu).toBe(layers);
    expect(h.LayerNormalization).toBe(2 * layers + 1);
    expect(h.RotaryEmbedding).toBeUndefined();
    return;
  }
  expect(h.RMSNormalization).toBe(2 * layers + 1);
  expect(h.RotaryEmbedding).toBe(2 * layers);
  const ropes = model.graph.nodes.toArray().filter((n) => n.op === 'RotaryEmbedding');
  const caches = new Set(ropes.flatMap((n) => [n.inputs[1], n.inputs[2]]));
  expect(caches.size).toBe(2); // one cos and one sin cache for every layer, q and k
  for (const r of ropes) {
    expect(r.inputs[3]?.name).toBe('position_ids');
    expect(r.inputs[3]?.isGraphInput).toBe(true);
    expect(r.inputs[1]?.constValue?.dims).toEqual([maxPositions, 8]); // head_dim 16 → 8 columns
  }
  expect(model.metadata.get(ROTARY_MAX_POSITIONS_KEY)).toBe(String(maxPositions));
  // Residual adds feeding a norm are recorded for add+norm kernels; the gated MLPs as silu_gate groups.
  expect(model.graph.nodes.toArray().filter((n) => n.metadata.has(SKIP_ADD_KEY))).toHaveLength(2 * layers);
  expect(model.graph.nodes.toArray().filter((n) => n.metadata.get(FUSION_KEY) === 'silu_gate')).toHaveLength(3 * layers);
}

const ALL = MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const));

describe.each(ALL)('%s opset %i through the llm pipeline with fusions', (name, opset) => {
  const ref = loadReference(name);
  const layers = (ref.config.num_hidden_layers ?? ref.config.n_layer) as number;
  const original = loadExport(name, opset);

  test('cache none: fused ops, per-fusion report counts, logits within 1e-4 for 1, 7, 64 and 200 tokens', async () => {
    const report = lowerLlm(original, { cache: 'none' });
    const lowered = report.model;
    expectFused(name, lowered, layers, DEFAULT_ROTARY_MAX_POSITIONS);
    expect(lowered.opset('')).toBeGreaterThanOrEqual(23);
    const decomposedNorm = name !== 'gpt2' && opset === 18;
    const rope = name !== 'gpt2';
    expect(counts(report, 'rmsnorm_fusion')).toEqual({ rmsnorm: decomposedNorm ? 2 * layers + 1 : 0, rmsnorm_unscaled: 0 });
    // opset 18 has rotate-half RoPE; opset 23 has RotaryEmbedding fed per-token cos/sin (no position_ids).
    expect(counts(report, 'rotary_fusion')).toEqual({ rotary: rope && opset === 18 ? 2 * layers : 0, rotary_partial: 0, rotary_cache: rope && opset === 23 ? 2 * layers : 0 });
    expect(counts(report, 'gelu_fusion')).toEqual({ gelu_tanh: name === 'gpt2' ? layers : 0, gelu_erf: 0 });
    expect(counts(report, 'silu_gate_fusion')).toEqual({ silu_gate: rope ? layers : 0 });
    // gpt2's first LayerNorm reads the token + position embedding sum: that Add is recorded too.
    expect(counts(report, 'skip_add')).toEqual(rope ? { skip_rmsnorm: 2 * layers, skip_layernorm: 0 } : { skip_rmsnorm: 0, skip_layernorm: 2 * layers + 1 });
    expect(counts(report, 'matmul_add_gemm')).toEqual({ matmul_add_gemm: 0 }); // rank-3 projections keep MatMul

    const [before, after] = [await createSession(original), await createSession(lowered)];
    try {
      for (const len of LENGTHS) {
        const ids = Array.from({ length: len }, (_, i) => (i * 37 + 11) % ref.config.vocab_size);
        const feeds = { input_ids: int64Tensor(ids, [1, len]), position_ids: int64Tensor(ids.map((_, i) => i), [1, len]) };
        const a = (await before.run(feeds)).logits.data as Float32Array;
        const b = (await after.run(feeds)).logits.data as Float32Array;
        expect([len, maxAbsDiff(b, a)]).toEqual([len, expect.any(Number)]);
        expect(maxAbsDiff(b, a)).toBeLessThan(1e-4);
      }
    } finally {
      await before.release();
      await after.release();
    }
  });

  test.each(CACHES)('%s: fused ops kept with the cache, greedy tokens equal greedy_16', async (cache) => {
    const maxSeqLen = FIXED_MAX_SEQ[cache];
    const lowered = lowerLlm(original, { cache, maxSeqLen }).model;
    expectFused(name, lowered, layers, maxSeqLen ?? DEFAULT_ROTARY_MAX_POSITIONS);
    const backend = await OrtBackend.create(lowered);
    try {
      const layout = cacheLayout(lowered) as CacheLayout;
      expect(layout.layers).toHaveLength(layers);
      const r = await generateWithStaticCache(backend, layout, [referencePrompt(ref)], { maxNewTokens: 16, ignoreEos: true });
      expect(r.tokens[0]).toEqual(ref.greedy_16);
    } finally {
      await backend.dispose();
    }
  });
});
