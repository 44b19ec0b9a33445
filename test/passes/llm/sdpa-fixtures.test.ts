// Acceptance (issue 4): every fixture, both opsets — after the llm pipeline without a cache, and after
// sdpa_canonicalize alone — has exactly num_hidden_layers canonical Attention nodes, no Softmax outside them, no
// CumSum/GatherND mask machinery, no repeat_kv (K/V keep the config's KV heads), and the original's logits on
// onnxruntime (≤ 1e-4) for sequence lengths 1, 2, 7, 64 and 200.
import type { Model } from '../../../src/ir/model';
import type { Value } from '../../../src/ir/value';
import { verify } from '../../../src/ir/verify';
import { attentionNodes, lowerLlm } from '../../../src/passes/llm';
import { loadExport, referencePrompt } from '../../helpers/models';
import {
  ALL_FIXTURES, allNodes, canonicalizeOnly, fixtureConfig, FixtureConfig, LogitsRunner, maxAbsDiff, promptOf, reference,
} from '../../helpers/llm';

const LENGTHS = [1, 2, 7, 64, 200];
const TOL = 1e-4;

/** The first producers along input 0 (Reshape ← Expand ← Unsqueeze is repeat_kv's chain). */
function producerChain(v: Value, depth: number): string[] {
  const ops: string[] = [];
  let cur: Value | null = v;
  for (let i = 0; i < depth && cur?.producer; i++) {
    ops.push(cur.producer.op);
    cur = cur.producer.inputs[0];
  }
  return ops;
}

function checkStructure(model: Model, cfg: FixtureConfig): void {
  expect(verify(model)).toEqual([]);
  const attns = attentionNodes(model);
  expect(attns).toHaveLength(cfg.layers);
  const ops = allNodes(model).map((n) => n.op);
  // Softmax may only live inside Attention: none as a node of its own.
  expect(ops.filter((o) => o === 'Softmax')).toEqual([]);
  expect(ops.filter((o) => o === 'CumSum' || o === 'GatherND')).toEqual([]);
  // The exporters' masks are causal for contiguous positions: every one must have become is_causal.
  for (const a of attns) {
    expect(a.attrInt('is_causal', 0)).toBe(1);
    expect(a.inputs[3] ?? null).toBeNull();
    const [q, k, v] = a.inputs as Value[];
    for (const kv of [k, v]) {
      expect(producerChain(kv, 3)).not.toContain('Expand');
      expect(kv.shape?.length).toBe(4);
      expect(kv.shape?.[1]).toBe(cfg.kvHeads);
      expect(kv.shape?.[3]).toBe(cfg.headDim);
    }
    expect(q.shape?.[1]).toBe(cfg.heads);
  }
  expect(model.opset('')).toBeGreaterThanOrEqual(23);
}

describe.each(ALL_FIXTURES)('%s opset %i: attention canonicalisation', (name, opset) => {
  const ref = reference(name);
  const cfg = fixtureConfig(ref);
  const original = loadExport(name, opset);
  const lowered = lowerLlm(original, { cache: 'none' }).model;
  const canonical = canonicalizeOnly(original);
  const runners: Record<string, LogitsRunner> = {};

  beforeAll(async () => {
    runners.original = await LogitsRunner.create(original);
    runners.lowered = await LogitsRunner.create(lowered);
    runners.canonical = await LogitsRunner.create(canonical);
  });
  afterAll(async () => {
    for (const r of Object.values(runners)) await r.release();
  });

  test('the original export really has the mask machinery and decomposed or repeat_kv attention', () => {
    const ops = allNodes(original).map((n) => n.op);
    expect(ops).toContain('CumSum');
    expect(ops).toContain('GatherND');
    if (opset === 18) expect(ops).toContain('Softmax');
    else expect(ops.filter((o) => o === 'Attention')).toHaveLength(cfg.layers);
    if (cfg.kvHeads !== cfg.heads) expect(ops).toContain('Expand');
  });

  test('llm pipeline (cache none): structure', () => checkStructure(lowered, cfg));
  test('sdpa_canonicalize alone: structure', () => checkStructure(canonical, cfg));

  test.each(LENGTHS)('logits equal the original at sequence length %i', async (len) => {
    const ids = promptOf(len, cfg.vocab).map((x, i) => (x + 3 * i * i) % cfg.vocab);
    const want = await runners.original.logits(ids);
    expect(want.length).toBe(len * cfg.vocab);
    for (const which of ['lowered', 'canonical']) {
      const got = await runners[which].logits(ids);
      const d = maxAbsDiff(got, want);
      if (!(d <= TOL)) throw new Error(`${which}: max |Δlogits| = ${d} at seq ${len}`);
    }
  });

  test('lowered logits match the PyTorch reference', async () => {
    const got = await runners.lowered.logits(referencePrompt(ref));
    expect(maxAbsDiff(got, ref.logits)).toBeLessThanOrEqual(TOL);
  });
});
