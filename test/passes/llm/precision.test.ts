// The precision pass on small hand-built graphs: each fp32 island (decomposed norm statistics, Softmax, index
// math), constants shared across precisions, the interface contract (caches low, logits fp32 under their name),
// needless-Cast removal, opaque nodes, tensor conversion, and onnxruntime numerics where fp16 would overflow.
import * as ort from 'onnxruntime-node';
import { Attribute } from '../../../src/ir/attribute';
import { DataType } from '../../../src/ir/dtype';
import { bfloat16ToFloat, halfToFloat } from '../../../src/ir/float16';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { Node } from '../../../src/ir/node';
import { tensor } from '../../../src/ir/tensor';
import { cloneModel } from '../../../src/ir/clone';
import { tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { verify } from '../../../src/ir/verify';
import { PassManager, PipelineError } from '../../../src/passes/pass-manager';
import { defaultRegistry } from '../../../src/passes/registry';
import { llmSteps, lowerLlm } from '../../../src/passes/llm/pipeline';
import { convertFloatTensor, convertPrecision, isExactConversion, PrecisionPass, removeNeedlessCasts } from '../../../src/passes/llm/precision';
import { cacheLayout } from '../../../src/runtime/cache-layout';
import { createSession, int64Tensor } from '../../../src/runtime/ort-session';
import { loadModel } from '../../../src/ir/serde';
import { FIXTURES } from '../../helpers/models';
import * as path from 'path';
import { floatData, needlessCasts, relativeError, typeConflicts } from './precision-helpers';

const F32 = DataType.FLOAT;
const F16 = DataType.FLOAT16;

/** A tiny graph builder: nodes appended in order, outputs named. */
class G {
  readonly g = new Graph('t');
  readonly model = new Model(this.g);
  constructor(opset = 23) {
    this.model.irVersion = 10;
    this.model.opsetImports.set('', opset);
  }
  input(name: string, dt: DataType, shape: (number | string)[]): Value {
    return this.g.addInput({ name, type: tensorType(dt, shape) });
  }
  init(name: string, dims: number[], values: number[]): Value {
    return this.g.addInitializer(name, tensor.float32(dims, values), { exactName: true });
  }
  op(op: string, inputs: (Value | null)[], attrs: Attribute[] = [], dt: DataType | undefined = F32, shape?: (number | string)[], domain = ''): Value {
    const n = this.g.add({ op, domain, inputs, attributes: attrs, outputs: [{ name: this.g.names.fresh(op.toLowerCase()), type: dt === undefined ? undefined : tensorType(dt, shape) }] });
    return n.outputs[0];
  }
  output(v: Value, name?: string): Value {
    if (name) v.name = name;
    this.g.addOutput(v);
    return v;
  }
}

function run(model: Model, precision: 'FP16' | 'BF16' | 'FP32' = 'FP16'): Model {
  return new PassManager([{ name: 'precision', pass: new PrecisionPass() }]).run(model, { precision }).model;
}
const nodes = (m: Model, op?: string): Node[] => m.graph.nodes.toArray().filter((n) => !op || n.op === op);
const byName = (m: Model, name: string): Value => {
  const v = m.graph.names.lookup(name);
  if (!v) throw new Error(`no value '${name}'`);
  return v;
};
function seeded(n: number, scale: number, seed = 1): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 2 * scale;
  });
}

/** ids [1, S] → Gather(table) → decomposed RMSNorm (HF eager form) → MatMul → logits. */
function rmsNormModel(activationScale: number, shareEps = false): Model {
  const b = new G(18);
  const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
  const table = b.init('embed', [16, 8], seeded(16 * 8, activationScale));
  const x = b.op('Gather', [table, ids], [Attribute.int('axis', 0)], F32, [1, 'seq', 8]);
  const sq = b.op('Pow', [x, b.init('two', [], [2])]);
  const mean = b.op('ReduceMean', [sq, b.g.addInitializer('axes', tensor.int64([1], [-1]), { exactName: true })], [Attribute.int('keepdims', 1)]);
  const plus = b.op('Add', [mean, b.init('eps', [], [1e-6])]);
  const root = b.op('Sqrt', [plus]);
  const inv = b.op('Reciprocal', [root]);
  const normed = b.op('Mul', [x, inv]);
  let scaled = b.op('Mul', [b.init('gamma', [8], seeded(8, 1, 7).map((v) => 1 + v / 4)), normed]);
  if (shareEps) scaled = b.op('Add', [scaled, byName(b.model, 'eps')]);
  b.output(b.op('MatMul', [scaled, b.init('head', [8, 5], seeded(40, 0.5, 3))], [], F32, [1, 'seq', 5]), 'logits');
  return b.model;
}

async function logitsOf(model: Model, ids: number[]): Promise<Float32Array> {
  const s = await createSession(model);
  try {
    const out = await s.run({ input_ids: int64Tensor(ids, [1, ids.length]) });
    return floatData(out.logits as unknown as { type: string; data: unknown });
  } finally {
    await s.release();
  }
}

describe('decomposed RMSNorm statistics', () => {
  test('x² → mean → +eps → sqrt → 1/x → ×x run in fp32 between two Casts; the weight Mul and MatMul in fp16', () => {
    const out = run(rmsNormModel(1));
    expect(verify(out)).toEqual([]);
    expect(typeConflicts(out)).toEqual([]);
    for (const op of ['Pow', 'ReduceMean', 'Add', 'Sqrt', 'Reciprocal']) expect(nodes(out, op)[0].outputs[0].dtype).toBe(F32);
    const [normed, scaled] = nodes(out, 'Mul');
    expect(normed.outputs[0].dtype).toBe(F32);
    expect(scaled.outputs[0].dtype).toBe(F16);
    // x is cast up once (shared by Pow and the normalising Mul), the result cast down once.
    const casts = nodes(out, 'Cast');
    expect(casts.map((c) => c.attrInt('to')).sort()).toEqual([F32, F32, F16].sort());
    const up = casts.find((c) => c.inputs[0]?.name === byName(out, 'gather').name) as Node;
    expect(up.attrInt('to')).toBe(F32);
    expect(up.outputs[0].consumers().map((n) => n.op).sort()).toEqual(['Mul', 'Pow']);
    // Constants: the exponent and eps stay fp32 (only fp32 users), weights become fp16.
    expect(byName(out, 'two').dtype).toBe(F32);
    expect(byName(out, 'eps').dtype).toBe(F32);
    expect(byName(out, 'embed').constValue?.dtype).toBe(F16);
    expect(byName(out, 'gamma').constValue?.dtype).toBe(F16);
    // logits: fp32, same name, fed by a Cast of the fp16 MatMul.
    const logits = out.graph.outputs[0];
    expect([logits.name, logits.dtype, logits.producer?.op]).toEqual(['logits', F32, 'Cast']);
  });

  // (onnxruntime's CPU provider runs fp16 nodes without fp16 kernels in fp32 behind its own Casts, so a naive
  // all-fp16 graph would pass here too; the island matters on fp16 hardware. The structure is checked above.)
  test('onnxruntime: activations up to 400 (x² beyond fp16\'s 65504) stay accurate', async () => {
    const model = rmsNormModel(400);
    const ids = [0, 3, 5, 9, 15];
    const ref = await logitsOf(model, ids);
    const fp16 = await logitsOf(run(model), ids);
    expect(relativeError(ref, fp16)).toBeLessThan(5e-3);
  });

  test('LayerNorm written out (mean, centre, variance, Div) joins the island, centre included', () => {
    const b = new G(18);
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const x = b.op('Gather', [b.init('embed', [16, 8], seeded(128, 2)), ids], [Attribute.int('axis', 0)]);
    const axes = b.g.addInitializer('axes', tensor.int64([1], [-1]), { exactName: true });
    const mu = b.op('ReduceMean', [x, axes]);
    const centred = b.op('Sub', [x, mu]);
    const v = b.op('ReduceMean', [b.op('Mul', [centred, centred]), axes]);
    const std = b.op('Sqrt', [b.op('Add', [v, b.init('eps', [], [1e-5])])]);
    const y = b.op('Div', [centred, std]);
    b.output(b.op('MatMul', [y, b.init('head', [8, 4], seeded(32, 1))]), 'logits');
    const out = run(b.model);
    expect(typeConflicts(out)).toEqual([]);
    for (const op of ['ReduceMean', 'Sub', 'Sqrt', 'Div']) for (const n of nodes(out, op)) expect([op, n.outputs[0].dtype]).toEqual([op, F32]);
    expect(nodes(out, 'MatMul')[0].outputs[0].dtype).toBe(F16);
  });

  test('a lone x² → ReduceMean that is not applied to x is not a norm: it stays fp16', () => {
    const b = new G(18);
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const x = b.op('Gather', [b.init('embed', [16, 8], seeded(128, 2)), ids], [Attribute.int('axis', 0)]);
    const m = b.op('ReduceMean', [b.op('Mul', [x, x]), b.g.addInitializer('axes', tensor.int64([1], [-1]), { exactName: true })]);
    b.output(b.op('Add', [x, m]), 'logits');
    const out = run(b.model);
    expect(nodes(out, 'ReduceMean')[0].outputs[0].dtype).toBe(F16);
  });
});

describe('Softmax outside Attention and index math', () => {
  /** ids, position_ids → embedding; RoPE-like cos/sin from positions; scores → Softmax → mix → logits. */
  function model(): Model {
    const b = new G(18);
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const pos = b.input('position_ids', DataType.INT64, [1, 'seq']);
    const x = b.op('Gather', [b.init('embed', [32, 8], seeded(256, 1)), ids], [Attribute.int('axis', 0)], F32, [1, 'seq', 8]);
    const p = b.op('Unsqueeze', [pos, b.g.addInitializer('ax2', tensor.int64([1], [2]), { exactName: true })], [], DataType.INT64, [1, 'seq', 1]);
    const pf = b.op('Cast', [p], [Attribute.int('to', F32)], F32, [1, 'seq', 1]);
    const freqs = b.op('Mul', [pf, b.init('inv_freq', [8], [1, 0.5, 0.25, 0.125, 0.0625, 0.03, 0.015, 0.007])], [], F32, [1, 'seq', 8]);
    const cos = b.op('Cos', [freqs], [], F32, [1, 'seq', 8]);
    const sin = b.op('Sin', [freqs], [], F32, [1, 'seq', 8]);
    const rot = b.op('Add', [b.op('Mul', [x, cos]), b.op('Mul', [x, sin])], [], F32, [1, 'seq', 8]);
    const rot2 = b.op('Mul', [rot, cos], [], F32, [1, 'seq', 8]); // cos meets activations twice: one Cast
    const scores = b.op('MatMul', [rot2, b.op('Transpose', [rot2], [Attribute.ints('perm', [0, 2, 1])], F32, [1, 8, 'seq'])], [], F32, [1, 'seq', 'seq']);
    const probs = b.op('Softmax', [scores], [Attribute.int('axis', -1)], F32, [1, 'seq', 'seq']);
    const mixed = b.op('MatMul', [probs, rot2], [], F32, [1, 'seq', 8]);
    b.output(b.op('MatMul', [mixed, b.init('head', [8, 32], seeded(256, 1, 5))], [], F32, [1, 'seq', 32]), 'logits');
    return b.model;
  }

  test('Softmax computes in fp32 between Casts; cos/sin from positions stay fp32 and are cast once each', () => {
    const out = run(model());
    expect(verify(out)).toEqual([]);
    expect(typeConflicts(out)).toEqual([]);
    expect(needlessCasts(out)).toEqual([]);
    const sm = nodes(out, 'Softmax')[0];
    expect(sm.outputs[0].dtype).toBe(F32);
    expect(sm.inputs[0]?.producer?.op).toBe('Cast');
    expect(sm.outputs[0].consumers().map((n) => n.op)).toEqual(['Cast']);
    for (const op of ['Cos', 'Sin']) {
      const n = nodes(out, op)[0];
      expect(n.outputs[0].dtype).toBe(F32);
      const users = n.outputs[0].consumers();
      expect(users.map((u) => u.op)).toEqual(['Cast']);
      expect(users[0].attrInt('to')).toBe(F16);
    }
    expect(byName(out, 'inv_freq').dtype).toBe(F32);
    expect(nodes(out, 'Mul').find((n) => n.inputs.includes(byName(out, 'inv_freq')))?.outputs[0].dtype).toBe(F32);
  });

  test('onnxruntime: FP16 within 1e-2 relative of FP32 at positions up to 2000 (fp32 index math)', async () => {
    const m = model();
    const out = run(m);
    const feedsFor = (n: number) => ({
      input_ids: int64Tensor(Array.from({ length: n }, (_, i) => (i * 7) % 32), [1, n]),
      position_ids: int64Tensor(Array.from({ length: n }, (_, i) => 1990 + i), [1, n]),
    });
    const [s32, s16] = [await createSession(m), await createSession(out)];
    const a = floatData((await s32.run(feedsFor(9))).logits as never);
    const c = floatData((await s16.run(feedsFor(9))).logits as never);
    await s32.release();
    await s16.release();
    expect(relativeError(a, c)).toBeLessThan(1e-2);
  });
});

describe('interface, constants and opaque nodes', () => {
  test('float graph inputs and cache outputs become fp16; other float outputs keep fp32 under their names', () => {
    const b = new G(23);
    const ids = b.input('input_ids', DataType.INT64, [1, 1]);
    const cache = b.input('key_cache_0', F32, [1, 2, 4, 8]);
    const x = b.op('Gather', [b.init('embed', [16, 8], seeded(128, 1)), ids], [Attribute.int('axis', 0)], F32, [1, 1, 8]);
    const updated = b.op('Add', [cache, b.op('Unsqueeze', [x, b.g.addInitializer('ax', tensor.int64([1], [0]), { exactName: true })], [], F32, [1, 1, 1, 8])], [], F32, [1, 2, 4, 8]);
    b.output(b.op('Mul', [x, b.init('half', [], [0.5])], [], F32, [1, 1, 8]), 'logits');
    b.output(updated, 'present_key_cache_0');
    b.output(b.op('Relu', [x], [], F32, [1, 1, 8]), 'hidden');
    const out = run(b.model);
    expect(out.graph.inputs.map((v) => [v.name, v.dtype])).toEqual([['input_ids', DataType.INT64], ['key_cache_0', F16]]);
    expect(out.graph.outputs.map((v) => [v.name, v.dtype, v.producer?.op])).toEqual([['logits', F32, 'Cast'], ['present_key_cache_0', F16, 'Add'], ['hidden', F32, 'Cast']]);
    // The fp16 values behind the casts got fresh names.
    expect(out.graph.outputs[0].producer?.inputs[0]?.name).toMatch(/^logits_fp16/);
    expect(verify(out)).toEqual([]);
    expect(typeConflicts(out)).toEqual([]);
  });

  test('a constant read by an fp32 island and by fp16 code is split into an fp32 and an fp16 copy; masks clamp, not -inf', () => {
    const b = new G(18);
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const x = b.op('Gather', [b.init('embed', [16, 4], seeded(64, 1)), ids], [Attribute.int('axis', 0)], F32, [1, 'seq', 4]);
    const shared = b.init('one', [], [1]);
    const sm = b.op('Softmax', [b.op('Add', [x, shared], [], F32, [1, 'seq', 4])], [Attribute.int('axis', -1)], F32, [1, 'seq', 4]);
    const island = b.op('Mul', [sm, shared], [], F32, [1, 'seq', 4]); // fp16 Mul (fed by a cast Softmax)
    const mask = b.init('mask', [4], [0, -3.4028234663852886e38, 0, -Infinity]);
    b.output(b.op('Add', [island, mask], [], F32, [1, 'seq', 4]), 'logits');
    const out = run(b.model);
    const ones = [...out.graph.initializers.values()].filter((v) => v.name.startsWith('one'));
    expect(ones.map((v) => v.dtype)).toEqual([F16]); // both users are fp16 (Softmax's input Add and the Mul)
    const m = byName(out, 'mask');
    expect(m.dtype).toBe(F16);
    expect(Array.from(m.constValue?.toArray() as Uint16Array, halfToFloat)).toEqual([0, -65504, 0, -Infinity]);

    // eps read by the statistics island (fp32) and by fp16 code: one copy each.
    const done = run(rmsNormModel(1, true));
    expect(verify(done)).toEqual([]);
    expect(typeConflicts(done)).toEqual([]);
    const epsCopies = [...done.graph.initializers.values()].filter((v) => v.name.startsWith('eps'));
    expect(epsCopies.map((v) => v.dtype).sort()).toEqual([F32, F16].sort());
    expect(byName(done, 'eps').consumers().map((n) => n.outputs[0].dtype)).toEqual([F32]);
  });

  test('Constant nodes are converted in place; custom-domain ops and subgraph users get their original types back', () => {
    const b = new G(18);
    b.model.opsetImports.set('com.example', 1);
    const ids = b.input('input_ids', DataType.INT64, [1, 'seq']);
    const x = b.op('Gather', [b.init('embed', [16, 4], seeded(64, 1)), ids], [Attribute.int('axis', 0)], F32, [1, 'seq', 4]);
    const c = b.g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.float32([4], [1, 2, 3, 65536 * 2]))], outputs: [{ name: 'c', type: tensorType(F32, [4]) }] }).outputs[0];
    const y = b.op('Mul', [x, c], [], F32, [1, 'seq', 4]);
    const custom = b.op('Frobnicate', [y], [], F32, [1, 'seq', 4], 'com.example');
    // An If whose branch reads y from the outer scope.
    const branch = new Graph('then', b.g);
    const inner = branch.add({ op: 'Relu', inputs: [y], outputs: [{ name: 'inner', type: tensorType(F32, [1, 'seq', 4]) }] });
    branch.addOutput(inner.outputs[0]);
    const cond = b.g.addInitializer('cond', tensor.bool([], [1]), { exactName: true });
    const iff = b.g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', branch), Attribute.graph('else_branch', cloneBranch(b.g, y))], outputs: [{ name: 'branch_out', type: tensorType(F32, [1, 'seq', 4]) }] });
    b.output(b.op('Add', [custom, iff.outputs[0]], [], F32, [1, 'seq', 4]), 'logits');
    const out = run(b.model);
    expect(verify(out)).toEqual([]);
    const constant = nodes(out, 'Constant')[0];
    expect(constant.attrTensor('value')?.dtype).toBe(F16);
    expect(constant.outputs[0].dtype).toBe(F16);
    expect(Array.from(constant.attrTensor('value')?.toArray() as Uint16Array, halfToFloat)).toEqual([1, 2, 3, 65504]);
    const fro = nodes(out, 'Frobnicate')[0];
    expect(fro.inputs[0]?.dtype).toBe(F32);
    expect(fro.inputs[0]?.producer?.op).toBe('Cast');
    expect(fro.outputs[0].dtype).toBe(F32);
    const relu = nodes(out, 'If')[0].subgraphs()[0].nodes.first as Node;
    expect(relu.inputs[0]?.dtype).toBe(F32);
    expect(relu.inputs[0]?.name).toBe(fro.inputs[0]?.name); // one Cast back to fp32 serves both
    // The fp32 results of the opaque nodes meet fp16 code through Casts.
    const add = out.graph.outputs[0].producer?.inputs[0]?.producer as Node;
    expect(add.op).toBe('Add');
    expect(add.inputs.map((v) => v?.dtype)).toEqual([F16, F16]);
  });

  function cloneBranch(outer: Graph, y: Value): Graph {
    const g = new Graph('else', outer);
    const n = g.add({ op: 'Neg', inputs: [y], outputs: [{ name: 'neg_inner', type: tensorType(F32, [1, 'seq', 4]) }] });
    g.addOutput(n.outputs[0]);
    return g;
  }
});

describe('needless Casts', () => {
  function castGraph(): { b: G; x: Value } {
    const b = new G(18);
    const x = b.input('x', F16, [4]);
    return { b, x };
  }

  test('same-type casts go, exact up-then-down chains collapse, lossy chains stay, duplicates merge, outputs keep names', () => {
    const { b, x } = castGraph();
    const same = b.op('Cast', [x], [Attribute.int('to', F16)], F16, [4]);
    const up = b.op('Cast', [same], [Attribute.int('to', F32)], F32, [4]);
    const down = b.op('Cast', [up], [Attribute.int('to', F16)], F16, [4]); // exact round trip → x
    const lossyDown = b.op('Cast', [b.op('Relu', [up], [], F32, [4])], [Attribute.int('to', F16)], F16, [4]);
    const lossyUp = b.op('Cast', [lossyDown], [Attribute.int('to', F32)], F32, [4]); // fp32 → fp16 → fp32 rounds: kept
    const dup1 = b.op('Cast', [x], [Attribute.int('to', F32)], F32, [4]);
    const dup2 = b.op('Cast', [x], [Attribute.int('to', F32)], F32, [4]);
    b.output(b.op('Add', [down, x], [], F16, [4]), 'a');
    b.output(lossyUp, 'b');
    b.output(b.op('Add', [dup1, dup2], [], F32, [4]), 'c');
    b.output(b.op('Cast', [b.op('Neg', [x], [], F16, [4])], [Attribute.int('to', F16)], F16, [4]), 'd');
    const removed = removeNeedlessCasts(b.g);
    expect(removed).toBeGreaterThanOrEqual(4);
    expect(verify(b.model)).toEqual([]);
    expect(needlessCasts(b.model)).toEqual([]);
    expect(nodes(b.model, 'Add')[0].inputs.map((v) => v?.name)).toEqual(['x', 'x']);
    expect(b.g.outputs[1].producer?.op).toBe('Cast');
    expect(b.g.outputs[1].producer?.inputs[0]?.producer?.op).toBe('Cast');
    const c = nodes(b.model, 'Add')[1];
    expect(c.inputs[0]?.name).toBe(c.inputs[1]?.name);
    expect(b.g.outputs.map((o) => o.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(b.g.outputs[3].producer?.op).toBe('Neg');
  });

  test('isExactConversion: widening only', () => {
    expect(isExactConversion(F16, F32)).toBe(true);
    expect(isExactConversion(DataType.BFLOAT16, F32)).toBe(true);
    expect(isExactConversion(F32, F16)).toBe(false);
    expect(isExactConversion(F16, DataType.BFLOAT16)).toBe(false);
    expect(isExactConversion(DataType.BFLOAT16, F16)).toBe(false);
    expect(isExactConversion(DataType.BOOL, F16)).toBe(true);
    expect(isExactConversion(DataType.INT8, F16)).toBe(true);
    expect(isExactConversion(DataType.INT16, F16)).toBe(false);
    expect(isExactConversion(DataType.INT16, F32)).toBe(true);
    expect(isExactConversion(DataType.INT64, F32)).toBe(false);
    expect(isExactConversion(DataType.INT32, DataType.INT64)).toBe(true);
    expect(isExactConversion(DataType.INT32, DataType.UINT64)).toBe(false);
  });
});

describe('convertFloatTensor', () => {
  test('fp16: round to nearest even, clamp finite overflow, keep inf and NaN', () => {
    const t = tensor.float32([8], [1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 1e6, -1e9, Infinity, NaN]);
    const h = Array.from(convertFloatTensor(t, F16).toArray() as Uint16Array, halfToFloat);
    expect(h.slice(0, 7)).toEqual([1, 1, 1 + 2 ** -9, 65504, 65504, -65504, Infinity]);
    expect(h[7]).toBeNaN();
  });
  test('bf16: round to nearest even, clamp to the largest finite bf16, back to fp32 exactly', () => {
    const t = tensor.float32([4], [1 + 2 ** -8, 3.4028234663852886e38, -Infinity, 0.1]);
    const bf = convertFloatTensor(t, DataType.BFLOAT16);
    const v = Array.from(bf.toArray() as Uint16Array, bfloat16ToFloat);
    expect(v.slice(0, 3)).toEqual([1, bfloat16ToFloat(0x7f7f), -Infinity]);
    expect(Math.abs(v[3] - 0.1)).toBeLessThan(1e-3);
    const back = convertFloatTensor(bf, F32).toArray() as Float32Array;
    expect(Array.from(back)).toEqual(v.map((x) => Math.fround(x)));
  });
});

describe('the pass in the registry and the llm pipeline', () => {
  test("registered as 'precision'; the llm pipeline runs it for FP16/BF16 after the static cache, not for FP32", () => {
    expect(defaultRegistry.has('precision')).toBe(true);
    const names = (p?: 'FP16' | 'BF16' | 'FP32') => llmSteps({ cache: 'static_v3', precision: p }).filter((s): s is string => typeof s === 'string');
    expect(names('FP16')).toContain('precision');
    expect(names('BF16').indexOf('precision')).toBeGreaterThan(names('BF16').indexOf('static_cache_v3'));
    expect(names('FP32')).not.toContain('precision');
  });

  test('FP32 is a no-op; an unknown precision is a precondition failure naming the pass', () => {
    const m = rmsNormModel(1);
    expect(run(m, 'FP32').graph.nodes.size).toBe(m.graph.nodes.size);
    expect(() => new PassManager([{ name: 'precision', pass: new PrecisionPass() }]).run(m, { precision: 'FP8' as never })).toThrow(PipelineError);
    expect(() => new PassManager([{ name: 'precision', pass: new PrecisionPass() }]).run(m, { precision: 'FP8' as never })).toThrow(/precision.*FP8/);
  });

  test('an already-fp16 export (qwen2-fp16-23): FP16 changes nothing but statistics attributes; logits bit-identical', async () => {
    const original = loadModel(path.join(FIXTURES, 'models', 'qwen2-fp16-23', 'model.onnx'));
    const base = lowerLlm(original, { cache: 'static_v2', maxSeqLen: 16 }).model;
    const fp16 = lowerLlm(original, { cache: 'static_v2', maxSeqLen: 16, precision: 'FP16' }).model;
    const counts = convertPrecision(cloneModel(base), F16);
    expect([counts.weights_converted, counts.values_retyped, counts.inputs_retyped, counts.casts_inserted, counts.outputs_cast]).toEqual([0, 0, 0, 0, 0]);
    expect(fp16.graph.nodes.size).toBe(base.graph.nodes.size);
    expect(fp16.graph.outputs[0].dtype).toBe(F16); // the export's logits type is kept
    expect(cacheLayout(fp16)?.layers[0].dtype).toBe('float16');
    expect(typeConflicts(fp16)).toEqual([]);
    const layout = cacheLayout(fp16);
    const run1 = async (m: Model) => {
      const s = await createSession(m);
      const feeds: Record<string, ort.Tensor> = { input_ids: int64Tensor([1, 2, 3], [1, 3]), position_ids: int64Tensor([0, 1, 2], [1, 3]), start_idx: int64Tensor([0], []), end_idx: int64Tensor([3], []) };
      for (const l of layout?.layers ?? []) for (const n of [l.keyName, l.valueName]) feeds[n] = new ort.Tensor('float16', new Uint16Array(l.heads * 16 * l.headDim), [1, l.heads, 16, l.headDim]);
      const out = await s.run(feeds);
      await s.release();
      return Array.from(out.logits.data as Uint16Array);
    };
    expect(await run1(fp16)).toEqual(await run1(base));
    // BF16 on an fp16 export: a valid graph, fp16 weights turned bf16.
    const bf16 = lowerLlm(original, { cache: 'static_v2', maxSeqLen: 16, precision: 'BF16' }).model;
    expect(verify(bf16)).toEqual([]);
    expect(typeConflicts(bf16)).toEqual([]);
    expect([...bf16.graph.initializers.values()].some((v) => v.dtype === F16)).toBe(false);
  });
});
