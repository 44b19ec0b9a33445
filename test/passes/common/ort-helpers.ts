import * as ort from 'onnxruntime-node';
import { AttrLiteral, Attribute } from '../../../src/ir/attribute';
import { DataType, dataTypeName } from '../../../src/ir/dtype';
import { bfloat16ToFloat, halfToFloat } from '../../../src/ir/float16';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { Builder } from '../../../src/ir/builder';
import { RawTensor, Tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import { encodeModel } from '../../../src/ir/serde';

/** Test helpers: one-node models run on onnxruntime-node (CPU, graph optimisations off). */

const ORT_TYPE: Partial<Record<DataType, ort.Tensor.Type>> = {
  [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.INT8]: 'int8', [DataType.UINT8]: 'uint8',
  [DataType.INT16]: 'int16', [DataType.UINT16]: 'uint16', [DataType.INT32]: 'int32', [DataType.UINT32]: 'uint32',
  [DataType.INT64]: 'int64', [DataType.UINT64]: 'uint64', [DataType.BOOL]: 'bool', [DataType.FLOAT16]: 'float16',
};
const FROM_ORT: Record<string, DataType> = Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, Number(k)]));

export function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`no onnxruntime type for ${dataTypeName(t.dtype)}`);
  const a = t.toArray();
  return new ort.Tensor(type, (type === 'bool' ? Uint8Array.from(a as Uint8Array) : a.slice()) as never, [...t.dims]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = FROM_ORT[t.type];
  if (dtype === undefined) throw new Error(`unexpected onnxruntime type ${t.type}`);
  const data = t.data as unknown as ArrayLike<number>;
  const bytes = new Uint8Array((data as unknown as Uint8Array).buffer, (data as unknown as Uint8Array).byteOffset, (data as unknown as Uint8Array).byteLength).slice();
  return new RawTensor(dtype, [...t.dims], bytes);
}

export interface OneNodeSpec {
  op: string;
  /** Inputs fed at run time (undefined = omitted optional input). */
  inputs: readonly (Tensor | undefined)[];
  attrs?: Record<string, AttrLiteral | Attribute>;
  opset?: number;
  outputs?: number;
  /** Output element types (onnxruntime needs graph output types). */
  outputTypes: readonly DataType[];
}

/** A model holding one node whose inputs are graph inputs (so nothing is constant-folded). */
export function oneNodeModel(spec: OneNodeSpec): { model: Model; feeds: Record<string, ort.Tensor> } {
  const g = new Graph('one');
  const model = new Model(g);
  model.irVersion = 10;
  model.opsetImports.set('', spec.opset ?? 18);
  const feeds: Record<string, ort.Tensor> = {};
  const ins = spec.inputs.map((t, i) => {
    if (!t) return null;
    const v = g.addInput({ name: `in${i}`, type: tensorType(t.dtype, t.dims) });
    feeds[v.name] = toOrt(t);
    return v;
  });
  const node = new Builder(g).node(spec.op, ins, spec.attrs ?? {}, { outputs: spec.outputs ?? spec.outputTypes.length, name: 'the_node' });
  node.outputs.forEach((o, i) => {
    o.name = `out${i}`;
    o.type = tensorType(spec.outputTypes[i]);
  });
  g.setOutputs(node.outputs);
  return { model, feeds };
}

export async function runOrt(model: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
    intraOpNumThreads: 1,
  });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Runs one node on onnxruntime and returns its outputs as IR tensors. */
export async function runOneNodeOrt(spec: OneNodeSpec): Promise<Tensor[]> {
  const { model, feeds } = oneNodeModel(spec);
  const out = await runOrt(model, feeds);
  return spec.outputTypes.map((_, i) => fromOrt(out[`out${i}`]));
}

/** Values as numbers (half types decoded); int64 as numbers too (tests use small ints or compare bigints). */
export function numbers(t: Tensor): number[] {
  if (t.dtype === DataType.FLOAT16) return Array.from(t.toArray() as Uint16Array, halfToFloat);
  if (t.dtype === DataType.BFLOAT16) return Array.from(t.toArray() as Uint16Array, bfloat16ToFloat);
  return Array.from(t.toArray() as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * Asserts two tensors agree: same dtype and dims; integers/bools exactly (bigint-exact for int64); floats
 * within `tol` relative+absolute (NaN matches NaN).
 */
export function expectTensorsClose(actual: Tensor, expected: Tensor, tol = 1e-6, what = ''): void {
  const where = what ? ` (${what})` : '';
  if (actual.dtype !== expected.dtype) throw new Error(`dtype ${dataTypeName(actual.dtype)} vs ${dataTypeName(expected.dtype)}${where}`);
  if (actual.dims.join(',') !== expected.dims.join(',')) throw new Error(`dims [${actual.dims}] vs [${expected.dims}]${where}`);
  if (actual.dtype === DataType.INT64 || actual.dtype === DataType.UINT64) {
    const a = actual.toBigInts();
    const e = expected.toBigInts();
    a.forEach((v, i) => {
      if (v !== e[i]) throw new Error(`element ${i}: ${v} vs ${e[i]}${where}`);
    });
    return;
  }
  const a = numbers(actual);
  const e = numbers(expected);
  a.forEach((v, i) => {
    const w = e[i];
    if (Number.isNaN(v) && Number.isNaN(w)) return;
    if (v === w) return;
    if (!(Math.abs(v - w) <= tol * (1 + Math.abs(w)))) throw new Error(`element ${i}: ${v} vs ${w}${where}`);
  });
}
