// Regression tests for sdpa_canonicalize: shrunk property counterexamples and hand-found unsound rewrites. Each
// was wrong before the fix named in its title (see the commit that added this file).
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { attentionNodes, proveCausal } from '../../../src/passes/llm';
import { ort } from '../../../src/runtime/ort-session';
import { allNodes, canonicalizeOnly, maxAbsDiff } from '../../helpers/llm';
import { AttentionCase, checkCase, rng, runOut } from './attention-forms';

const BASE: AttentionCase = {
  form: 'dynamo', batch: 1, kvHeads: 1, group: 1, seq: 1, headDim: 4, scale: 'default', placement: 'split', mask: 'causalRange',
  maskApply: 'addWhere', maskRank: 2, neg: -Infinity, repeatShape: 'shapeOf', repeatTarget: 'const', softmaxAxis: -1,
  headDimFrom: 'gatherLast', kvSeq: 'seq', kShape: 'slices', seed: 0,
};

describe('shrunk property counterexamples', () => {
  // repeat_kv whose Expand shape keeps T with a 1 (torch.onnx writes expand(-1, …) so) and whose Reshape target
  // reads T from Shape(kv): stripRepeatKv compared the target's T with the Expand's 1 and left repeat_kv in place.
  test.each(['dynamo', 'eager', 'torchscript', 'attention23'] as const)('%s: repeat_kv with Expand shape [B, Hkv, n, 1, D] is removed', async (form) => {
    await checkCase({ ...BASE, form, group: 2, repeatShape: 'ones', repeatTarget: 'shapeOf', placement: form === 'torchscript' ? 'scores' : 'split' });
  });

  // TorchScript's scale read from Shape(k) (the un-repeated key) while the MatMul sees the repeated key.
  test('torchscript: default scale from the shape of the un-repeated key', async () => {
    await checkCase({ ...BASE, form: 'torchscript', group: 2, placement: 'scores', headDimFrom: 'keyShape' });
  });

  // constant_folding turns the static pieces of dynamo's kᵀ reshape targets (D, and [B, H]) into constants; the
  // score chain only accepted Slice(Shape(k)) pieces, so after the cleanup pipeline no attention matched.
  test.each(['folded', 'shapeAttrs'] as const)('dynamo kᵀ with %s reshape targets', async (kShape) => {
    await checkCase({ ...BASE, kShape, batch: 2, kvHeads: 2, group: 2, seq: 5 });
  });

  test('a larger mixed case: GQA 3:1, batch 2, kept random mask, custom scale', async () => {
    await checkCase({ ...BASE, batch: 2, kvHeads: 2, group: 3, seq: 9, headDim: 16, scale: 0.3, mask: 'randomInput', maskRank: 4, maskApply: 'fillNot', seed: 5 });
  });
});

interface Drawn {
  model: Model;
  g: Graph;
  b: Builder;
  q: Value;
  k: Value;
  v: Value;
  i64: (values: number[], dims?: number[]) => Value;
  f32: (x: number) => Value;
  finish: (out: Value) => Model;
}

/** q [1, 2, seq, 4], k and v [1, 2, kvSeq, 4] as graph inputs. */
function draw(kvSeq = 'seq', opset = 18): Drawn {
  const g = new Graph('regression');
  const model = new Model(g);
  model.opsetImports.set('', opset);
  const q = g.addInput({ name: 'q', type: tensorType(DataType.FLOAT, [1, 2, 'seq', 4]) });
  const k = g.addInput({ name: 'k', type: tensorType(DataType.FLOAT, [1, 2, kvSeq, 4]) });
  const v = g.addInput({ name: 'v', type: tensorType(DataType.FLOAT, [1, 2, kvSeq, 4]) });
  let n = 0;
  return {
    model, g, b: new Builder(g), q, k, v,
    i64: (values, dims = [values.length]) => g.addInitializer(`i64_${n++}`, tensor.int64(dims, values)),
    f32: (x) => g.addInitializer(`f32_${n++}`, tensor.float32([], [x])),
    finish: (out) => {
      out.name = 'out';
      out.type = tensorType(DataType.FLOAT, [1, 2, 'seq', 4]);
      g.addOutput(out);
      return model;
    },
  };
}

function feeds(S: number, T: number, extra: Record<string, ort.Tensor> = {}): Record<string, ort.Tensor> {
  const r = rng(S * 31 + T);
  const data = (n: number) => Float32Array.from({ length: n }, () => r() * 4 - 2);
  return {
    q: new ort.Tensor('float32', data(8 * S), [1, 2, S, 4]),
    k: new ort.Tensor('float32', data(8 * T), [1, 2, T, 4]),
    v: new ort.Tensor('float32', data(8 * T), [1, 2, T, 4]),
    ...extra,
  };
}

async function expectSameOutput(model: Model, lowered: Model, f: Record<string, ort.Tensor>): Promise<void> {
  expect(maxAbsDiff(await runOut(lowered, f), await runOut(model, f))).toBeLessThanOrEqual(1e-4);
}

/** softmax(q·kᵀ·0.5 masked by `mask`) · v with the mask as Where(mask, scores, -1e9). */
function maskedAttention(d: Drawn, mask: Value): Value {
  const { b, q, k, v } = d;
  const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), d.f32(0.5)]);
  const masked = b.op('Where', [mask, scores, d.f32(-1e9)]);
  return b.op('MatMul', [b.op('Softmax', [masked], { axis: -1 }), v]);
}

describe('hand-found unsound rewrites', () => {
  // Before: any Sqrt(Cast(Gather(Shape(·), i))) counted as 1/√head_dim, so dividing by √seq_len became the default scale.
  test('Div by sqrt(Shape(q)[2]) (the sequence length) is not mistaken for the default 1/sqrt(head_dim)', async () => {
    const d = draw();
    const { b, q, k, v } = d;
    const scores = b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
    const seqLen = b.op('Gather', [b.op('Shape', [q]), d.i64([2], [])], { axis: 0 });
    const scaled = b.op('Div', [scores, b.op('Sqrt', [b.op('Cast', [seqLen], { to: DataType.FLOAT })])]);
    const model = d.finish(b.op('MatMul', [b.op('Softmax', [scaled], { axis: -1 }), v]));
    const lowered = canonicalizeOnly(model);
    expect(attentionNodes(lowered)).toHaveLength(0);
    await expectSameOutput(model, lowered, feeds(7, 7));
  });

  test('Div by sqrt(Shape(q)[-1]) and by sqrt(Shape(q)[3]) are the default scale', async () => {
    for (const index of [-1, 3]) {
      const d = draw();
      const { b, q, k, v } = d;
      const scores = b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
      const dim = b.op('Gather', [b.op('Shape', [q]), d.i64([index], [])], { axis: 0 });
      const scaled = b.op('Div', [scores, b.op('Sqrt', [b.op('Cast', [dim], { to: DataType.FLOAT })])]);
      const model = d.finish(b.op('MatMul', [b.op('Softmax', [scaled], { axis: -1 }), v]));
      const lowered = canonicalizeOnly(model);
      const [a] = attentionNodes(lowered);
      expect(a).toBeDefined();
      expect(a.attr('scale')).toBeUndefined();
      await expectSameOutput(model, lowered, feeds(5, 5));
    }
  });

  // Before: the causal proof evaluates the mask with one length for every symbolic dim, so a bottom-right
  // (HF with past) mask over S queries and T keys looked causal, and top-left is_causal replaced it.
  test('a bottom-right causal mask with S != T possible (k has its own length symbol) is kept', async () => {
    const d = draw('kv_seq');
    const { b, q, k } = d;
    const S = b.op('Squeeze', [b.op('Shape', [q], { start: 2, end: 3 }), d.i64([0])]);
    const T = b.op('Squeeze', [b.op('Shape', [k], { start: 2, end: 3 }), d.i64([0])]);
    const qPos = b.op('Range', [b.op('Sub', [T, S]), T, d.i64([1], [])]);
    const kPos = b.op('Range', [d.i64([0], []), T, d.i64([1], [])]);
    const mask = b.op('LessOrEqual', [b.op('Unsqueeze', [kPos, d.i64([0])]), b.op('Unsqueeze', [qPos, d.i64([1])])]);
    const model = d.finish(maskedAttention(d, mask));
    const lowered = canonicalizeOnly(model);
    const [a] = attentionNodes(lowered);
    expect(a.attrInt('is_causal', 0)).toBe(0);
    expect(a.inputs[3]).toBeTruthy();
    await expectSameOutput(model, lowered, feeds(2, 5));
    await expectSameOutput(model, lowered, feeds(4, 4));
  });

  // Before: the proof probed input_ids with two id patterns only, so a mask that drops a padding token id proved causal.
  test('a causal mask that also reads input_ids values (padding by token id) is kept', async () => {
    const d = draw();
    const { b, g, q } = d;
    const ids = g.addInput({ name: 'input_ids', type: tensorType(DataType.INT64, [1, 'seq']) });
    const S = b.op('Squeeze', [b.op('Shape', [q], { start: 2, end: 3 }), d.i64([0])]);
    const r = b.op('Range', [d.i64([0], []), S, d.i64([1], [])]);
    const causal = b.op('LessOrEqual', [b.op('Unsqueeze', [r, d.i64([0])]), b.op('Unsqueeze', [r, d.i64([1])])]);
    const notPad = b.op('Not', [b.op('Equal', [ids, d.i64([200], [])])]);
    const mask = b.op('And', [causal, notPad]);
    const model = d.finish(maskedAttention(d, mask));
    expect(proveCausal(model, mask, 'bool')).toEqual({ causal: false, reason: expect.stringContaining("'input_ids'") });
    const lowered = canonicalizeOnly(model);
    const [a] = attentionNodes(lowered);
    expect(a.attrInt('is_causal', 0)).toBe(0);
    expect(a.inputs[3]).toBeTruthy();
    await expectSameOutput(model, lowered, feeds(3, 3, { input_ids: new ort.Tensor('int64', BigInt64Array.from([5n, 200n, 7n]), [1, 3]) }));
  });

  test('a mask that reads only position_ids values and shapes is still proved causal', () => {
    const d = draw();
    const { b, g } = d;
    const pos = g.addInput({ name: 'position_ids', type: tensorType(DataType.INT64, [1, 'seq']) });
    const mask = b.op('LessOrEqual', [b.op('Unsqueeze', [pos, d.i64([1, 2])]), b.op('Unsqueeze', [pos, d.i64([1, 3])])]);
    const model = d.finish(maskedAttention(d, mask));
    expect(proveCausal(model, mask, 'bool')).toEqual({ causal: true });
    expect(attentionNodes(canonicalizeOnly(model))[0].attrInt('is_causal', 0)).toBe(1);
  });

  // Before: the pattern required Softmax's axis attribute, so a Softmax relying on the default (-1 from opset 13) was left.
  test('Softmax without an axis attribute: canonicalised from opset 13 on, left alone before (default axis 1)', async () => {
    for (const opset of [18, 12]) {
      const d = draw('seq', opset);
      const { b, q, k, v } = d;
      const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), d.f32(0.5)]);
      const model = d.finish(b.op('MatMul', [b.op('Softmax', [scores]), v]));
      const lowered = canonicalizeOnly(model);
      expect(attentionNodes(lowered)).toHaveLength(opset >= 13 ? 1 : 0);
      expect(allNodes(lowered).some((n) => n.op === 'Softmax')).toBe(opset < 13);
      if (opset >= 13) await expectSameOutput(model, lowered, feeds(6, 6));
    }
  });
});
