// Shared body of the per-target fixture tests: every export, lowered with each cache kind for one TensorRT
// target, passes checkTrt and keeps the reference logits and greedy tokens on onnxruntime CPU.
import '../../../src/converters/trt';
import { checkTrt, formatViolation } from '../../../src/converters/trt';
import type { Model } from '../../../src/ir/model';
import { CACHE_KINDS, lowerLlm } from '../../../src/passes/llm';
import { cacheLayout } from '../../../src/runtime/cache-layout';
import { generate, generateWithStaticCache } from '../../../src/runtime/generate';
import { int64Host } from '../../../src/runtime/host-tensor';
import { OrtBackend } from '../../../src/runtime/ort-backend';
import { loadExport, loadReference, maxAbsDiff, MODEL_NAMES, OPSETS, referencePrompt } from '../../helpers/models';

const models = new Map<string, Model>();
function exportOf(name: string, opset: number): Model {
  const key = `${name}@${opset}`;
  let m = models.get(key);
  if (!m) models.set(key, (m = loadExport(name, opset)));
  return m;
}

export function describeFixturesForTarget(target: string): void {
  describe(`fixtures lowered for ${target}`, () => {
    for (const name of MODEL_NAMES) {
      for (const opset of OPSETS) {
        test.each(CACHE_KINDS.map((c) => [c]))(`${name}.dynamo${opset}, cache %s: checkTrt clean, logits and greedy tokens kept`, async (cache) => {
          const ref = loadReference(name);
          const prompt = referencePrompt(ref);
          const lowered = lowerLlm(exportOf(name, opset), { cache, target }).model;
          expect(checkTrt(lowered, target).map(formatViolation)).toEqual([]);
          expect(lowered.metadata.get('onnx_lower.trt.target')).toBe(target);

          const backend = await OrtBackend.create(lowered);
          try {
            const layout = cacheLayout(lowered);
            if (cache === 'none') {
              expect(layout).toBeUndefined();
              const out = await backend.run({ input_ids: int64Host(prompt, [1, prompt.length]), position_ids: int64Host(prompt.map((_, i) => i), [1, prompt.length]) });
              expect(maxAbsDiff(out.logits.data as Float32Array, ref.logits)).toBeLessThanOrEqual(1e-4);
              const gen = await generate(backend, [prompt], { maxNewTokens: 16, ignoreEos: true });
              expect(gen.tokens[0]).toEqual(ref.greedy_16);
            } else {
              if (!layout) throw new Error('no static cache in the lowered model');
              // Prefill logits: one call with start 0, end = prompt length, zero caches.
              const maxSeq = layout.maxSeqLen ?? 32;
              const feeds: Record<string, ReturnType<typeof int64Host>> = {
                input_ids: int64Host(prompt, [1, prompt.length]),
                position_ids: int64Host(prompt.map((_, i) => i), [1, prompt.length]),
                start_idx: int64Host([0], []),
                end_idx: int64Host([prompt.length], []),
              };
              for (const l of layout.layers) {
                const zeros = { type: 'float32', dims: [1, l.heads, maxSeq, l.headDim], data: new Float32Array(l.heads * maxSeq * l.headDim) };
                feeds[l.keyName] = zeros as never;
                feeds[l.valueName] = zeros as never;
              }
              const out = await backend.run(feeds);
              expect(maxAbsDiff(out.logits.data as Float32Array, ref.logits)).toBeLessThanOrEqual(1e-4);
              const gen = await generateWithStaticCache(backend, layout, [prompt], { maxNewTokens: 16, ignoreEos: true, maxSeqLen: maxSeq });
              expect(gen.tokens[0]).toEqual(ref.greedy_16);
              // Chunked prefill (query length ≠ key length inside the prompt) must agree too.
              const chunked = await generateWithStaticCache(backend, layout, [prompt], { maxNewTokens: 16, ignoreEos: true, maxSeqLen: maxSeq, prefillChunk: 3 });
              expect(chunked.tokens[0]).toEqual(ref.greedy_16);
            }
          } finally {
            await backend.dispose();
          }
        });
      }
    }
  });
}
