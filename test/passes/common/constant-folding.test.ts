import * as fc from 'fast-check';
import { Attribute } from '../../../src/ir/attribute';
import { Builder } from '../../../src/ir/builder';
import { cloneModel } from '../../../src/ir/clone';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { StringTensor, Tensor, tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import { Value } from '../../../src/ir/value';
import { verify } from '../../../src/ir/verify';
import type { PassContext } from '../../../src/passes/pass';
import { defaultRegistry } from '../../../src/passes/registry';
import { ConstantFolding, foldConstants } from '../../../src/passes/common/constant-folding';
import { evaluateSubgraph } from '../../../src/passes/common/evaluator';
import { loadModel } from '../../../src/ir/serde';
import { expectTensorsClose, fromOrt, runOrt, toOrt } from './ort-helpers';
import { buildRandomGraph, graphSpecArb } from './random-graphs';
import * as path from 'path';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';

const I64_MAX = 2n ** 63n - 1n;
const ctx: PassContext = { options: {}, history: [], log: () => {} };

function newModel(opset = 18): { model: Model; g: Graph; b: Builder } {
  const g = new Graph('main');
  const model = new Model(g);
  model.opsetImports.set('', opset);
  return { model, g, b: new Builder(g) };
}
const ops = (g: Graph) => g.nodes.toArray().map((n) => n.op);

function evalByName(model: Model, feeds: Map<string, Tensor>): Map<string, Tensor> {
  const g = model.graph;
  const byValue = new Map<Value, Tensor>(g.inputs.map((v) => [v, feeds.get(v.name) as Tensor]));
  const out = evaluateSubgraph(g, byValue, g.outputs, { opset: model.opset('') });
  return new Map([...out].map(([v, t]) => [v.name, t]));
}

describe('constant_folding', () => {
  test('is registered with its name, and folds a constant subexpression into a same-named initializer', () => {
    expect(defaultRegistry.has('constant_folding')).toBe(true);
    const { model, g, b } = newModel();
    const x = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [3]) });
    const c1 = b.constant('c1', tensor.float32([3], [1, 2, 3]));
    const c2 = b.constant('c2', tensor.float32([1], [10]));
    const sum = b.op('Add', [c1, c2], {}, { name: 'add' });
    sum.name = 'sum';
    const y = b.op('Mul', [x, sum]);
    g.setOutputs([y]);
    const res = new ConstantFolding().run(model, ctx);
    expect(res).toMatchObject({ modified: true, changes: 1 });
    expect(ops(g)).toEqual(['Mul']);
    const folded = g.nodes.first?.inputs[1] as Value;
    expect(folded.isInitializer).toBe(true);
    expect(folded.name).toBe('sum');
    expect(folded.constValue?.toNumbers()).toEqual([11, 12, 13]);
    // The now-unused inputs stay for DCE.
    expect(g.initializers.has('c1')).toBe(true);
    expect(verify(model)).toEqual([]);
  });

  test('folds chains in one run and leaves nodes fed by graph inputs', () => {
    const { model, g, b } = newModel();
    const x = g.addInput({ name: 'x', type: tensorType(DataType.INT64, [2]) });
    const c = b.constant('c', tensor.int64([2], [3, 4]));
    const a = b.op('Mul', [c, c]);
    const s = b.op('Neg', [a]);
    const y = b.op('Add', [x, s]);
    g.setOutputs([y]);
    expect(foldConstants(model).folded).toBe(2);
    expect(ops(g)).toEqual(['Add']);
    expect((g.nodes.first?.inputs[1] as Value).constValue?.toBigInts()).toEqual([-9n, -16n]);
  });

  test('Constant nodes of every form become initializers (the value tensor is reused as is)', () => {
    const { model, g, b } = newModel();
    const t = tensor.float32([2], [1, 2]);
    const v1 = b.op('Constant', [], { value: t });
    const v2 = b.op('Constant', [], { value_ints: [4, 5] });
    const v3 = b.op('Constant', [], { value_float: Attribute.float('value_float', 0.5) });
    const v4 = b.op('Constant', [], { value_string: 'hi' });
    const x = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [2]) });
    const y = b.op('Add', [x, v1]);
    const z = b.op('Cast', [v2], { to: DataType.FLOAT });
    const w = b.op('Mul', [x, v3]);
    const s = b.op('Identity', [v4]);
    g.setOutputs([y, z, w, s]);
    const res = new ConstantFolding().run(model, ctx);
    // Four Constant nodes; Cast and Identity produce graph outputs, so they stay.
    expect(res.changes).toBe(4);
    expect(res.counts).toMatchObject({ constant_nodes: 4 });
    expect(ops(g)).toEqual(['Add', 'Cast', 'Mul', 'Identity']);
    const init = (g.nodes.first?.inputs[1] as Value).constValue;
    expect(init).toBe(t);
    expect((g.nodes.toArray()[1].inputs[0] as Value).constValue?.toBigInts()).toEqual([4n, 5n]);
    expect((g.nodes.toArray()[3].inputs[0] as Value).constValue).toBeInstanceOf(StringTensor);
    expect(verify(model)).toEqual([]);
  });

  test('Shape of a static shape folds; partial Shape→Gather/Slice/Concat folds when the picked dims are static', () => {
    const { model, g, b } = newModel();
    const x = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [1, 'seq', 64]) });
    const w = g.addInput({ name: 'w', type: tensorType(DataType.FLOAT, [4, 5]) });
    const shapeX = b.op('Shape', [x]);
    const last = b.op('Gather', [shapeX, b.constant('i', tensor.int64([], [-1]))]);
    const seq = b.op('Gather', [shapeX, b.constant('j', tensor.int64([], [1]))]);
    const tail = b.op('Slice', [shapeX, b.constant('s', tensor.int64([1], [-1])), b.constant('e', tensor.int64([1], [I64_MAX]))]);
    const head = b.op('Slice', [shapeX, b.constant('s0', tensor.int64([1], [0])), b.constant('e0', tensor.int64([1], [1]))]);
    const target = b.op('Concat', [head, b.constant('m1', tensor.int64([1], [-1])), tail], { axis: 0 });
    const reshaped = b.op('Reshape', [x, target]);
    const shapeW = b.op('Shape', [w], { start: 1 });
    const sz = b.op('Size', [w]);
    const lastU = b.op('Unsqueeze', [last, b.constant('ax', tensor.int64([1], [0]))]);
    g.setOutputs([reshaped, seq, shapeW, sz, lastU, x].map((v) => (v === x ? x : b.op('Identity', [v]))));
    const stats = foldConstants(model);
    // Gather(-1), both Slices, Shape(w), Size(w) fold from static dims (5); Concat and Unsqueeze then have
    // constant inputs and fold through the evaluator (2); Gather(1) picks 'seq' and stays.
    expect(stats).toMatchObject({ folded: 7, shapes: 5 });
    const remaining = ops(g).filter((op) => op !== 'Identity');
    expect(remaining.sort()).toEqual(['Gather', 'Reshape', 'Shape']);
    const reshape = g.nodes.toArray().find((n) => n.op === 'Reshape');
    expect(reshape?.inputs[1]?.constValue?.toBigInts()).toEqual([1n, -1n, 64n]);
    const values = g.outputs.map((o) => o.producer?.inputs[0]?.constValue);
    expect(values[2]?.toBigInts()).toEqual([5n]);
    expect(values[3]?.toBigInts()).toEqual([20n]);
    expect(values[3]?.dims).toEqual([]);
    expect(values[4]?.toBigInts()).toEqual([64n]);
    expect(values[4]?.dims).toEqual([1]);
    expect(verify(model)).toEqual([]);
  });

  test('respects the element budget (option and pass context)', () => {
    const build = () => {
      const { model, g, b } = newModel();
      const e = b.op('Expand', [b.constant('one', tensor.float32([1], [1])), b.constant('shape', tensor.int64([2], [1000, 2000]))]);
      g.setOutputs([b.op('Identity', [e])]);
      return { model, g };
    };
    const a = build();
    expect(new ConstantFolding().run(a.model, ctx).changes).toBe(0);
    expect(ops(a.g)).toEqual(['Expand', 'Identity']);
    const small = build();
    expect(new ConstantFolding({ maxElements: 10 }).run(small.model, ctx).changes).toBe(0);
    const big = build();
    expect(new ConstantFolding().run(big.model, { ...ctx, options: { constantFoldingMaxElements: 3_000_000 } }).changes).toBe(1);
  });

  test('never folds random ops, ops with subgraphs, graph-output producers or overridable initializers', () => {
    const { model, g, b } = newModel();
    const c = b.constant('c', tensor.float32([2], [1, 2]));
    const r = b.op('RandomNormalLike', [c]);
    const body = new Graph('then', g);
    body.setOutputs([c]);
    const otherwise = new Graph('else', g);
    otherwise.setOutputs([c]);
    const cond = b.constant('cond', tensor.bool([], [true]));
    const iff = b.op('If', [cond], { then_branch: body, else_branch: otherwise });
    const out = b.op('Neg', [c]);
    const overridable = g.addInput({ name: 'd', type: tensorType(DataType.FLOAT, [2]) });
    g.setInitializerOf(overridable, tensor.float32([2], [5, 6]));
    const usesDefault = b.op('Abs', [overridable]);
    g.setOutputs([b.op('Add', [r, iff]), out, b.op('Identity', [usesDefault])]);
    expect(foldConstants(model).folded).toBe(0);
    expect(ops(g)).toEqual(['RandomNormalLike', 'If', 'Neg', 'Abs', 'Add', 'Identity']);
  });

  test('evaluation errors leave the node in place', () => {
    const { model, g, b } = newModel();
    const bad = b.op('Gather', [b.constant('d', tensor.float32([2], [1, 2])), b.constant('i', tensor.int64([1], [7]))]);
    const div = b.op('Div', [b.constant('p', tensor.int64([1], [1])), b.constant('z', tensor.int64([1], [0]))]);
    g.setOutputs([b.op('Identity', [bad]), b.op('Identity', [div])]);
    expect(foldConstants(model).folded).toBe(0);
  });

  test('folds inside subgraphs, into the subgraph', () => {
    const { model, g, b } = newModel();
    const x = g.addInput({ name: 'x', type: tensorType(DataType.BOOL, []) });
    const outer = b.constant('outer', tensor.float32([1], [2]));
    const body = new Graph('then', g);
    const inner = new Builder(body).op('Mul', [outer, outer]);
    const innerOut = new Builder(body).op('Neg', [inner]);
    body.setOutputs([innerOut]);
    const otherwise = new Graph('else', g);
    otherwise.setOutputs([outer]);
    const iff = b.op('If', [x], { then_branch: body, else_branch: otherwise });
    g.setOutputs([iff]);
    expect(foldConstants(model).folded).toBe(1);
    expect(body.nodes.toArray().map((n) => n.op)).toEqual(['Neg']);
    expect(body.initializers.size).toBe(1);
    expect(verify(model)).toEqual([]);
  });

  test('property: random graphs compute the same outputs before and after folding (reference evaluator)', () => {
    fc.assert(
      fc.property(graphSpecArb, (spec) => {
        const { model, feeds } = buildRandomGraph(spec);
        const before = evalByName(model, feeds);
        const folded = cloneModel(model);
        foldConstants(folded);
        expect(verify(folded)).toEqual([]);
        const after = evalByName(folded, feeds);
        for (const [name, t] of before) expectTensorsClose(after.get(name) as Tensor, t, 0, name);
      }),
      { numRuns: 150 },
    );
  });

  test('property: folded random graphs agree with the unfolded ones on onnxruntime', async () => {
    let foldedSome = 0;
    await fc.assert(
      fc.asyncProperty(graphSpecArb, async (spec) => {
        const { model, feeds } = buildRandomGraph(spec);
        const ortFeeds: Record<string, ort.Tensor> = {};
        for (const [k, v] of feeds) ortFeeds[k] = toOrt(v);
        const folded = cloneModel(model);
        foldedSome += foldConstants(folded).folded;
        const [a, b] = [await runOrt(model, ortFeeds), await runOrt(folded, ortFeeds)];
        for (const o of model.graph.outputs) expectTensorsClose(fromOrt(b[o.name]), fromOrt(a[o.name]), 1e-6, o.name);
      }),
      { numRuns: 30 },
    );
    expect(foldedSome).toBeGreaterThan(0);
  });
});

const EXPORTS = path.join(__dirname, '..', '..', '..', 'fixtures', 'exports');

describe('constant_folding on the fixture exports', () => {
  test.each([['gpt2', 18], ['qwen2', 18], ['gpt2', 23]])('%s opset %i: folds shape arithmetic, keeps the logits', async (name, opset) => {
    const model = loadModel(path.join(EXPORTS, `${name}.dynamo${opset}.onnx`));
    const ref = JSON.parse(fs.readFileSync(path.join(EXPORTS, `${name}.ref.json`), 'utf8')) as { input_ids: number[][]; position_ids: number[][]; logits: number[] };
    const nodesBefore = model.graph.nodes.size;
    const stats = foldConstants(model);
    expect(stats.folded).toBeGreaterThan(0);
    expect(verify(model)).toEqual([]);
    expect(model.graph.nodes.size).toBe(nodesBefore - stats.folded);
    const feeds = {
      input_ids: toOrt(tensor.int64([1, 8], ref.input_ids.flat())),
      position_ids: toOrt(tensor.int64([1, 8], ref.position_ids.flat())),
    };
    const out = await runOrt(model, feeds);
    const logits = out.logits.data as Float32Array;
    let maxDiff = 0;
    ref.logits.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - logits[i]))));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
