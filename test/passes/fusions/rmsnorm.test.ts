// rmsnorm_fusion: random decomposed RMSNorm subgraphs (epsilon, shapes, normalised axes, square/inverse forms,
// operand orders, weight forms, fp16 casts, opset 18/23) fuse into one RMSNormalization and stay equal on
// onnxruntime; near-misses (epsilon after the sqrt, another reduce axis, another input, a non-constant epsilon,
// a cube) are left alone, and explain says why.
import * as fc from 'fast-check';
import { DataType } from '../../../src/ir/dtype';
import type { Value } from '../../../src/ir/value';
import { RmsnormFusion, rmsnormRule, rmsnormRules } from '../../../src/passes/fusions';
import { explain } from '../../../src/passes/pattern/explain';
import { floatFeed, GraphKit, maxRelDiff, opCount, runOrt, runPass } from './helpers';

interface RmsCase {
  dims: number[];
  k: number;
  eps: number;
  square: 'pow' | 'mul';
  inverse: 'reciprocal' | 'div' | 'divOne';
  xFirst: boolean;
  epsFirst: boolean;
  positiveAxes: boolean;
  weight: 'none' | 'vector' | 'leadingOnes' | 'input';
  weightFirst: boolean;
  fp16: boolean;
  opset: 18 | 23;
}

type NearMiss = 'epsAfterSqrt' | 'otherAxis' | 'otherInput' | 'inputEps' | 'cube';

function build(c: RmsCase, miss?: NearMiss): { kit: GraphKit; feeds: Record<string, import('onnxruntime-node').Tensor> } {
  const kit = new GraphKit(c.opset);
  const rank = c.dims.length;
  const io = c.fp16 ? DataType.FLOAT16 : DataType.FLOAT;
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  const xIn = kit.input('x', io, c.dims);
  feeds.x = floatFeed(io, c.dims, 1);
  const x = c.fp16 ? kit.op('Cast', [xIn], { to: DataType.FLOAT }, { dtype: DataType.FLOAT, shape: c.dims }) : xIn;
  let squared: Value = x;
  if (miss === 'otherInput') {
    squared = kit.input('other', DataType.FLOAT, c.dims);
    feeds.other = floatFeed(DataType.FLOAT, c.dims, 2);
  }
  const sq = miss === 'cube' ? kit.op('Pow', [squared, kit.scalar(3)]) : c.square === 'pow' ? kit.op('Pow', [squared, kit.scalar(2)]) : kit.op('Mul', [squared, squared]);
  let axes = Array.from({ length: c.k }, (_, i) => i - c.k);
  if (c.positiveAxes) axes = axes.map((a) => a + rank);
  if (miss === 'otherAxis') axes = [c.positiveAxes ? 0 : -rank];
  const mean = kit.op('ReduceMean', [sq, kit.ints(axes)], { keepdims: 1 });
  let epsValue = kit.scalar(c.eps);
  if (miss === 'inputEps') {
    epsValue = kit.input('eps', DataType.FLOAT, []);
    feeds.eps = new (require('onnxruntime-node').Tensor)('float32', Float32Array.of(c.eps), []);
  }
  const root = miss === 'epsAfterSqrt'
    ? kit.op('Add', [kit.op('Sqrt', [mean]), epsValue])
    : kit.op('Sqrt', [c.epsFirst ? kit.op('Add', [epsValue, mean]) : kit.op('Add', [mean, epsValue])]);
  const pair = (a: Value, b: Value, first: boolean) => (first ? [a, b] : [b, a]);
  let normed: Value;
  if (c.inverse === 'reciprocal') normed = kit.op('Mul', pair(x, kit.op('Reciprocal', [root]), c.xFirst));
  else if (c.inverse === 'div') normed = kit.op('Div', [x, root]);
  else normed = kit.op('Mul', pair(x, kit.op('Div', [kit.scalar(1), root]), c.xFirst));
  const back = c.fp16 ? kit.op('Cast', [normed], { to: DataType.FLOAT16 }) : normed;
  const normDims = c.dims.slice(rank - c.k);
  let y = back;
  if (c.weight !== 'none') {
    const count = normDims.reduce((a, d) => a * d, 1);
    const values = Array.from({ length: count }, (_, i) => 0.5 + ((i * 7) % 11) / 10);
    let w: Value;
    if (c.weight === 'input') {
      w = kit.input('w', io, normDims);
      feeds.w = floatFeed(io, normDims, 3);
    } else {
      const dims = c.weight === 'leadingOnes' ? [...new Array(rank - c.k).fill(1), ...normDims] : normDims;
      w = kit.floats(dims, values, io);
    }
    y = kit.op('Mul', pair(w, back, c.weightFirst));
  }
  kit.output(y, 'y', io);
  return { kit, feeds };
}

const caseArb: fc.Arbitrary<RmsCase> = fc.record({
  rank: fc.integer({ min: 2, max: 4 }),
  sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 4, maxLength: 4 }),
  hidden: fc.constantFrom(4, 8, 16, 64),
  twoAxes: fc.boolean(),
  eps: fc.constantFrom(1e-6, 1e-5, 9.999999974752427e-7, 1e-12, 0.25, 0),
  square: fc.constantFrom('pow' as const, 'mul' as const),
  inverse: fc.constantFrom('reciprocal' as const, 'div' as const, 'divOne' as const),
  xFirst: fc.boolean(),
  epsFirst: fc.boolean(),
  positiveAxes: fc.boolean(),
  weight: fc.constantFrom('none' as const, 'vector' as const, 'leadingOnes' as const, 'input' as const),
  weightFirst: fc.boolean(),
  fp16: fc.boolean(),
  opset: fc.constantFrom(18 as const, 23 as const),
}).map((r) => {
  const dims = [...r.sizes.slice(0, r.rank - 1), r.hidden];
  return {
    dims, k: r.twoAxes && r.rank >= 3 ? 2 : 1, eps: r.eps, square: r.square, inverse: r.inverse, xFirst: r.xFirst, epsFirst: r.epsFirst,
    positiveAxes: r.positiveAxes, weight: r.weight, weightFirst: r.weightFirst, fp16: r.fp16, opset: r.opset,
  };
});

describe('rmsnorm_fusion', () => {
  test('random decomposed RMSNorms fuse into one RMSNormalization and match the original on onnxruntime', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const { kit, feeds } = build(c);
      const report = runPass(kit.model, 'rmsnorm_fusion', new RmsnormFusion());
      const fused = report.model;
      expect(opCount(fused, 'RMSNormalization')).toBe(1);
      for (const op of ['ReduceMean', 'Sqrt', 'Reciprocal', 'Pow', 'Div']) expect(opCount(fused, op)).toBe(0);
      // The weight is fused when there is one; a weightless norm gets a ones scale.
      expect(opCount(fused, 'Mul')).toBe(0);
      const rule = c.weight === 'none' ? 'rmsnorm_unscaled' : 'rmsnorm';
      expect(report.passes[0].counts[rule]).toBe(1);
      const node = fused.graph.nodes.toArray().find((n) => n.op === 'RMSNormalization');
      expect(node?.attrInt('axis')).toBe(-c.k);
      expect(node?.attrFloat('epsilon')).toBeCloseTo(Math.fround(c.eps), 12);
      expect(node?.attrInt('stash_type')).toBe(1);
      expect(fused.opset('')).toBe(23);
      // fp16 with casts: the fused node takes the fp16 input itself (the upcast is exact).
      if (c.fp16 && c.weight !== 'none') expect(opCount(fused, 'Cast')).toBe(0);
      const [before, after] = [await runOrt(kit.model, feeds), await runOrt(fused, feeds)];
      expect(maxRelDiff(after.y, before.y)).toBeLessThan(c.fp16 ? 2e-3 : 2e-6);
    }), { numRuns: 40 });
  });

  test('near-misses are not fused and the model is left unchanged', async () => {
    const missArb = fc.constantFrom<NearMiss>('epsAfterSqrt', 'otherAxis', 'otherInput', 'inputEps', 'cube');
    await fc.assert(fc.asyncProperty(caseArb.filter((c) => c.dims.length === 3 && c.k === 1), missArb, async (c, miss) => {
      const { kit } = build(c, miss);
      const nodes = kit.graph.nodes.size;
      const report = runPass(kit.model, 'rmsnorm_fusion', new RmsnormFusion());
      expect(report.modified).toBe(false);
      expect(opCount(report.model, 'RMSNormalization')).toBe(0);
      expect(report.model.graph.nodes.size).toBe(nodes);
      expect(report.model.opset('')).toBe(c.opset);
    }), { numRuns: 25 });
  });

  test('explain names why a near-miss fails', () => {
    const base: RmsCase = { dims: [1, 3, 8], k: 1, eps: 1e-6, square: 'pow', inverse: 'reciprocal', xFirst: true, epsFirst: false, positiveAxes: false, weight: 'vector', weightFirst: true, fp16: false, opset: 18 };
    const axis = explain(rmsnormRule, build(base, 'otherAxis').kit.model)[0];
    expect(axis.status).toBe('check');
    expect(axis.reason).toMatch(/not over the trailing axes/);
    const eps = explain(rmsnormRule, build(base, 'inputEps').kit.model)[0];
    expect(eps.status).toBe('match');
    expect(eps.reason).toMatch(/expected scalar, found graph input 'eps'/);
    const after = explain(rmsnormRule, build(base, 'epsAfterSqrt').kit.model)[0];
    expect(after.status).toBe('match');
    expect(after.reason).toMatch(/Sqrt|Add/);
  });

  test('Qwen3/OLMo-style per-head q norm: [B, S, H, D] normalised over D with weight [D]', async () => {
    const c: RmsCase = { dims: [2, 5, 4, 16], k: 1, eps: 1e-6, square: 'pow', inverse: 'reciprocal', xFirst: true, epsFirst: false, positiveAxes: false, weight: 'vector', weightFirst: true, fp16: false, opset: 18 };
    const { kit, feeds } = build(c);
    const fused = runPass(kit.model, 'rmsnorm_fusion', new RmsnormFusion()).model;
    expect(opCount(fused, 'RMSNormalization')).toBe(1);
    expect(maxRelDiff((await runOrt(fused, feeds)).y, (await runOrt(kit.model, feeds)).y)).toBeLessThan(2e-6);
  });

  test('a model below opset 18 is left alone (raising it needs a version converter)', () => {
    const c: RmsCase = { dims: [1, 3, 8], k: 1, eps: 1e-6, square: 'pow', inverse: 'reciprocal', xFirst: true, epsFirst: false, positiveAxes: false, weight: 'vector', weightFirst: true, fp16: false, opset: 18 };
    const { kit } = build(c);
    kit.model.opsetImports.set('', 17);
    const logs: string[] = [];
    const pass = new RmsnormFusion();
    const r = pass.run(kit.model, { options: {}, history: [], log: (m) => logs.push(m) });
    expect(r.modified).toBe(false);
    expect(r.counts).toEqual(Object.fromEntries(rmsnormRules.map((x) => [x.name, 0])));
    expect(logs.join('\n')).toMatch(/opset 17/);
    expect(kit.model.opset('')).toBe(17);
  });
});
