import * as fc from 'fast-check';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { Node } from '../../../src/ir/node';
import { Tensor, tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import { Value } from '../../../src/ir/value';
import { EvalError, evaluateNode } from '../../../src/passes/common/evaluator';

/**
 * Random small graphs of elementwise and shape ops over two graph inputs and a few initializers/Constant
 * nodes, for property tests. Each node is evaluated as it is built (with the reference evaluator) so only
 * valid nodes stay; the graph therefore runs on onnxruntime too.
 */

export interface Step {
  kind: number;
  a: number;
  b: number;
  k: number;
}

export interface GraphSpec {
  constants: number[];
  inputs: number[];
  steps: Step[];
  extraOutputs: number[];
}

export const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.nat({ max: 15 }),
  a: fc.nat({ max: 50 }),
  b: fc.nat({ max: 50 }),
  k: fc.integer({ min: -3, max: 3 }),
});

export const graphSpecArb: fc.Arbitrary<GraphSpec> = fc.record({
  constants: fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 12, maxLength: 12 }),
  inputs: fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 9, maxLength: 9 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 14 }),
  extraOutputs: fc.array(fc.nat({ max: 50 }), { maxLength: 2 }),
});

export interface RandomGraph {
  model: Model;
  /** Feeds by graph input name. */
  feeds: Map<string, Tensor>;
}

interface Known {
  v: Value;
  t: Tensor;
  /** Produced directly by Shape: non-negative, usable as a shape. */
  isShape?: boolean;
}

const I64_MAX = 2n ** 63n - 1n;

export function buildRandomGraph(spec: GraphSpec, opset = 18): RandomGraph {
  const g = new Graph('random');
  const model = new Model(g);
  model.opsetImports.set('', opset);
  const bld = new Builder(g);
  const c = spec.constants;
  const x = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [2, 3]) });
  const n = g.addInput({ name: 'n', type: tensorType(DataType.INT64, [3]) });
  const feeds = new Map<string, Tensor>([
    ['x', tensor.float32([2, 3], spec.inputs.slice(0, 6).map((v) => v / 2))],
    ['n', tensor.int64([3], spec.inputs.slice(6, 9))],
  ]);
  const pool: Known[] = [
    { v: x, t: feeds.get('x') as Tensor },
    { v: n, t: feeds.get('n') as Tensor },
  ];
  const addInit = (name: string, t: Tensor) => pool.push({ v: g.addInitializer(name, t), t });
  addInit('cf0', tensor.float32([2, 3], c.slice(0, 6).map((v) => v / 4)));
  addInit('cf1', tensor.float32([3], c.slice(6, 9)));
  addInit('cf2', tensor.float32([], [c[9] + 0.5]));
  addInit('ci0', tensor.int64([3], c.slice(9, 12).map((v) => Math.abs(v) + 1)));
  addInit('ci1', tensor.int64([], [Math.abs(c[11]) + 1]));
  const constNode = bld.node('Constant', [], { value: tensor.float32([1, 3], [c[0], c[1] + 0.25, c[2]]) });
  pool.push({ v: constNode.output, t: tensor.float32([1, 3], [c[0], c[1] + 0.25, c[2]]) });

  const floats = () => pool.filter((p) => p.t.dtype === DataType.FLOAT);
  const ints = () => pool.filter((p) => p.t.dtype === DataType.INT64);
  const pick = <T>(list: T[], i: number): T | undefined => (list.length ? list[i % list.length] : undefined);
  const cst = (t: Tensor) => bld.constant('k', t);

  /** Adds a node; keeps it only when the reference evaluator accepts it. */
  const add = (op: string, inputs: (Known | Value)[], attrs: Record<string, number | number[]> = {}, isShape = false): void => {
    const values = inputs.map((i) => (i instanceof Value ? i : i.v));
    const tensors = inputs.map((i) => (i instanceof Value ? (i.constValue as Tensor) : i.t));
    const node: Node = bld.node(op, values, attrs);
    try {
      const [t] = evaluateNode(node, tensors, opset, { maxElements: 10_000 });
      pool.push({ v: node.output, t, isShape });
    } catch (e) {
      if (!(e instanceof EvalError)) throw e;
      g.remove(node);
    }
  };

  const FLOAT_BINARY = ['Add', 'Sub', 'Mul', 'Max', 'Min', 'Div'];
  const FLOAT_UNARY = ['Neg', 'Abs', 'Sigmoid', 'Tanh', 'Relu', 'Floor', 'Ceil'];
  const INT_BINARY = ['Add', 'Sub', 'Mul', 'Max'];
  for (const s of spec.steps) {
    const fa = pick(floats(), s.a);
    const fb = pick(floats(), s.b);
    const ia = pick(ints(), s.a);
    const ib = pick(ints(), s.b);
    const kk = Math.abs(s.k);
    switch (s.kind) {
      case 0: if (fa && fb) add(FLOAT_BINARY[kk % FLOAT_BINARY.length], [fa, fb]); break;
      case 1: if (fa) add(FLOAT_UNARY[(s.b + kk) % FLOAT_UNARY.length], [fa]); break;
      case 2: if (fa && fb) {
        add('Less', [fa, fb]);
        const cond = pool[pool.length - 1];
        if (cond.t.dtype === DataType.BOOL) add('Where', [cond, fa, fb]);
        break;
      }
        break;
      case 3: if (fa) add('Shape', [fa], {}, true); break;
      case 4: if (ia && ib) add(INT_BINARY[kk % INT_BINARY.length], [ia, ib]); break;
      case 5: if (ia) add('Cast', [ia], { to: DataType.FLOAT }); break;
      case 6: {
        const shapes = pool.filter((p) => p.isShape);
        const sh = pick(shapes, s.a);
        if (sh) add('ConstantOfShape', [sh]);
        break;
      }
      case 7: if (fa && fa.t.dims.length > 0) add('ReduceSum', [fa, cst(tensor.int64([1], [s.k % fa.t.dims.length]))], { keepdims: s.b % 2 }); break;
      case 8: if (fa) add('Transpose', [fa]); break;
      case 9: if (fa) add('Unsqueeze', [fa, cst(tensor.int64([1], [0]))]); break;
      case 10: if (ia && ia.t.dims.length === 1) add('Gather', [ia, cst(tensor.int64([], [s.k]))]); break;
      case 11: if (ia && ib && ia.t.dims.length === 1 && ib.t.dims.length === 1) add('Concat', [ia, ib], { axis: 0 }); break;
      case 12: {
        const shapes = pool.filter((p) => p.isShape);
        const sh = pick(shapes, s.b);
        if (fa && sh) add('Expand', [fa, sh]);
        break;
      }
      case 13: if (fa && fa.t.dims.length > 0) add('Slice', [fa, cst(tensor.int64([1], [s.k])), cst(tensor.int64([1], [I64_MAX])), cst(tensor.int64([1], [0]))]); break;
      case 14: if (fa) add('Squeeze', [fa]); break;
      case 15: if (ia) add('Neg', [ia]); break;
    }
  }
  // Outputs: the last node output, plus a few other node outputs.
  const produced = pool.filter((p) => p.v.producer && p.v.producer.op !== 'Constant');
  const outs = new Set<Value>();
  if (produced.length) outs.add(produced[produced.length - 1].v);
  for (const e of spec.extraOutputs) {
    const p = pick(produced, e);
    if (p) outs.add(p.v);
  }
  if (outs.size === 0) {
    add('Add', [pool[0], pool[2]]);
    outs.add(pool[pool.length - 1].v);
  }
  for (const o of outs) o.type = tensorType((pool.find((p) => p.v === o) as Known).t.dtype);
  g.setOutputs([...outs]);
  return { model, feeds };
}
