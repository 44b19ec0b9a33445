import fc from 'fast-check';
import { checkTrt, formatViolation, legalizeForTrt } from '../../../src/converters/trt';
import { Attribute } from '../../../src/ir/attribute';
import { DataType } from '../../../src/ir/dtype';
import type { Model } from '../../../src/ir/model';
import { verify } from '../../../src/ir/verify';
import { ort } from '../../../src/runtime/ort-session';
import { bool, f16, f32, maxDiff, randomFloats, run, runBoth, tiny } from './graphs';

type MaskForm = 'none' | 'bool4d' | 'bool2d' | 'float4d' | 'causal' | 'causal+bool';

interface Config {
  batch: number;
  kvHeads: number;
  rep: number;
  s: number;
  extraT: number;
  d: number;
  scale?: number;
  mask: MaskForm;
  softcap: number;
  threeD: boolean;
  seed: number;
}

/** One Attention node with graph inputs for Q, K, V (and the mask), plus matching random feeds. */
function attentionModel(c: Config, dtype: DataType = DataType.FLOAT): { model: Model; feeds: Record<string, ort.Tensor> } {
  const t = tiny(23);
  const hq = c.kvHeads * c.rep;
  const T = c.s + c.extraT;
  const qShape = c.threeD ? [c.batch, c.s, hq * c.d] : [c.batch, hq, c.s, c.d];
  const kShape = c.threeD ? [c.batch, T, c.kvHeads * c.d] : [c.batch, c.kvHeads, T, c.d];
  const make = dtype === DataType.FLOAT16 ? f16 : f32;
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const feeds: Record<string, ort.Tensor> = {
    q: make(randomFloats(size(qShape), c.seed), qShape),
    k: make(randomFloats(size(kShape), c.seed + 1), kShape),
    v: make(randomFloats(size(kShape), c.seed + 2), kShape),
  };
  const inputs = [t.input('q', dtype, qShape), t.input('k', dtype, kShape), t.input('v', dtype, kShape)];
  const attrs: Record<string, number | Attribute> = {};
  if (c.scale !== undefined) attrs.scale = Attribute.float('scale', c.scale);
  if (c.softcap) attrs.softcap = Attribute.float('softcap', c.softcap);
  if (c.threeD) Object.assign(attrs, { q_num_heads: hq, kv_num_heads: c.kvHeads });
  if (c.mask === 'causal' || c.mask === 'causal+bool') attrs.is_causal = 1;
  if (c.mask === 'bool4d' || c.mask === 'bool2d' || c.mask === 'causal+bool') {
    const shape = c.mask === 'bool2d' ? [c.s, T] : [c.batch, 1, c.s, T];
    // Column 0 always attends, so no row is fully masked (where the decomposition gives NaN, see its doc).
    const bits = Array.from(randomFloats(size(shape), c.seed + 3), (x, i) => i % T === 0 || x > -0.3);
    inputs.push(t.input('mask', DataType.BOOL, shape));
    feeds.mask = bool(bits, shape);
  } else if (c.mask === 'float4d') {
    const shape = [c.batch, 1, c.s, T];
    inputs.push(t.input('mask', dtype, shape));
    feeds.mask = make(Array.from(randomFloats(size(shape), c.seed + 4), (x) => x * 3), shape);
  }
  const y = t.b.op('Attention', inputs, attrs);
  t.output(y, 'y', dtype, c.threeD ? [c.batch, c.s, hq * c.d] : [c.batch, hq, c.s, c.d]);
  return { model: t.model, feeds };
}

const configArb: fc.Arbitrary<Config> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  kvHeads: fc.integer({ min: 1, max: 2 }),
  rep: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 5 }),
  extraT: fc.integer({ min: 0, max: 4 }),
  d: fc.constantFrom(4, 8),
  scale: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
  mask: fc.constantFrom<MaskForm>('none', 'bool4d', 'bool2d', 'float4d', 'causal', 'causal+bool'),
  softcap: fc.constantFrom(0, 0, 4),
  threeD: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

async function roundTrip(c: Config, target: string) {
  const { model, feeds } = attentionModel(c);
  const r = await runBoth(model, (m) => legalizeForTrt(m, target, { profile: false }), feeds);
  expect(verify(r.model)).toEqual([]);
  expect(checkTrt(r.model, target).map(formatViolation)).toEqual([]);
  return { diff: maxDiff(r.before.y, r.after.y), model: r.model };
}

describe('SDPA converter (trt@10.8): Attention → MatMul/Softmax decomposition matches onnxruntime', () => {
  test('random shapes, GQA, scales, masks, causal, softcap, 3-D inputs', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, async (c) => {
        const { diff, model } = await roundTrip(c, 'trt@10.8');
        expect(model.graph.nodes.toArray().some((n) => n.op === 'Attention')).toBe(false);
        expect(diff).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 30, seed: 7 },
    );
  });

  test('GQA is repeated with Unsqueeze → Expand → Reshape and the bool mask bias is shared by two layers', async () => {
    const t = tiny(23);
    const q = t.input('q', DataType.FLOAT, [1, 4, 's', 8]);
    const k = t.input('k', DataType.FLOAT, [1, 2, 't', 8]);
    const v = t.input('v', DataType.FLOAT, [1, 2, 't', 8]);
    const mask = t.input('mask', DataType.BOOL, [1, 1, 's', 't']);
    const y1 = t.b.op('Attention', [q, k, v, mask]);
    y1.type = q.type;
    const y2 = t.b.op('Attention', [y1, k, v, mask]);
    t.output(y2, 'y', DataType.FLOAT, [1, 4, 's', 8]);
    legalizeForTrt(t.model, 'trt@10.8', { profile: false });
    const ops = t.model.graph.nodes.toArray().map((n) => n.op);
    expect(ops.filter((o) => o === 'Where')).toHaveLength(1); // one bias for both layers
    expect(ops.filter((o) => o === 'Softmax')).toHaveLength(2);
    expect(ops.filter((o) => o === 'Expand')).toHaveLength(4); // K and V of each layer
    const s = 3;
    const T = 5;
    const feeds = { q: f32(randomFloats(4 * s * 8, 1), [1, 4, s, 8]), k: f32(randomFloats(2 * T * 8, 2), [1, 2, T, 8]), v: f32(randomFloats(2 * T * 8, 3), [1, 2, T, 8]), mask: bool(Array.from({ length: s * T }, (_, i) => i % T <= (i / T | 0) + 2), [1, 1, s, T]) };
    expect((await run(t.model, feeds)).y).toHaveLength(4 * s * 8);
  });

  test('fp16 with fp32 accumulation (use_fp32_acc): Casts around the core, closer to the fp32 result', async () => {
    const c: Config = { batch: 1, kvHeads: 2, rep: 2, s: 4, extraT: 3, d: 8, mask: 'bool4d', softcap: 0, threeD: false, seed: 11 };
    const ref = await run(attentionModel(c).model, attentionModel(c).feeds);
    const half = attentionModel(c, DataType.FLOAT16);
    const acc = await runBoth(half.model, (m) => legalizeForTrt(m, 'trt@10.8', { profile: false, fp32Acc: true }), half.feeds);
    const casts = acc.model.graph.nodes.toArray().filter((n) => n.op === 'Cast').map((n) => n.attrInt('to'));
    expect(casts.filter((to) => to === DataType.FLOAT)).toHaveLength(3); // Q, K, V up
    expect(casts.filter((to) => to === DataType.FLOAT16)).toHaveLength(1); // Y down
    expect(acc.model.graph.nodes.toArray().filter((n) => n.op === 'MatMul').every((n) => n.inputs[0]?.dtype === DataType.FLOAT)).toBe(true);
    expect(maxDiff(acc.after.y, ref.y)).toBeLessThanOrEqual(2e-3);
    expect(maxDiff(acc.before.y, ref.y)).toBeLessThanOrEqual(2e-2);
    const plain = await runBoth(half.model, (m) => legalizeForTrt(m, 'trt@10.8', { profile: false }), half.feeds);
    expect(plain.model.graph.nodes.toArray().some((n) => n.op === 'Cast')).toBe(false);
    expect(maxDiff(plain.after.y, ref.y)).toBeLessThanOrEqual(2e-2);
  });
});

describe('Attention for trt@10.14 / 10.15: kept where the importer accepts it, fixed where not', () => {
  test('is_causal with unequal query/key lengths becomes the explicit top-left mask (same numbers)', async () => {
    const c: Config = { batch: 1, kvHeads: 2, rep: 2, s: 3, extraT: 2, d: 8, mask: 'causal', softcap: 0, threeD: false, seed: 5 };
    const { model, feeds } = attentionModel(c);
    // Declare symbolic lengths so S == T cannot be proved.
    const [q, k, v] = model.graph.inputs;
    q.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 4, 'q_len', 8] };
    k.type = { kind: 'tensor', elemType: DataType.FLOAT, shape: [1, 2, 'kv_len', 8] };
    v.type = k.type;
    expect(checkTrt(model, 'trt@10.14').map((x) => x.rule)).toEqual(['attention_causal_alignment']);
    const r = await runBoth(model, (m) => legalizeForTrt(m, 'trt@10.14', { profile: false }), feeds);
    const attn = r.model.graph.nodes.toArray().find((n) => n.op === 'Attention');
    expect(attn?.attrInt('is_causal')).toBe(0);
    expect(attn?.inputs[3]?.name).toMatch(/^trt_causal_mask/);
    expect(r.model.graph.nodes.toArray().map((n) => n.op)).toEqual(expect.arrayContaining(['Range', 'LessOrEqual']));
    expect(checkTrt(r.model, 'trt@10.14')).toEqual([]);
    expect(maxDiff(r.before.y, r.after.y)).toBeLessThanOrEqual(1e-6);
  });

  test('is_causal with S == T provable is kept; causal + mask are merged into one mask', async () => {
    const same = attentionModel({ batch: 1, kvHeads: 1, rep: 2, s: 4, extraT: 0, d: 4, mask: 'causal', softcap: 0, threeD: false, seed: 3 });
    legalizeForTrt(same.model, 'trt@10.15', { profile: false });
    expect(same.model.graph.nodes.toArray().map((n) => n.op)).toEqual(['Attention']);
    expect(same.model.graph.nodes.first?.attrInt('is_causal')).toBe(1);

    const both = attentionModel({ batch: 2, kvHeads: 1, rep: 2, s: 4, extraT: 0, d: 4, mask: 'causal+bool', softcap: 0, threeD: false, seed: 9 });
    expect(checkTrt(both.model, 'trt@10.15').map((x) => x.rule)).toEqual(['attention_causal_with_mask']);
    const r = await runBoth(both.model, (m) => legalizeForTrt(m, 'trt@10.15', { profile: false }), both.feeds);
    expect(r.model.graph.nodes.toArray().some((n) => n.op === 'And')).toBe(true);
    expect(checkTrt(r.model, 'trt@10.15')).toEqual([]);
    expect(maxDiff(r.before.y, r.after.y)).toBeLessThanOrEqual(1e-6);
  });

  test('a 2-D mask is lifted to 4-D; softcap and 3-D inputs fall back to the decomposition', async () => {
    const m2 = attentionModel({ batch: 1, kvHeads: 2, rep: 1, s: 3, extraT: 1, d: 4, mask: 'bool2d', softcap: 0, threeD: false, seed: 21 });
    expect(checkTrt(m2.model, 'trt@10.14').map((x) => x.rule)).toEqual(['attention_4d']);
    const r2 = await runBoth(m2.model, (m) => legalizeForTrt(m, 'trt@10.14', { profile: false }), m2.feeds);
    expect(r2.model.graph.nodes.toArray().map((n) => n.op)).toEqual(['Unsqueeze', 'Attention']);
    expect(maxDiff(r2.before.y, r2.after.y)).toBeLessThanOrEqual(1e-6);

    for (const c of [{ softcap: 4, threeD: false }, { softcap: 0, threeD: true }]) {
      const m = attentionModel({ batch: 1, kvHeads: 1, rep: 2, s: 3, extraT: 0, d: 4, mask: 'none', seed: 8, ...c });
      const r = await runBoth(m.model, (x) => legalizeForTrt(x, 'trt@10.15', { profile: false }), m.feeds);
      expect(r.model.graph.nodes.toArray().some((n) => n.op === 'Attention')).toBe(false);
      expect(checkTrt(r.model, 'trt@10.15')).toEqual([]);
      expect(maxDiff(r.before.y, r.after.y)).toBeLessThanOrEqual(1e-5);
    }
  });

  test('random configurations stay equal and pass checkTrt for 10.14 and 10.15', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.constantFrom('trt@10.14', 'trt@10.15'), async (c, target) => {
        const { diff } = await roundTrip(c, target);
        expect(diff).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 20, seed: 13 },
    );
  });
});
