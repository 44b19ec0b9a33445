// A tiny causal LM drawn with the IR API, with a DYNAMIC batch dim (the fixture exports fix batch to 1):
// learned positions, one GQA attention layer (4 query heads, 2 KV heads, head size 4) in the Hugging Face eager
// form with repeat_kv and a Range-built causal mask, and an LM head over a 32-token vocabulary.
import { Builder } from '../../src/ir/builder';
import { DataType } from '../../src/ir/dtype';
import { Graph } from '../../src/ir/graph';
import { Model } from '../../src/ir/model';
import { RawTensor, tensor } from '../../src/ir/tensor';
import { tensorType } from '../../src/ir/type';
import type { Value } from '../../src/ir/value';

export const TINY = { vocab: 32, hidden: 16, heads: 4, kvHeads: 2, headDim: 4, maxPositions: 64 } as const;

function weights(seed: number, n: number, scale: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
}

export function tinyLm(seed = 7): Model {
  const { vocab, hidden, heads, kvHeads, headDim, maxPositions } = TINY;
  const g = new Graph('tiny_lm');
  const model = new Model(g);
  model.opsetImports.set('', 18);
  const b = new Builder(g);
  let n = 0;
  const w = (dims: number[], scale: number) => g.addInitializer(`w${n++}`, RawTensor.fromArray(DataType.FLOAT, dims, weights(seed * 101 + n, dims[0] * dims[1], scale)));
  const i64 = (values: number[], dims = [values.length]) => g.addInitializer(`c${n++}`, tensor.int64(dims, values));
  const typed = (v: Value, shape: (number | string)[]) => {
    v.type = tensorType(DataType.FLOAT, shape);
    return v;
  };

  const ids = g.addInput({ name: 'input_ids', type: tensorType(DataType.INT64, ['batch', 'seq']) });
  const pos = g.addInput({ name: 'position_ids', type: tensorType(DataType.INT64, ['batch', 'seq']) });
  const x = b.op('Add', [b.op('Gather', [w([vocab, hidden], 1), ids]), b.op('Gather', [w([maxPositions, hidden], 0.5), pos])]);
  const project = (outDim: number, nHeads: number) => {
    const y = b.op('Reshape', [b.op('MatMul', [x, w([hidden, outDim], 0.6)]), i64([0, 0, nHeads, headDim])]);
    return typed(b.op('Transpose', [y], { perm: [0, 2, 1, 3] }), ['batch', nHeads, 'seq', headDim]);
  };
  const q = project(heads * headDim, heads);
  const k = project(kvHeads * headDim, kvHeads);
  const v = project(kvHeads * headDim, kvHeads);
  const group = heads / kvHeads;
  const repeat = (kv: Value) => {
    const shape = b.op('Shape', [kv]);
    const piece = (from: number, to: number) => b.op('Slice', [shape, i64([from]), i64([to])]);
    const expanded = b.op('Expand', [b.op('Unsqueeze', [kv, i64([2])]), b.op('Concat', [piece(0, 1), i64([kvHeads, group]), piece(2, 3), i64([headDim])], { axis: 0 })]);
    return typed(b.op('Reshape', [expanded, b.op('Concat', [piece(0, 1), i64([heads]), piece(2, 3), i64([headDim])], { axis: 0 })]), ['batch', heads, 'seq', headDim]);
  };
  const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [repeat(k)], { perm: [0, 1, 3, 2] })]), g.addInitializer('scaling', tensor.float32([], [1 / Math.sqrt(headDim)]))]);
  const len = b.op('Squeeze', [b.op('Shape', [ids], { start: 1, end: 2 }), i64([0])]);
  const r = b.op('Range', [i64([0], []), len, i64([1], [])]);
  const causal = b.op('LessOrEqual', [b.op('Unsqueeze', [r, i64([0])]), b.op('Unsqueeze', [r, i64([1])])]);
  const bias = b.op('Where', [causal, g.addInitializer('zero', tensor.float32([], [0])), g.addInitializer('min', tensor.float32([], [-3.4028234663852886e38]))]);
  const probs = b.op('Softmax', [b.op('Add', [scores, bias])], { axis: -1 });
  const attn = b.op('MatMul', [probs, repeat(v)]);
  const merged = b.op('Reshape', [b.op('Transpose', [attn], { perm: [0, 2, 1, 3] }), i64([0, 0, hidden])]);
  const h = b.op('Add', [x, b.op('MatMul', [merged, w([hidden, hidden], 0.6)])]);
  const logits = b.op('MatMul', [h, w([hidden, vocab], 1.5)]);
  logits.name = 'logits';
  logits.type = tensorType(DataType.FLOAT, ['batch', 'seq', vocab]);
  g.addOutput(logits);
  return model;
}
