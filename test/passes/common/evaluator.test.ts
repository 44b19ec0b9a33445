import { Attribute, AttrType } from '../../../src/ir/attribute';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { floatToBfloat16, floatToHalf } from '../../../src/ir/float16';
import { Graph } from '../../../src/ir/graph';
import { Node } from '../../../src/ir/node';
import { RawTensor, Tensor, tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import { Value } from '../../../src/ir/value';
import { EvalError, evaluateNode, evaluateSubgraph, evaluatorOps } from '../../../src/passes/common/evaluator';
import { erf } from '../../../src/passes/common/eval/elementwise';
import { expectTensorsClose, numbers, runOneNodeOrt } from './ort-helpers';

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

/** A detached node (evaluateNode needs only op, attributes and output count). */
function node(op: string, attrs: Record<string, number | string | number[] | Tensor | Attribute> = {}, outputs = 1): Node {
  const g = new Graph('scratch');
  const n = new Builder(g).node(op, [], attrs as never, { outputs });
  return n;
}
function run(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | string | number[] | Tensor | Attribute> = {}, opset = 18, outputs = 1): Tensor[] {
  return evaluateNode(node(op, attrs, outputs), inputs, opset);
}
function one(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | string | number[] | Tensor | Attribute> = {}, opset = 18): Tensor {
  return run(op, inputs, attrs, opset)[0];
}
const f32 = (dims: number[], v: number[]) => tensor.float32(dims, v);
const i64 = (dims: number[], v: (number | bigint)[]) => tensor.int64(dims, v);
const i32 = (dims: number[], v: number[]) => tensor.int32(dims, v);
const b = (dims: number[], v: (boolean | number)[]) => tensor.bool(dims, v);
const f64 = (dims: number[], v: number[]) => RawTensor.fromArray(DataType.DOUBLE, dims, Float64Array.from(v));
const f16 = (dims: number[], v: number[]) => RawTensor.fromArray(DataType.FLOAT16, dims, Uint16Array.from(v, floatToHalf));
const u8 = (dims: number[], v: number[]) => RawTensor.fromArray(DataType.UINT8, dims, Uint8Array.from(v));
const scalar = (v: number | bigint) => i64([], [v]);

function expectValues(t: Tensor, dtype: DataType, dims: number[], values: (number | bigint | boolean)[]): void {
  expect(DataType[t.dtype]).toBe(DataType[dtype]);
  expect(t.dims).toEqual(dims);
  if (dtype === DataType.INT64) expect(t.toBigInts()).toEqual(values.map((v) => BigInt(v as number)));
  else expect(numbers(t)).toEqual(values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : Number(v))));
}

describe('evaluateNode: hand-computed values', () => {
  test('integer Div truncates toward zero; Mod follows fmod', () => {
    expectValues(one('Div', [i64([4], [7, -7, 7, -7]), i64([4], [2, 2, -2, -2])]), DataType.INT64, [4], [3, -3, -3, 3]);
    expectValues(one('Div', [i32([2], [-7, 9]), i32([1], [2])]), DataType.INT32, [2], [-3, 4]);
    expectValues(one('Mod', [i64([4], [7, -7, 7, -7]), i64([4], [3, 3, -3, -3])]), DataType.INT64, [4], [1, 2, -2, -1]);
    expectValues(one('Mod', [i64([4], [7, -7, 7, -7]), i64([4], [3, 3, -3, -3])], { fmod: 1 }), DataType.INT64, [4], [1, -1, 1, -1]);
    expect(() => one('Div', [i64([1], [1]), i64([1], [0])])).toThrow(EvalError);
    expectValues(one('Div', [f32([2], [1, -1]), f32([2], [0, 0])]), DataType.FLOAT, [2], [Infinity, -Infinity]);
  });

  test('int64 stays exact beyond 2^53 and wraps like two\'s complement', () => {
    const big = 2n ** 60n + 1n;
    expectValues(one('Add', [i64([1], [big]), i64([1], [2])]), DataType.INT64, [1], [big + 2n]);
    expect(one('Add', [i64([1], [I64_MAX]), i64([1], [1])]).toBigInts()).toEqual([I64_MIN]);
    expect(one('Mul', [i64([1], [2n ** 40n + 3n]), i64([1], [2n ** 20n])]).toBigInts()).toEqual([(2n ** 40n + 3n) * 2n ** 20n]);
    // 65537² = 2^32 + 131073: int32 keeps the low 32 bits.
    expect(one('Mul', [i32([1], [65537]), i32([1], [65537])]).toArray()[0]).toBe(131073);
  });

  test('float32 results are rounded to float32', () => {
    const r = one('Add', [f32([1], [0.1]), f32([1], [0.2])]);
    expect((r.toArray() as Float32Array)[0]).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    const d = one('Add', [f64([1], [0.1]), f64([1], [0.2])]);
    expect((d.toArray() as Float64Array)[0]).toBe(0.1 + 0.2);
  });

  test('numpy broadcasting, and shapes that do not broadcast are EVAL_INVALID', () => {
    expectValues(one('Sub', [f32([2, 1], [10, 20]), f32([3], [1, 2, 3])]), DataType.FLOAT, [2, 3], [9, 8, 7, 19, 18, 17]);
    expectValues(one('Less', [i64([1, 3], [1, 5, 3]), i64([2, 1], [2, 4])]), DataType.BOOL, [2, 3], [1, 0, 0, 1, 0, 1]);
    expect(() => one('Add', [f32([2], [1, 2]), f32([3], [1, 2, 3])])).toThrow(expect.objectContaining({ code: 'EVAL_INVALID' }));
  });

  test('Slice: INT64_MAX/MIN ends, negative starts, negative steps, clamping, attribute form', () => {
    const x = i64([6], [0, 1, 2, 3, 4, 5]);
    expectValues(one('Slice', [x, i64([1], [2]), i64([1], [I64_MAX])]), DataType.INT64, [4], [2, 3, 4, 5]);
    expectValues(one('Slice', [x, i64([1], [-2]), i64([1], [I64_MAX])]), DataType.INT64, [2], [4, 5]);
    expectValues(one('Slice', [x, i64([1], [I64_MIN]), i64([1], [-2])]), DataType.INT64, [4], [0, 1, 2, 3]);
    expectValues(one('Slice', [x, i64([1], [-1]), i64([1], [I64_MIN]), i64([1], [0]), i64([1], [-1])]), DataType.INT64, [6], [5, 4, 3, 2, 1, 0]);
    expectValues(one('Slice', [x, i64([1], [10]), i64([1], [0]), undefined, i64([1], [-2])]), DataType.INT64, [3], [5, 3, 1]);
    expectValues(one('Slice', [x, i64([1], [4]), i64([1], [2])]), DataType.INT64, [0], []);
    const m = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expectValues(one('Slice', [m, i64([1], [1]), i64([1], [100]), i64([1], [-1])]), DataType.FLOAT, [2, 2], [2, 3, 5, 6]);
    expectValues(one('Slice', [m], { starts: [1], ends: [2], axes: [0] }, 9), DataType.FLOAT, [1, 3], [4, 5, 6]);
  });

  test('Reshape: 0 copies, -1 infers, allowzero keeps zeros', () => {
    const x = f32([2, 3, 4], Array.from({ length: 24 }, (_, i) => i));
    expect(one('Reshape', [x, i64([2], [0, -1])]).dims).toEqual([2, 12]);
    expect(one('Reshape', [x, i64([3], [-1, 0, 2])]).dims).toEqual([4, 3, 2]);
    const empty = f32([0, 3], []);
    expect(one('Reshape', [empty, i64([2], [3, 0])], { allowzero: 1 }).dims).toEqual([3, 0]);
    expect(() => one('Reshape', [x, i64([2], [5, -1])])).toThrow(EvalError);
  });

  test('Squeeze/Unsqueeze axes: attribute (opset 11) and input (opset 13), negative axes', () => {
    const x = f32([1, 3, 1], [1, 2, 3]);
    expect(one('Squeeze', [x], { axes: [0] }, 11).dims).toEqual([3, 1]);
    expect(one('Squeeze', [x, i64([1], [-1])], {}, 13).dims).toEqual([1, 3]);
    expect(one('Squeeze', [x], {}, 13).dims).toEqual([3]);
    expect(() => one('Squeeze', [x, i64([1], [1])], {}, 13)).toThrow(EvalError);
    expect(one('Unsqueeze', [x], { axes: [0, 4] }, 11).dims).toEqual([1, 1, 3, 1, 1]);
    expect(one('Unsqueeze', [f32([3], [1, 2, 3]), i64([2], [-1, 0])], {}, 13).dims).toEqual([1, 3, 1]);
  });

  test('Reduce*: axes attribute vs input, keepdims, noop_with_empty_axes', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expectValues(one('ReduceSum', [x, i64([1], [1])], {}, 13), DataType.FLOAT, [2, 1], [6, 15]);
    expectValues(one('ReduceSum', [x], { keepdims: 0 }, 13), DataType.FLOAT, [], [21]);
    expectValues(one('ReduceSum', [x, i64([0], [])], { noop_with_empty_axes: 1 }, 13), DataType.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6]);
    expectValues(one('ReduceMean', [x], { axes: [0], keepdims: 0 }, 13), DataType.FLOAT, [3], [2.5, 3.5, 4.5]);
    expectValues(one('ReduceMean', [x, i64([1], [-1])], { keepdims: 0 }, 18), DataType.FLOAT, [2], [2, 5]);
    expectValues(one('ReduceMax', [x], { axes: [1] }, 13), DataType.FLOAT, [2, 1], [3, 6]);
    expectValues(one('ReduceMin', [i64([2, 2], [5, -3, 2, 9]), i64([1], [0])], { keepdims: 0 }, 18), DataType.INT64, [2], [2, -3]);
    expectValues(one('ReduceProd', [x], { keepdims: 0 }, 13), DataType.FLOAT, [], [720]);
  });

  test('Cast: bool, float16, bfloat16, int64, truncation', () => {
    expectValues(one('Cast', [f32([4], [0, -0.5, NaN, 2])], { to: DataType.BOOL }), DataType.BOOL, [4], [0, 1, 1, 1]);
    expectValues(one('Cast', [b([2], [true, false])], { to: DataType.FLOAT }), DataType.FLOAT, [2], [1, 0]);
    expectValues(one('Cast', [f32([3], [2.9, -2.9, 1e10])], { to: DataType.INT64 }), DataType.INT64, [3], [2, -2, 1e10]);
    expectValues(one('Cast', [i64([2], [2n ** 40n + 7n, -5])], { to: DataType.INT32 }), DataType.INT32, [2], [7, -5]);
    const h = one('Cast', [f32([3], [1 / 3, 65504, 1e6])], { to: DataType.FLOAT16 });
    expect(h.dtype).toBe(DataType.FLOAT16);
    expect(Array.from(h.toArray() as Uint16Array)).toEqual([floatToHalf(1 / 3), floatToHalf(65504), 0x7c00]);
    const bf = one('Cast', [f32([1], [1 / 3])], { to: DataType.BFLOAT16 });
    expect(Array.from(bf.toArray() as Uint16Array)).toEqual([floatToBfloat16(1 / 3)]);
    expect(numbers(one('Cast', [f16([1], [0.1])], { to: DataType.FLOAT }))[0]).toBeCloseTo(0.0999755859375, 10);
    expectValues(one('CastLike', [i32([2], [3, 4]), f64([0], [])]), DataType.DOUBLE, [2], [3, 4]);
  });

  test('float16 arithmetic rounds to half precision', () => {
    const r = one('Add', [f16([1], [1]), f16([1], [0.0001])]);
    expect(numbers(r)).toEqual([1]);
  });

  test('Range (int64 exact, float accumulating), ConstantOfShape, Constant forms', () => {
    expectValues(one('Range', [scalar(2), scalar(11), scalar(3)]), DataType.INT64, [3], [2, 5, 8]);
    expectValues(one('Range', [scalar(5), scalar(0), scalar(-2)]), DataType.INT64, [3], [5, 3, 1]);
    expectValues(one('Range', [scalar(5), scalar(0), scalar(1)]), DataType.INT64, [0], []);
    expectValues(one('Range', [f32([], [0]), f32([], [1]), f32([], [0.25])]), DataType.FLOAT, [4], [0, 0.25, 0.5, 0.75]);
    expectValues(one('ConstantOfShape', [i64([2], [2, 2])], { value: i64([1], [7]) }), DataType.INT64, [2, 2], [7, 7, 7, 7]);
    expectValues(one('ConstantOfShape', [i64([1], [3])]), DataType.FLOAT, [3], [0, 0, 0]);
    expectValues(one('Constant', [], { value: f32([2], [1, 2]) }), DataType.FLOAT, [2], [1, 2]);
    expectValues(one('Constant', [], { value_int: 5 }), DataType.INT64, [], [5]);
    expectValues(one('Constant', [], { value_ints: [1, 2] }), DataType.INT64, [2], [1, 2]);
    expectValues(one('Constant', [], { value_float: Attribute.float('value_float', 2.5) }), DataType.FLOAT, [], [2.5]);
    expectValues(one('Constant', [], { value_floats: Attribute.floats('value_floats', [1.5, 2]) }), DataType.FLOAT, [2], [1.5, 2]);
    const sparse = new Attribute('sparse_value', { type: AttrType.SPARSE_TENSOR, value: { values: f32([2], [5, 6]), indices: i64([2], [1, 3]), dims: [2, 2] } });
    expectValues(one('Constant', [], { sparse_value: sparse }), DataType.FLOAT, [2, 2], [0, 5, 0, 6]);
  });

  test('Shape start/end, Size', () => {
    const x = f32([2, 3, 4, 5], new Array(120).fill(0));
    expectValues(one('Shape', [x]), DataType.INT64, [4], [2, 3, 4, 5]);
    expectValues(one('Shape', [x], { start: 1, end: -1 }), DataType.INT64, [2], [3, 4]);
    expectValues(one('Shape', [x], { start: -10, end: 10 }), DataType.INT64, [4], [2, 3, 4, 5]);
    expectValues(one('Shape', [x], { start: 3, end: 1 }), DataType.INT64, [0], []);
    expectValues(one('Size', [x]), DataType.INT64, [], [120]);
  });

  test('Gather (negative indices, scalar index), GatherElements, GatherND with batch_dims', () => {
    const x = f32([3, 2], [1, 2, 3, 4, 5, 6]);
    expectValues(one('Gather', [x, i64([2], [-1, 0])]), DataType.FLOAT, [2, 2], [5, 6, 1, 2]);
    expectValues(one('Gather', [x, scalar(1)], { axis: 1 }), DataType.FLOAT, [3], [2, 4, 6]);
    expect(() => one('Gather', [x, i64([1], [3])])).toThrow(EvalError);
    expectValues(one('GatherElements', [x, i64([3, 2], [1, 0, 0, 1, 1, 1])], { axis: 1 }), DataType.FLOAT, [3, 2], [2, 1, 3, 4, 6, 6]);
    const d = i64([2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
    expectValues(one('GatherND', [d, i64([2, 2], [0, 1, 1, 0])]), DataType.INT64, [2, 2], [2, 3, 4, 5]);
    expectValues(one('GatherND', [d, i64([2, 1], [1, 0])], { batch_dims: 1 }), DataType.INT64, [2, 2], [2, 3, 4, 5]);
  });

  test('Split: explicit sizes (input and attribute), uneven num_outputs', () => {
    const x = i64([5], [0, 1, 2, 3, 4]);
    const parts = run('Split', [x, i64([2], [2, 3])], {}, 13, 2);
    expectValues(parts[0], DataType.INT64, [2], [0, 1]);
    expectValues(parts[1], DataType.INT64, [3], [2, 3, 4]);
    const legacy = run('Split', [x], { split: [4, 1] }, 11, 2);
    expect(legacy.map((t) => t.dims)).toEqual([[4], [1]]);
    const uneven = run('Split', [x], { num_outputs: 2 }, 18, 2);
    expect(uneven.map((t) => t.dims)).toEqual([[3], [2]]);
  });

  test('CumSum exclusive/reverse, Trilu, ArgMax', () => {
    const x = i64([4], [1, 2, 3, 4]);
    const axis = scalar(0);
    expectValues(one('CumSum', [x, axis]), DataType.INT64, [4], [1, 3, 6, 10]);
    expectValues(one('CumSum', [x, axis], { exclusive: 1 }), DataType.INT64, [4], [0, 1, 3, 6]);
    expectValues(one('CumSum', [x, axis], { reverse: 1 }), DataType.INT64, [4], [10, 9, 7, 4]);
    expectValues(one('CumSum', [x, axis], { reverse: 1, exclusive: 1 }), DataType.INT64, [4], [9, 7, 4, 0]);
    const m = f32([3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectValues(one('Trilu', [m]), DataType.FLOAT, [3, 3], [1, 2, 3, 0, 5, 6, 0, 0, 9]);
    expectValues(one('Trilu', [m, scalar(-1)], { upper: 0 }), DataType.FLOAT, [3, 3], [0, 0, 0, 4, 0, 0, 7, 8, 0]);
    expectValues(one('ArgMax', [f32([2, 3], [1, 9, 9, 4, 2, 4])], { axis: 1, keepdims: 0 }), DataType.INT64, [2], [1, 0]);
    expectValues(one('ArgMax', [f32([2, 3], [1, 9, 9, 4, 2, 4])], { axis: 1, keepdims: 0, select_last_index: 1 }), DataType.INT64, [2], [2, 2]);
  });

  test('Softmax: opset 13 normalises one axis, opset 11 the flattened tail', () => {
    const x = f32([2, 2], [0, 0, 0, Math.log(3)]);
    expect(numbers(one('Softmax', [x], { axis: 0 }, 13)).map((v) => +v.toFixed(6))).toEqual([0.5, 0.25, 0.5, 0.75]);
    const y = one('Softmax', [x], { axis: 0 }, 11);
    expect(numbers(y).map((v) => +v.toFixed(6))).toEqual([1 / 6, 1 / 6, 1 / 6, 0.5].map((v) => +v.toFixed(6)));
  });

  test('MatMul with 1-D operands and broadcast batches', () => {
    expectValues(one('MatMul', [f32([2], [1, 2]), f32([2, 2], [1, 2, 3, 4])]), DataType.FLOAT, [2], [7, 10]);
    expectValues(one('MatMul', [f32([2, 2], [1, 2, 3, 4]), f32([2], [1, 1])]), DataType.FLOAT, [2], [3, 7]);
    expect(one('MatMul', [f32([3, 1, 2, 4], new Array(24).fill(1)), f32([5, 4, 2], new Array(40).fill(1))]).dims).toEqual([3, 5, 2, 2]);
  });

  test('erf is accurate to ~1e-15 on sample points', () => {
    // Reference values (Abramowitz & Stegun table / mpmath).
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
    expect(erf(0)).toBe(0);
  });

  test('unsupported ops and dtypes are typed errors naming them; the budget is enforced', () => {
    expect(() => one('NonMaxSuppression', [f32([1], [1])])).toThrow(expect.objectContaining({ code: 'EVAL_UNSUPPORTED', message: expect.stringContaining('NonMaxSuppression') }));
    expect(() => one('Sqrt', [i64([1], [4])])).toThrow(expect.objectContaining({ code: 'EVAL_UNSUPPORTED' }));
    expect(() => evaluateNode(node('ConstantOfShape'), [i64([2], [2000, 1000])], 18)).toThrow(expect.objectContaining({ code: 'EVAL_BUDGET' }));
    expect(() => evaluateNode(node('Expand'), [f32([1], [1]), i64([1], [11])], 18, { maxElements: 10 })).toThrow(expect.objectContaining({ code: 'EVAL_BUDGET' }));
    expect(evaluateNode(node('Expand'), [f32([1], [1]), i64([1], [10])], 18, { maxElements: 10 })[0].dims).toEqual([10]);
  });
});

describe('evaluateSubgraph', () => {
  function chain(): { g: Graph; x: Value; y: Value; z: Value; unused: Value } {
    const g = new Graph('g');
    const x = g.addInput({ name: 'x', type: tensorType(DataType.INT64, [3]) });
    const bld = new Builder(g);
    const c = bld.constant('c', i64([1], [10]));
    const y = bld.op('Add', [x, c]);
    const z = bld.op('Mul', [y, y]);
    const unused = bld.op('NonMaxSuppression', [x]);
    g.setOutputs([z, unused]);
    return { g, x, y, z, unused };
  }

  test('evaluates only what the targets need, using initializers and feeds', () => {
    const { g, x, y, z } = chain();
    const out = evaluateSubgraph(g, new Map([[x, i64([3], [1, 2, 3])]]), [z, y]);
    expect(out.get(z)?.toBigInts()).toEqual([121n, 144n, 169n]);
    expect(out.get(y)?.toBigInts()).toEqual([11n, 12n, 13n]);
  });

  test('a graph input without a feed is EVAL_MISSING; a needed unsupported op is EVAL_UNSUPPORTED', () => {
    const { g, x, z, unused } = chain();
    expect(() => evaluateSubgraph(g, new Map(), [z])).toThrow(expect.objectContaining({ code: 'EVAL_MISSING' }));
    expect(() => evaluateSubgraph(g, new Map([[x, i64([3], [1, 2, 3])]]), [unused])).toThrow(expect.objectContaining({ code: 'EVAL_UNSUPPORTED' }));
  });

  test('a 20000-node chain evaluates without recursion', () => {
    const g = new Graph('long');
    const x = g.addInput({ name: 'x', type: tensorType(DataType.INT64, [1]) });
    const one1 = g.addInitializer('one', i64([1], [1]));
    const bld = new Builder(g);
    let v = x;
    for (let i = 0; i < 20000; i++) v = bld.op('Add', [v, one1]);
    const out = evaluateSubgraph(g, new Map([[x, i64([1], [5])]]), [v]);
    expect(out.get(v)?.toBigInts()).toEqual([20005n]);
  });
});

/** Cases compared against onnxruntime (opset, op, inputs, attributes, output types). */
interface OrtCase {
  name: string;
  op: string;
  inputs: (Tensor | undefined)[];
  attrs?: Record<string, number | number[] | Tensor | Attribute>;
  opset?: number;
  outputs?: DataType[];
  tol?: number;
}

const vals = (n: number, scale = 1, shift = 0) => Array.from({ length: n }, (_, i) => Math.round((Math.sin(i * 1.7 + 0.3) * 3 + shift) * 1000) / 1000 * scale);
const X23 = f32([2, 3], vals(6));
const X234 = f32([2, 3, 4], vals(24));
const POS = f32([2, 3], vals(6).map((v) => Math.abs(v) + 0.1));
const IDX = i64([2, 3], [0, -1, 2, 1, 1, 0]);

const ORT_CASES: OrtCase[] = [
  ...['Neg', 'Abs', 'Exp', 'Sin', 'Cos', 'Floor', 'Ceil', 'Sigmoid', 'Tanh', 'Erf', 'Relu'].map((op) => ({ name: op, op, inputs: [X234], tol: 2e-6 })),
  { name: 'Sqrt', op: 'Sqrt', inputs: [POS] },
  { name: 'Log', op: 'Log', inputs: [POS], tol: 2e-6 },
  { name: 'Reciprocal', op: 'Reciprocal', inputs: [POS] },
  { name: 'Neg int64', op: 'Neg', inputs: [i64([3], [1, -2, 3])] },
  { name: 'Abs int32', op: 'Abs', inputs: [i32([3], [1, -2, 3])] },
  ...['Add', 'Sub', 'Mul', 'Div'].flatMap((op) => [
    { name: `${op} float broadcast`, op, inputs: [X234, f32([4], [1.5, -2, 3, 0.5])] },
    { name: `${op} int64`, op, inputs: [i64([2, 2], [7, -7, 9, 100]), i64([2], [2, -3])] },
    { name: `${op} int32`, op, inputs: [i32([2, 2], [7, -7, 9, 100]), i32([1], [-4])] },
    { name: `${op} double`, op, inputs: [f64([3], [1.1, 2.2, 3.3]), f64([1], [0.7])] },
  ]),
  { name: 'Mod int', op: 'Mod', inputs: [i64([4], [7, -7, 7, -7]), i64([4], [3, 3, -3, -3])] },
  { name: 'Mod fmod int', op: 'Mod', inputs: [i32([4], [7, -7, 7, -7]), i32([4], [3, 3, -3, -3])], attrs: { fmod: 1 } },
  { name: 'Mod fmod float', op: 'Mod', inputs: [f32([4], [7.5, -7.5, 7.5, -7.5]), f32([4], [2, 2, -2, -2])], attrs: { fmod: 1 } },
  { name: 'Pow float', op: 'Pow', inputs: [POS, f32([1], [2.5])], tol: 2e-6 },
  { name: 'Pow float^int', op: 'Pow', inputs: [X23, i64([1], [3])], tol: 2e-6 },
  { name: 'Pow int', op: 'Pow', inputs: [i64([3], [2, 3, -4]), i64([3], [3, 2, 3])] },
  { name: 'Max', op: 'Max', inputs: [X23, f32([3], [0, 1, -1]), f32([2, 1], [0.5, -0.5])] },
  { name: 'Min int64', op: 'Min', inputs: [i64([3], [1, 5, -3]), i64([1], [2])] },
  ...['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'].flatMap((op) => [
    { name: `${op} float`, op, inputs: [f32([4], [1, 2, 3, NaN]), f32([4], [2, 2, 2, NaN])], outputs: [DataType.BOOL] },
    { name: `${op} int64`, op, inputs: [i64([2, 2], [1, 2, 3, 4]), i64([2], [2, 3])], outputs: [DataType.BOOL] },
  ]),
  ...['And', 'Or', 'Xor'].map((op) => ({ name: op, op, inputs: [b([2, 2], [1, 0, 1, 0]), b([2], [1, 0])], outputs: [DataType.BOOL] })),
  { name: 'Not', op: 'Not', inputs: [b([3], [1, 0, 1])], outputs: [DataType.BOOL] },
  { name: 'Where', op: 'Where', inputs: [b([2, 1], [1, 0]), X23, f32([3], [9, 8, 7])] },
  { name: 'Where int64', op: 'Where', inputs: [b([3], [1, 0, 1]), i64([3], [1, 2, 3]), i64([], [-1])] },
  { name: 'IsNaN', op: 'IsNaN', inputs: [f32([3], [1, NaN, Infinity])], outputs: [DataType.BOOL] },
  { name: 'IsInf', op: 'IsInf', inputs: [f32([4], [1, NaN, Infinity, -Infinity])], outputs: [DataType.BOOL] },
  { name: 'IsInf neg only', op: 'IsInf', inputs: [f32([4], [1, NaN, Infinity, -Infinity])], attrs: { detect_positive: 0 }, outputs: [DataType.BOOL] },
  { name: 'Cast f→i64', op: 'Cast', inputs: [f32([4], [1.7, -1.7, 100.5, -0.2])], attrs: { to: DataType.INT64 }, outputs: [DataType.INT64] },
  { name: 'Cast f→bool', op: 'Cast', inputs: [f32([3], [0, 0.1, -3])], attrs: { to: DataType.BOOL }, outputs: [DataType.BOOL] },
  { name: 'Cast bool→i64', op: 'Cast', inputs: [b([3], [1, 0, 1])], attrs: { to: DataType.INT64 }, outputs: [DataType.INT64] },
  { name: 'Cast i64→f', op: 'Cast', inputs: [i64([3], [1, -2, 2n ** 40n + 1n])], attrs: { to: DataType.FLOAT }, outputs: [DataType.FLOAT] },
  { name: 'Cast f→f16', op: 'Cast', inputs: [X234], attrs: { to: DataType.FLOAT16 }, outputs: [DataType.FLOAT16] },
  { name: 'Cast f16→f', op: 'Cast', inputs: [f16([3], [0.1, -2.5, 1000])], attrs: { to: DataType.FLOAT }, outputs: [DataType.FLOAT] },
  { name: 'Cast f→i32 out of range', op: 'Cast', inputs: [f32([4], [3e9, -3e9, 2.5, -2.5])], attrs: { to: DataType.INT32 }, outputs: [DataType.INT32] },
  { name: 'Cast f→i8', op: 'Cast', inputs: [f32([3], [300.7, -129.2, 5.9])], attrs: { to: DataType.INT8 }, outputs: [DataType.INT8] },
  { name: 'Cast i64→i32', op: 'Cast', inputs: [i64([2], [2n ** 33n + 5n, -7])], attrs: { to: DataType.INT32 }, outputs: [DataType.INT32] },
  { name: 'Cast u8→f64', op: 'Cast', inputs: [u8([2], [200, 3])], attrs: { to: DataType.DOUBLE }, outputs: [DataType.DOUBLE] },
  { name: 'Add f16', op: 'Add', inputs: [f16([3], [0.1, 1000, 1]), f16([3], [0.2, 0.3, 0.0001])] },
  { name: 'ConstantOfShape', op: 'ConstantOfShape', inputs: [i64([2], [2, 3])], attrs: { value: i64([1], [4]) }, outputs: [DataType.INT64] },
  { name: 'Shape', op: 'Shape', inputs: [X234], attrs: { start: 1 }, outputs: [DataType.INT64] },
  { name: 'Shape neg', op: 'Shape', inputs: [X234], attrs: { start: -2, end: -1 }, outputs: [DataType.INT64] },
  { name: 'Size', op: 'Size', inputs: [X234], outputs: [DataType.INT64] },
  { name: 'Gather axis 1', op: 'Gather', inputs: [X234, IDX], attrs: { axis: 1 } },
  { name: 'Gather scalar', op: 'Gather', inputs: [i64([4], [5, 6, 7, 8]), i64([], [-2])], outputs: [DataType.INT64] },
  { name: 'GatherElements', op: 'GatherElements', inputs: [X23, i64([2, 2], [2, 0, 1, -1])], attrs: { axis: 1 } },
  { name: 'GatherND', op: 'GatherND', inputs: [X234, i64([2, 2], [0, 1, 1, 2])] },
  { name: 'GatherND batch', op: 'GatherND', inputs: [X234, i64([2, 1, 1], [2, 0])], attrs: { batch_dims: 1 } },
  { name: 'Slice neg step', op: 'Slice', inputs: [X234, i64([2], [-1, I64_MAX]), i64([2], [I64_MIN, 0]), i64([2], [2, 1]), i64([2], [-2, -1])] },
  { name: 'Slice clamp', op: 'Slice', inputs: [X234, i64([1], [1]), i64([1], [1000]), i64([1], [1])] },
  { name: 'Concat', op: 'Concat', inputs: [X23, f32([2, 1], [7, 8])], attrs: { axis: -1 } },
  { name: 'Split input', op: 'Split', inputs: [X234, i64([2], [1, 3])], attrs: { axis: 2 }, outputs: [DataType.FLOAT, DataType.FLOAT] },
  { name: 'Split num_outputs', op: 'Split', inputs: [f32([5], [1, 2, 3, 4, 5])], attrs: { num_outputs: 3 }, outputs: [DataType.FLOAT, DataType.FLOAT, DataType.FLOAT] },
  { name: 'Unsqueeze', op: 'Unsqueeze', inputs: [X23, i64([2], [-1, 1])] },
  { name: 'Squeeze', op: 'Squeeze', inputs: [f32([1, 3, 1], [1, 2, 3]), i64([1], [-1])] },
  { name: 'Unsqueeze opset 11', op: 'Unsqueeze', inputs: [X23], attrs: { axes: [0] }, opset: 11 },
  { name: 'Squeeze opset 11', op: 'Squeeze', inputs: [f32([1, 3, 1], [1, 2, 3])], attrs: { axes: [0] }, opset: 11 },
  { name: 'Reshape', op: 'Reshape', inputs: [X234, i64([3], [0, -1, 2])] },
  { name: 'Reshape allowzero', op: 'Reshape', inputs: [f32([0, 3], []), i64([2], [3, 0])], attrs: { allowzero: 1 } },
  { name: 'Expand', op: 'Expand', inputs: [f32([3, 1], [1, 2, 3]), i64([3], [2, 1, 4])] },
  { name: 'Tile', op: 'Tile', inputs: [X23, i64([2], [2, 3])] },
  { name: 'Transpose', op: 'Transpose', inputs: [X234], attrs: { perm: [2, 0, 1] } },
  { name: 'Transpose default', op: 'Transpose', inputs: [X234] },
  { name: 'Identity', op: 'Identity', inputs: [X23] },
  { name: 'Range int64', op: 'Range', inputs: [i64([], [-3]), i64([], [10]), i64([], [4])], outputs: [DataType.INT64] },
  { name: 'Range float', op: 'Range', inputs: [f32([], [0.1]), f32([], [2]), f32([], [0.3])] },
  { name: 'CumSum', op: 'CumSum', inputs: [X234, i64([], [1])], attrs: { exclusive: 1, reverse: 1 } },
  { name: 'CumSum int', op: 'CumSum', inputs: [i64([2, 3], [1, 2, 3, 4, 5, 6]), i32([], [-1])] },
  { name: 'Trilu', op: 'Trilu', inputs: [X234, i64([], [1])], attrs: { upper: 0 } },
  { name: 'Trilu upper', op: 'Trilu', inputs: [X234] },
  { name: 'ReduceSum', op: 'ReduceSum', inputs: [X234, i64([2], [0, 2])], attrs: { keepdims: 0 } },
  { name: 'ReduceMean', op: 'ReduceMean', inputs: [X234, i64([1], [-1])] },
  { name: 'ReduceMax', op: 'ReduceMax', inputs: [X234, i64([1], [1])] },
  { name: 'ReduceMin', op: 'ReduceMin', inputs: [X234], attrs: { keepdims: 0 } },
  { name: 'ReduceProd', op: 'ReduceProd', inputs: [X23, i64([1], [0])], tol: 2e-6 },
  { name: 'ReduceMean opset 13', op: 'ReduceMean', inputs: [X234], attrs: { axes: [1] }, opset: 13 },
  { name: 'ReduceSum noop', op: 'ReduceSum', inputs: [X23, i64([0], [])], attrs: { noop_with_empty_axes: 1 } },
  { name: 'ArgMax', op: 'ArgMax', inputs: [X234], attrs: { axis: -1 }, outputs: [DataType.INT64] },
  { name: 'Softmax', op: 'Softmax', inputs: [X234], attrs: { axis: 1 }, tol: 2e-6 },
  { name: 'Softmax opset 11', op: 'Softmax', inputs: [X234], attrs: { axis: 1 }, opset: 11, tol: 2e-6 },
  { name: 'MatMul', op: 'MatMul', inputs: [X234, f32([4, 2], vals(8))], tol: 2e-6 },
  { name: 'MatMul batch bcast', op: 'MatMul', inputs: [f32([2, 1, 2, 3], vals(12)), f32([3, 3, 2], vals(18))], tol: 2e-6 },
  { name: 'Flatten', op: 'Flatten', inputs: [X234], attrs: { axis: 2 } },
  { name: 'Sign', op: 'Sign', inputs: [f32([4], [-2, 0, 3, -0.5])] },
  { name: 'Round', op: 'Round', inputs: [f32([6], [0.5, 1.5, 2.5, -0.5, -1.7, 2.2])] },
  { name: 'Tan', op: 'Tan', inputs: [X23], tol: 2e-6 },
  { name: 'Sum', op: 'Sum', inputs: [X23, f32([3], [1, 2, 3]), f32([2, 1], [10, 20])] },
  { name: 'Mean', op: 'Mean', inputs: [X23, f32([3], [1, 2, 3])] },
  { name: 'LogSoftmax', op: 'LogSoftmax', inputs: [X234], tol: 2e-6 },
  { name: 'ArgMin', op: 'ArgMin', inputs: [X234], attrs: { axis: 1, keepdims: 0 }, outputs: [DataType.INT64] },
  { name: 'CastLike', op: 'CastLike', inputs: [X23, i32([0], [])], outputs: [DataType.INT32] },
  { name: 'MatMul vec', op: 'MatMul', inputs: [f32([3], [1, 2, 3]), f32([2, 3, 2], vals(12))], tol: 2e-6 },
];

describe('evaluateNode agrees with onnxruntime', () => {
  test.each(ORT_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const opset = c.opset ?? 18;
    const ours = evaluateNode(node(c.op, c.attrs ?? {}, c.outputs?.length ?? 1), c.inputs, opset);
    const outputTypes = c.outputs ?? ours.map((t) => t.dtype);
    const theirs = await runOneNodeOrt({ op: c.op, inputs: c.inputs, attrs: c.attrs as never, opset, outputTypes });
    ours.forEach((t, i) => expectTensorsClose(t, theirs[i], c.tol ?? 1e-7, `${c.name} output ${i}`));
  });

  test('the comparison itself catches a wrong answer', async () => {
    const inputs = [X23, f32([3], [1, 2, 3])];
    const theirs = await runOneNodeOrt({ op: 'Add', inputs, outputTypes: [DataType.FLOAT] });
    const wrong = evaluateNode(node('Sub'), inputs, 18)[0];
    expect(() => expectTensorsClose(wrong, theirs[0])).toThrow(/element/);
    expectTensorsClose(evaluateNode(node('Add'), inputs, 18)[0], theirs[0]);
  });

  test('every evaluator op has an onnxruntime case or a hand-computed test', () => {
    const covered = new Set([...ORT_CASES.map((c) => c.op), 'Constant']);
    expect(evaluatorOps().filter((op) => !covered.has(op))).toEqual([]);
  });
});
