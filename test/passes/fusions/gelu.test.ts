// gelu_fusion: the tanh (GPT-2 NewGELU, gelu_fast, torch decomposition) and erf forms, with the 0.5 in each
// place exporters put it, fuse into one Gelu-20 and stay equal on onnxruntime; near-misses are not fused.
import * as fc from 'fast-check';
import type * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/ir/dtype';
import type { Value } from '../../../src/ir/value';
import { GeluFusion } from '../../../src/passes/fusions';
import { floatFeed, GraphKit, maxRelDiff, opCount, runOrt, runPass } from './helpers';

interface GeluCase {
  dims: number[];
  form: 'tanh' | 'erf';
  cube: 'pow' | 'mul';
  tanhArg: 'standard' | 'fast';
  erfArg: 'div' | 'mul';
  outer: number;
  constFirst: boolean;
  opset: 18 | 23;
}
type NearMiss = 'wrongCubic' | 'otherInput' | 'plusTwo';

function build(c: GeluCase, miss?: NearMiss): { kit: GraphKit; feeds: Record<string, ort.Tensor> } {
  const kit = new GraphKit(c.opset);
  const x = kit.input('x', DataType.FLOAT, c.dims);
  const feeds: Record<string, ort.Tensor> = { x: floatFeed(DataType.FLOAT, c.dims, 7) };
  const mul = (a: Value, k: number) => kit.op('Mul', c.constFirst ? [kit.scalar(k), a] : [a, kit.scalar(k)]);
  const cubic = miss === 'wrongCubic' ? 0.044 : 0.044715;
  let phi: Value;
  if (c.form === 'tanh') {
    let arg: Value;
    if (c.tanhArg === 'standard') {
      const cube = c.cube === 'pow' ? kit.op('Pow', [x, kit.scalar(3)]) : kit.op('Mul', [x, kit.op('Mul', [x, x])]);
      arg = mul(kit.op('Add', [x, mul(cube, cubic)]), Math.sqrt(2 / Math.PI));
    } else {
      arg = kit.op('Mul', [mul(x, Math.sqrt(2 / Math.PI)), kit.op('Add', [mul(kit.op('Mul', [x, x]), cubic), kit.scalar(1)])]);
    }
    phi = kit.op('Add', [kit.op('Tanh', [arg]), kit.scalar(miss === 'plusTwo' ? 2 : 1)]);
  } else {
    const arg = c.erfArg === 'div' ? kit.op('Div', [x, kit.scalar(Math.SQRT2)]) : mul(x, Math.SQRT1_2);
    phi = kit.op('Add', [kit.scalar(miss === 'plusTwo' ? 2 : 1), kit.op('Erf', [arg])]);
  }
  let xo = x;
  if (miss === 'otherInput') {
    xo = kit.input('y', DataType.FLOAT, c.dims);
    feeds.y = floatFeed(DataType.FLOAT, c.dims, 8);
  }
  const outers = [
    () => kit.op('Mul', [mul(xo, 0.5), phi]),
    () => mul(kit.op('Mul', [xo, phi]), 0.5),
    () => kit.op('Mul', [xo, mul(phi, 0.5)]),
    () => kit.op('Mul', [kit.op('Div', [xo, kit.scalar(2)]), phi]),
  ];
  kit.output(outers[c.outer](), 'y_out', DataType.FLOAT);
  return { kit, feeds };
}

const caseArb: fc.Arbitrary<GeluCase> = fc.record({
  dims: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
  form: fc.constantFrom('tanh' as const, 'erf' as const),
  cube: fc.constantFrom('pow' as const, 'mul' as const),
  tanhArg: fc.constantFrom('standard' as const, 'fast' as const),
  erfArg: fc.constantFrom('div' as const, 'mul' as const),
  outer: fc.integer({ min: 0, max: 3 }),
  constFirst: fc.boolean(),
  opset: fc.constantFrom(18 as const, 23 as const),
});

describe('gelu_fusion', () => {
  test('tanh and erf GELU forms fuse into Gelu-20 and match on onnxruntime', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const { kit, feeds } = build(c);
      const report = runPass(kit.model, 'gelu_fusion', new GeluFusion());
      const fused = report.model;
      expect(fused.graph.nodes.toArray().map((n) => n.op)).toEqual(['Gelu']);
      expect(fused.graph.nodes.first?.attrString('approximate')).toBe(c.form === 'tanh' ? 'tanh' : 'none');
      expect(report.passes[0].counts).toEqual({ gelu_tanh: c.form === 'tanh' ? 1 : 0, gelu_erf: c.form === 'erf' ? 1 : 0 });
      expect(fused.opset('')).toBe(Math.max(20, c.opset));
      const [before, after] = [await runOrt(kit.model, feeds), await runOrt(fused, feeds)];
      expect(maxRelDiff(after.y_out, before.y_out)).toBeLessThan(1e-5);
    }), { numRuns: 30 });
  });

  test('near-misses are not fused', () => {
    fc.assert(fc.property(caseArb, fc.constantFrom<NearMiss>('wrongCubic', 'otherInput', 'plusTwo'), (c, miss) => {
      fc.pre(miss !== 'wrongCubic' || c.form === 'tanh');
      const { kit } = build(c, miss);
      const report = runPass(kit.model, 'gelu_fusion', new GeluFusion());
      expect(report.modified).toBe(false);
      expect(opCount(report.model, 'Gelu')).toBe(0);
      expect(report.model.opset('')).toBe(c.opset);
    }), { numRuns: 30 });
  });
});
