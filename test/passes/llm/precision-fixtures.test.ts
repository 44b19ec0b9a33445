// The precision pass on every fixture × opset × cache kind (issue 5, item 3), through lowerLlm as `run` uses it:
// - FP16: verify clean, declared types consistent, all weights fp16 except the fp32 islands (index math and
//   normalisation statistics: small constants whose users all compute in fp32), caches fp16, logits fp32 under
//   their name, no needless Casts, softmax/normalisation statistics pinned to fp32;
// - FP16 logits within 1e-2 relative (max|a − b| / max|a| per sequence) of FP32 for prompts of 1, 7 and 64
//   tokens (prefill through the static cache, or the whole sequence without cache);
// - token agreement (docs/precision.md): fed the prompt (1, 7, 64 tokens) and the 48 fp32 greedy reference tokens
//   (exports/<m>.greedy.json, teacher forcing), FP16 picks the reference token at ≥ 90 % of the 48 steps, and
//   every step where it does not is a near-tie (fp32 margin ≤ 2 × the step's FP16 logit error); free-running
//   greedy divergence is measured and reported (PRECISION_REPORT=1);
// - BF16: the same graph as FP16 with bfloat16 for float16 (so the fp16 graph's validity carries over), verify clean.
import { DataType, dataTypeName } from '../../../src/ir/dtype';
import type { Model } from '../../../src/ir/model';
import type { Node } from '../../../src/ir/node';
import { verify } from '../../../src/ir/verify';
import { CacheKind, lowerLlm } from '../../../src/passes/llm/pipeline';
import { cacheLayout, CacheLayout } from '../../../src/runtime/cache-layout';
import { generateWithStaticCache } from '../../../src/runtime/generate';
import { HostTensor, int64Host } from '../../../src/runtime/host-tensor';
import { OrtBackend } from '../../../src/runtime/ort-backend';
import { loadExport, MODEL_NAMES, OPSETS } from '../../helpers/models';
import { firstDivergence, floatData, greedyReference, needlessCasts, relativeError, typeConflicts } from './precision-helpers';

const CACHES: readonly CacheKind[] = ['static_v1', 'static_v2', 'static_v3', 'none'];
const PROMPTS = [1, 7, 64] as const;
const MAX_SEQ = 128;
const STEPS = 48;
/** Share of teacher-forced steps whose FP16 argmax must equal the fp32 token. */
const MIN_FORCED_AGREEMENT = 0.9;
const REL_TOLERANCE = 1e-2;

/** Measured numbers, printed once at the end (for docs/precision.md and the report). */
const measured: string[] = [];
afterAll(() => {
  if (process.env.PRECISION_REPORT) process.stderr.write(`${measured.join('\n')}\n`);
});

function opsIn(model: Model, op: string): Node[] {
  return model.graph.nodes.toArray().filter((n) => n.op === op);
}

/** Logits of one prompt (positions 0..S-1): through the static cache (empty caches, start 0) or without one. */
async function promptLogits(backend: OrtBackend, layout: CacheLayout | undefined, ids: readonly number[]): Promise<Float32Array> {
  const feeds: Record<string, HostTensor> = {
    input_ids: int64Host(ids, [1, ids.length]),
    position_ids: int64Host(ids.map((_, i) => i), [1, ids.length]),
  };
  if (layout) {
    for (const l of layout.layers) {
      const dims = [1, l.heads, layout.maxSeqLen ?? MAX_SEQ, l.headDim];
      const n = dims.reduce((a, b) => a * b, 1);
      const zeros = (): HostTensor => ({ type: l.dtype, dims, data: l.dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n) });
      feeds[l.keyName] = zeros();
      feeds[l.valueName] = zeros();
    }
    feeds.start_idx = int64Host([0], []);
    feeds.end_idx = int64Host([ids.length], []);
  }
  const out = await backend.run(feeds);
  return floatData(out.logits as { type: string; data: unknown });
}

/**
 * Teacher-forced token agreement: at each of the STEPS positions from `first`, does the FP16 argmax equal the fp32
 * reference token? A disagreement is allowed only at a near-tie: where the fp32 margin between the reference
 * token and the FP16 choice is below twice that position's largest |FP16 − FP32| logit error (the two
 * precisions cannot be told apart there).
 */
function forcedAgreement(hi: Float32Array, lo: Float32Array, ref: readonly number[], first: number, vocab: number) {
  let agree = 0;
  let ties = 0;
  const unexplained: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    const row = (first + step) * vocab;
    let best = 0;
    let err = 0;
    for (let j = 0; j < vocab; j++) {
      if (lo[row + j] > lo[row + best]) best = j;
      err = Math.max(err, Math.abs(lo[row + j] - hi[row + j]));
    }
    if (best === ref[step]) {
      agree++;
      continue;
    }
    const margin = hi[row + ref[step]] - hi[row + best];
    if (margin <= 2 * err) ties++;
    else unexplained.push(`step ${step}: FP16 picks ${best}, fp32 ${ref[step]} with margin ${margin.toExponential(2)} > 2 × error ${err.toExponential(2)}`);
  }
  return { agreement: agree / STEPS, ties, unexplained };
}

/** Float initializers that stay fp32: they must feed fp32 nodes only (index math, statistics islands). */
function fp32Weights(model: Model): { name: string; elements: number; users: string[] }[] {
  return [...model.graph.initializers.values()]
    .filter((v) => v.dtype === DataType.FLOAT)
    .map((v) => ({ name: v.name, elements: v.constValue?.numElements ?? 0, users: v.consumers().map((n) => `${n.op}→${dataTypeName(n.outputs[0].dtype ?? 0)}`) }));
}

describe.each(MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const)))('precision on %s opset %d', (name, opset) => {
  const original = loadExport(name, opset);
  const greedy = greedyReference(name);
  const vocab = 256;
  let fp32: OrtBackend;
  const fp32Logits = new Map<number, Float32Array>();

  beforeAll(async () => {
    fp32 = await OrtBackend.create(lowerLlm(original, { cache: 'none' }).model);
    for (const s of PROMPTS) fp32Logits.set(s, await promptLogits(fp32, undefined, greedy[`prompt_${s}`]));
  });
  afterAll(async () => {
    await fp32?.dispose();
  });

  describe.each(CACHES)('cache %s', (cache) => {
    let lowered: Model;
    beforeAll(() => {
      lowered = lowerLlm(original, { cache, precision: 'FP16', maxSeqLen: cache === 'none' ? undefined : MAX_SEQ }).model;
    });

    test('FP16 graph: verify clean, consistent types, fp16 weights and caches, fp32 logits, stats in fp32, no needless casts', () => {
      expect(verify(lowered)).toEqual([]);
      expect(typeConflicts(lowered)).toEqual([]);
      expect(needlessCasts(lowered)).toEqual([]);
      // Weights: fp16, except small constants that only fp32 nodes read (inv_freq, eps, the exponent 2).
      const floatInits = [...lowered.graph.initializers.values()].filter((v) => v.dtype === DataType.FLOAT || v.dtype === DataType.FLOAT16);
      const fp16Bytes = floatInits.filter((v) => v.dtype === DataType.FLOAT16).reduce((s, v) => s + (v.constValue?.byteLength ?? 0), 0);
      for (const w of fp32Weights(lowered)) {
        expect(w.elements).toBeLessThanOrEqual(64);
        for (const u of w.users) expect(u).toMatch(/→FLOAT$/);
      }
      expect(fp16Bytes).toBeGreaterThan(0);
      // Interface: logits fp32 from a final Cast; caches fp16 in and out.
      const logits = lowered.graph.outputs[0];
      expect(logits.name).toBe('logits');
      expect(logits.dtype).toBe(DataType.FLOAT);
      expect(logits.producer?.op).toBe('Cast');
      expect(logits.producer?.inputs[0]?.dtype).toBe(DataType.FLOAT16);
      const layout = cacheLayout(lowered);
      if (cache === 'none') expect(layout).toBeUndefined();
      else {
        expect(layout?.layers.map((l) => l.dtype)).toEqual(layout?.layers.map(() => 'float16'));
        for (const o of lowered.graph.outputs.slice(1)) expect(dataTypeName(o.dtype ?? 0)).toBe('FLOAT16');
      }
      for (const a of opsIn(lowered, 'Attention')) {
        expect(a.attrInt('softmax_precision')).toBe(DataType.FLOAT);
        expect(a.inputs[0]?.dtype ?? DataType.FLOAT16).toBe(DataType.FLOAT16);
      }
      for (const n of [...opsIn(lowered, 'RMSNormalization'), ...opsIn(lowered, 'LayerNormalization')]) expect(n.attrInt('stash_type')).toBe(DataType.FLOAT);
      // Decomposed RMSNorm (opset 18 llama/qwen2): x² → mean → +eps → sqrt → 1/x → ×x in fp32.
      for (const rm of opsIn(lowered, 'ReduceMean')) expect(rm.outputs[0].dtype).toBe(DataType.FLOAT);
      // RoPE: Cos/Sin computed in fp32 from the positions.
      for (const n of [...opsIn(lowered, 'Cos'), ...opsIn(lowered, 'Sin')]) expect(n.outputs[0].dtype).toBe(DataType.FLOAT);
    });

    test('FP16 logits within 1e-2 relative of FP32 (prompts of 1, 7, 64 tokens); greedy tokens agree with fp32', async () => {
      const backend = await OrtBackend.create(lowered);
      const layout = cacheLayout(lowered);
      const notes: string[] = [];
      const failures: string[] = [];
      try {
        for (const s of PROMPTS) {
          const prompt = greedy[`prompt_${s}`];
          const ref = greedy[`greedy_48_from_${s}`];
          const rel = relativeError(fp32Logits.get(s) as Float32Array, await promptLogits(backend, layout, prompt));
          if (!(rel < REL_TOLERANCE)) failures.push(`seq ${s}: relative error ${rel}`);
          // Teacher forcing: both precisions read prompt + the fp32 reference tokens; compare each step's choice.
          const forcedIds = [...prompt, ...ref.slice(0, STEPS - 1)];
          const lo = await promptLogits(backend, layout, forcedIds);
          const hi = await promptLogits(fp32, undefined, forcedIds);
          const verdict = forcedAgreement(hi, lo, ref, s - 1, vocab);
          if (verdict.agreement < MIN_FORCED_AGREEMENT) failures.push(`seq ${s}: teacher-forced agreement ${verdict.agreement}`);
          failures.push(...verdict.unexplained.map((u) => `seq ${s}: ${u}`));
          let free = '';
          if (layout) {
            const gen = await generateWithStaticCache(backend, layout, [prompt], { maxNewTokens: STEPS, ignoreEos: true });
            const div = firstDivergence(gen.tokens[0], ref);
            free = `, free-running ${div === STEPS ? 'equal' : `diverges at step ${div}`}`;
          }
          notes.push(`seq ${s}: rel ${rel.toExponential(2)}, forced ${(verdict.agreement * 100).toFixed(0)}%${verdict.ties ? ` (${verdict.ties} near-tie${verdict.ties > 1 ? 's' : ''})` : ''}${free}`);
        }
      } finally {
        measured.push(`${name} opset ${opset} ${cache}: ${notes.join('; ')}`);
        await backend.dispose();
      }
      expect(failures).toEqual([]);
    });

    test('BF16: the FP16 graph with bfloat16 for float16, verify clean', () => {
      const bf16 = lowerLlm(original, { cache, precision: 'BF16', maxSeqLen: cache === 'none' ? undefined : MAX_SEQ }).model;
      expect(verify(bf16)).toEqual([]);
      expect(typeConflicts(bf16)).toEqual([]);
      expect(needlessCasts(bf16)).toEqual([]);
      expect(graphSignature(bf16)).toEqual(graphSignature(lowered).map((s) => s.replace(/FLOAT16/g, 'BFLOAT16')));
      expect([...bf16.graph.initializers.values()].some((v) => v.dtype === DataType.FLOAT16)).toBe(false);
      expect(bf16.graph.outputs[0].dtype).toBe(DataType.FLOAT);
      if (cache !== 'none') expect(cacheLayout(bf16)?.layers[0].dtype).toBe('bfloat16');
    });
  });
});

/** Ops, attributes, value types and initializer types in graph order (dtype names spelled out). */
function graphSignature(model: Model): string[] {
  const t = (v: { dtype?: DataType; shape?: readonly unknown[] } | null) => (v ? `${v.dtype === undefined ? '?' : dataTypeName(v.dtype)}` : '-');
  const lines = model.graph.nodes.toArray().map((n) => {
    const attrs = [...n.attributes.values()].map((a) => (a.name === 'to' ? `to=${dataTypeName(Number(a.value))}` : `${a.name}=${typeof a.value === 'object' ? '…' : String(a.value)}`)).join(',');
    return `${n.op}(${n.inputs.map(t).join(',')}) -> ${n.outputs.map(t).join(',')} [${attrs}]`;
  });
  const inits = [...model.graph.initializers.values()].map((v) => `init ${v.name}: ${t(v)} ${v.constValue ? dataTypeName(v.constValue.dtype) : ''}`);
  const io = [...model.graph.inputs, ...model.graph.outputs].map((v) => `io ${v.name}: ${t(v)}`);
  return [...lines, ...inits, ...io];
}
