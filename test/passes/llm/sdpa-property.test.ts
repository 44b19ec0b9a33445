// Property (issue 4 acceptance): attention subgraphs in every exporter form — dynamo opset ≤ 22, Hugging Face
// eager, TorchScript, dynamo opset 23 Attention with repeat_kv — with random batch, KV heads, group size
// (Hq = Hkv·group), sequence length, head size, scale placement and mask form canonicalise into exactly one
// Attention that reads q, k, v directly (GQA kept), carries the right scale, uses is_causal exactly when the mask
// is causal, keeps non-causal masks, and matches the original on onnxruntime within 1e-4.
import fc from 'fast-check';
import { caseArb, checkCase, FORMS } from './attention-forms';

// 25 per form keeps CI fast; LLM_PROPERTY_RUNS=500 explores more locally.
const NUM_RUNS = Number(process.env.LLM_PROPERTY_RUNS ?? 25);

describe.each(FORMS)('sdpa_canonicalize property: %s form', (form) => {
  test(`${NUM_RUNS} random cases canonicalise and match numerically`, async () => {
    await fc.assert(fc.asyncProperty(caseArb(form), async (c) => {
      await checkCase(c);
    }), { numRuns: NUM_RUNS });
  });
});
