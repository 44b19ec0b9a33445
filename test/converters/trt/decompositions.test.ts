import { Attribute } from '../../../src/ir/attribute';
import { checkTrt, formatViolation, legalizeForTrt, lowerOpsetImport } from '../../../src/converters/trt';
import { DataType } from '../../../src/ir/dtype';
import { tensor } from '../../../src/ir/tensor';
import { verify } from '../../../src/ir/verify';
import { f16, f32, i64, i32, maxDiff, randomFloats, run, runBoth, tiny } from './graphs';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const legalize = (target: string) => (m: import('../../../src/ir/model').Model) => {
  legalizeForTrt(m, target, { profile: false });
  expect(verify(m)).toEqual([]);
  expect(checkTrt(m, target).map(formatViolation)).toEqual([]);
};
const ops = (m: import('../../../src/ir/model').Model) => m.graph.nodes.toArray().map((n) => n.op);

describe('RMSNormalization → primitives (trt < 10.15)', () => {
  test.each([
    { name: 'last axis, fp32 stash', shape: [2, 3, 8], axis: -1, stash: 1, dtype: F },
    { name: 'two trailing axes', shape: [2, 3, 8], axis: 1, stash: 1, dtype: F },
    { name: 'fp16 input, fp32 statistics', shape: [1, 4, 16], axis: -1, stash: 1, dtype: DataType.FLOAT16 },
  ])('$name', async ({ shape, axis, stash, dtype }) => {
    const t = tiny(23);
    const x = t.input('x', dtype, shape);
    const scaleShape = shape.slice(axis < 0 ? shape.length + axis : axis);
    const n = scaleShape.reduce((a, b) => a * b, 1);
    const scaleValues = Array.from(randomFloats(n, 4), (v) => 1 + v / 2);
    const scale = t.b.constant('scale', dtype === F ? tensor.float32(scaleShape, scaleValues) : (() => {
      const { floatTensor } = require('../../../src/converters/trt/build') as typeof import('../../../src/converters/trt/build');
      return floatTensor(dtype, scaleShape, scaleValues);
    })());
    t.output(t.b.op('RMSNormalization', [x, scale], { axis, epsilon: Attribute.float('epsilon', 1e-5), stash_type: stash }), 'y', dtype, shape);
    const size = shape.reduce((a, b) => a * b, 1);
    const feeds = { x: (dtype === F ? f32 : f16)(Array.from(randomFloats(size, 2), (v) => v * 3), shape) };
    const r = await runBoth(t.model, legalize('trt@10.14'), feeds);
    expect(ops(r.model)).not.toContain('RMSNormalization');
    expect(ops(r.model)).toContain('ReduceMean');
    expect(maxDiff(r.before.y, r.after.y)).toBeLessThanOrEqual(dtype === F ? 1e-5 : 4e-3);
  });

  test('kept for 10.15', () => {
    const t = tiny(23);
    t.output(t.b.op('RMSNormalization', [t.input('x', F, [2, 8]), t.b.constant('s', tensor.float32([8], new Array(8).fill(1)))]), 'y', F, [2, 8]);
    legalizeForTrt(t.model, 'trt@10.15', { profile: false });
    expect(ops(t.model)).toEqual(['RMSNormalization']);
  });
});

describe('RotaryEmbedding → primitives (trt < 10.15)', () => {
  const B = 2;
  const H = 3;
  const S = 4;
  const D = 8;
  const MAXPOS = 12;
  test.each([
    { name: '4-D, cos/sin per token (no position_ids)', threeD: false, positions: false, interleaved: 0, rotaryDim: 0 },
    { name: '4-D, caches gathered with position_ids', threeD: false, positions: true, interleaved: 0, rotaryDim: 0 },
    { name: '4-D, interleaved', threeD: false, positions: true, interleaved: 1, rotaryDim: 0 },
    { name: '4-D, partial rotation (rotary_embedding_dim 4)', threeD: false, positions: true, interleaved: 0, rotaryDim: 4 },
    { name: '4-D, interleaved partial rotation', threeD: false, positions: true, interleaved: 1, rotaryDim: 4 },
    { name: '3-D with num_heads', threeD: true, positions: true, interleaved: 0, rotaryDim: 0 },
  ])('$name', async ({ threeD, positions, interleaved, rotaryDim }) => {
    const t = tiny(23);
    const xShape = threeD ? [B, S, H * D] : [B, H, S, D];
    const half = (rotaryDim || D) / 2;
    const cacheShape = positions ? [MAXPOS, half] : [B, S, half];
    const inputs = [t.input('x', F, xShape), t.input('cos', F, cacheShape), t.input('sin', F, cacheShape)];
    if (positions) inputs.push(t.input('pos', I64, [B, S]));
    const attrs: Record<string, number> = { interleaved };
    if (rotaryDim) attrs.rotary_embedding_dim = rotaryDim;
    if (threeD) attrs.num_heads = H;
    t.output(t.b.op('RotaryEmbedding', inputs, attrs), 'y', F, xShape);
    const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const angles = Array.from(randomFloats(count(cacheShape), 9), (v) => v * 3);
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {
      x: f32(randomFloats(count(xShape), 7), xShape),
      cos: f32(angles.map(Math.cos), cacheShape),
      sin: f32(angles.map(Math.sin), cacheShape),
    };
    if (positions) feeds.pos = i64([3, 0, 11, 5, 1, 2, 7, 9], [B, S]);
    const r = await runBoth(t.model, legalize('trt@10.8'), feeds);
    expect(ops(r.model)).not.toContain('RotaryEmbedding');
    expect(maxDiff(r.before.y, r.after.y)).toBeLessThanOrEqual(1e-5);
  });

  test('10.15: kept, with int32 position_ids cast to int64', async () => {
    const t = tiny(23);
    const shape = [1, 2, 3, 4];
    t.output(t.b.op('RotaryEmbedding', [t.input('x', F, shape), t.input('cos', F, [8, 2]), t.input('sin', F, [8, 2]), t.input('pos', DataType.INT32, [1, 3])]), 'y', F, shape);
    expect(checkTrt(t.model, 'trt@10.15').map((v) => v.rule)).toEqual(['rotary_position_ids_int64']);
    legalizeForTrt(t.model, 'trt@10.15', { profile: false });
    expect(ops(t.model)).toEqual(['Cast', 'RotaryEmbedding']);
    expect(checkTrt(t.model, 'trt@10.15')).toEqual([]);
    const angles = Array.from(randomFloats(16, 3));
    const out = await run(t.model, { x: f32(randomFloats(24, 1), shape), cos: f32(angles.map(Math.cos), [8, 2]), sin: f32(angles.map(Math.sin), [8, 2]), pos: i32([1, 5, 7], [1, 3]) });
    expect(out.y).toHaveLength(24);
  });
});

describe('TensorScatter → Slice/Concat or Where/GatherElements (trt < 10.15)', () => {
  const L = 6;
  const S = 2;
  const shapes = { cache: [2, 2, L, 3], update: [2, 2, S, 3] };
  const feedsFor = (w: number[]) => ({
    cache: f32(randomFloats(72, 1), shapes.cache),
    update: f32(randomFloats(24, 2), shapes.update),
    w: i64(w, [2]),
  });

  test('rows writing at one position (Expand of a 1-element start, as static_cache_v3 builds): the Slice/Concat form', async () => {
    const t = tiny(24);
    const start = t.input('start', I64, []);
    const start1 = t.b.op('Unsqueeze', [start, t.b.constant('axes', tensor.int64([1], [0]))]);
    const w = t.b.op('Expand', [start1, t.b.constant('batch', tensor.int64([1], [2]))]);
    t.output(t.b.op('TensorScatter', [t.input('cache', F, shapes.cache), t.input('update', F, shapes.update), w], { axis: -2, mode: 'linear' }), 'y', F, shapes.cache);
    for (const s0 of [0, 3, L - S]) {
      const feeds = { cache: f32(randomFloats(72, 1), shapes.cache), update: f32(randomFloats(24, 2), shapes.update), start: i64([s0], []) };
      const r = await runBoth(t.model, legalize('trt@10.14'), feeds);
      expect(ops(r.model)).toContain('Concat');
      expect(ops(r.model)).not.toContain('GatherElements');
      expect(r.model.opset('')).toBe(23);
      expect(maxDiff(r.before.y, r.after.y)).toBe(0);
    }
  });

  test.each(['linear', 'circular'])('rows writing at different positions, %s mode: the Where/GatherElements form', async (mode) => {
    const t = tiny(24);
    t.output(t.b.op('TensorScatter', [t.input('cache', F, shapes.cache), t.input('update', F, shapes.update), t.input('w', I64, [2])], { axis: -2, mode }), 'y', F, shapes.cache);
    const positions = mode === 'linear' ? [[0, 4], [3, 1]] : [[5, 2], [4, 5]];
    for (const w of positions) {
      const r = await runBoth(t.model, legalize('trt@10.8'), feedsFor(w));
      expect(ops(r.model)).toContain('GatherElements');
      expect(r.model.opset('')).toBe(22);
      expect(maxDiff(r.before.y, r.after.y)).toBe(0);
    }
  });

  test('10.15: a 3-D cache, or an update along another axis, gets the fallback too', async () => {
    const t = tiny(24);
    t.output(t.b.op('TensorScatter', [t.input('cache', F, [2, L, 3]), t.input('update', F, [2, S, 3]), t.input('w', I64, [2])], { axis: 1 }), 'y', F, [2, L, 3]);
    expect(checkTrt(t.model, 'trt@10.15').map((v) => v.rule)).toEqual(['tensor_scatter_4d', 'tensor_scatter_axis']);
    const feeds = { cache: f32(randomFloats(2 * L * 3, 1), [2, L, 3]), update: f32(randomFloats(2 * S * 3, 2), [2, S, 3]), w: i64([1, 4], [2]) };
    const r = await runBoth(t.model, legalize('trt@10.15'), feeds);
    expect(ops(r.model)).not.toContain('TensorScatter');
    expect(maxDiff(r.before.y, r.after.y)).toBe(0);
  });

  test('10.15 keeps TensorScatter; a positive axis 2 on a 4-D cache is spelled -2', () => {
    const t = tiny(24);
    t.output(t.b.op('TensorScatter', [t.input('cache', F, shapes.cache), t.input('update', F, shapes.update), t.input('w', I64, [2])], { axis: 2 }), 'y', F, shapes.cache);
    expect(checkTrt(t.model, 'trt@10.15').map((v) => v.rule)).toEqual(['tensor_scatter_axis']);
    legalizeForTrt(t.model, 'trt@10.15', { profile: false });
    expect(ops(t.model)).toEqual(['TensorScatter']);
    expect(t.model.graph.nodes.first?.attrInt('axis')).toBe(-2);
    expect(checkTrt(t.model, 'trt@10.15')).toEqual([]);
  });
});

describe('constant axes and the opset import', () => {
  test('Reduce axes computed from initializers become an initializer; Unsqueeze axes resolvable to a constant do too', async () => {
    const t = tiny(22);
    const x = t.input('x', F, [2, 3, 4]);
    const computed = (a: number, b: number) => t.b.op('Add', [t.b.constant('a', tensor.int64([1], [a])), t.b.constant('b', tensor.int64([1], [b]))]);
    const mean = t.b.op('ReduceMean', [x, computed(1, 0)], { keepdims: 1 });
    const constAxes = t.b.op('Constant', [], { value: tensor.int64([1], [3]) }); // a Constant node is weights to the parser
    const u = t.b.op('Unsqueeze', [mean, constAxes]);
    t.output(t.b.op('Unsqueeze', [u, computed(1, 1)]), 'y', F);
    // Only the Reduce rule asks for an initializer; "resolvable to a constant" accepts both of the others.
    expect(checkTrt(t.model, 'trt@10.8').map((v) => v.rule)).toEqual(['reduce_axes_initializer']);
    const r = await runBoth(t.model, legalize('trt@10.8'), { x: f32(randomFloats(24, 5), [2, 3, 4]) });
    const nodes = r.model.graph.nodes.toArray();
    expect(nodes.find((n) => n.op === 'ReduceMean')?.inputs[1]?.isInitializer).toBe(true);
    expect(nodes.filter((n) => n.op === 'Unsqueeze').map((n) => n.inputs[1]?.producer?.op ?? 'initializer')).toEqual(['Constant', 'initializer']);
    expect(nodes.some((n) => n.op === 'Add')).toBe(false);
    expect(maxDiff(r.before.y, r.after.y)).toBe(0);
  });

  test('axes that depend on a graph input stay (the checker still reports them)', () => {
    const t = tiny(22);
    t.output(t.b.op('ReduceSum', [t.input('x', F, [2, 3]), t.input('axes', I64, [1])]), 'y', F);
    legalizeForTrt(t.model, 'trt@10.8', { profile: false });
    expect(checkTrt(t.model, 'trt@10.8').map((v) => v.rule)).toEqual(['reduce_axes_initializer']);
  });

  test('the opset import is lowered only when no newer op remains', () => {
    const t = tiny(24);
    const x = t.input('x', F, [2, 4]);
    t.output(t.b.op('RMSNormalization', [x, t.b.constant('s', tensor.float32([4], [1, 1, 1, 1]))]), 'y', F, [2, 4]);
    expect(lowerOpsetImport(t.model, 22)).toEqual([expect.stringContaining('needs opset 23')]);
    expect(t.model.opset('')).toBe(24);
    expect(lowerOpsetImport(t.model, 23)).toEqual([]);
    expect(t.model.opset('')).toBe(23);
  });
});
