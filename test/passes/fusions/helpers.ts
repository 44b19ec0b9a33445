// Shared support for the fusion tests: small graph building, running a pass through the PassManager (so the
// result is verified and the input untouched), and running models on onnxruntime (CPU, optimisations off).
import * as ort from 'onnxruntime-node';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { floatToHalf, halfToFloat } from '../../../src/ir/float16';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { RawTensor, tensor } from '../../../src/ir/tensor';
import { Dim, tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { encodeModel } from '../../../src/ir/serde';
import type { LoweringOptions, Pass } from '../../../src/passes/pass';
import { PassManager, PipelineReport } from '../../../src/passes/pass-manager';

/** A graph under construction: inputs, constants and nodes through one Builder. */
export class GraphKit {
  readonly graph: Graph;
  readonly model: Model;
  readonly b: Builder;
  private constants = 0;
  constructor(opset = 18) {
    this.graph = new Graph('g');
    this.model = new Model(this.graph);
    this.model.opsetImports.set('', opset);
    this.b = new Builder(this.graph);
  }
  input(name: string, dtype: DataType, shape: readonly Dim[]): Value {
    return this.graph.addInput({ name, type: tensorType(dtype, shape) });
  }
  /** A float scalar constant (float32, or float16 when asked). */
  scalar(value: number, dtype: DataType = DataType.FLOAT): Value {
    return this.graph.addInitializer(`c${this.constants++}`, floatTensor(dtype, [], [value]));
  }
  floats(dims: readonly number[], values: readonly number[], dtype: DataType = DataType.FLOAT): Value {
    return this.graph.addInitializer(`c${this.constants++}`, floatTensor(dtype, dims, values));
  }
  ints(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.graph.addInitializer(`c${this.constants++}`, tensor.int64(dims, values));
  }
  /** Adds a node; `type` annotates its output as exporters do (value_info). */
  op(op: string, inputs: readonly (Value | null)[], attrs: Record<string, number | string | readonly number[]> = {}, type?: { dtype: DataType; shape?: readonly Dim[] }): Value {
    const out = this.b.op(op, inputs, attrs);
    if (type) out.type = tensorType(type.dtype, type.shape);
    return out;
  }
  /** Marks `v` as a graph output named `name` with element type `dtype`. */
  output(v: Value, name: string, dtype: DataType): void {
    v.name = name;
    v.type = tensorType(dtype, v.shape);
    this.graph.addOutput(v);
  }
}

export function floatTensor(dtype: DataType, dims: readonly number[], values: readonly number[]): RawTensor {
  if (dtype === DataType.FLOAT16) return RawTensor.fromArray(dtype, dims, Uint16Array.from(values, floatToHalf));
  return tensor.float32(dims, values);
}

/** Runs one pass through a PassManager (verify on); returns the report. */
export function runPass(model: Model, name: string, pass: Pass, options: LoweringOptions = {}): PipelineReport {
  return new PassManager([{ name, pass }], { verify: true }).run(model, options);
}

export function opCount(model: Model, op: string): number {
  let n = 0;
  for (const node of model.graph.allNodes()) if (node.op === op) n++;
  return n;
}

/** Deterministic pseudo-random numbers in [-1, 1) (a small LCG; tests must be reproducible). */
export function seededFloats(count: number, seed: number): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export function floatFeed(dtype: DataType, dims: readonly number[], seed: number): ort.Tensor {
  const values = seededFloats(dims.reduce((a, d) => a * d, 1), seed);
  if (dtype === DataType.FLOAT16) return new ort.Tensor('float16', Uint16Array.from(values, floatToHalf), [...dims]);
  return new ort.Tensor('float32', Float32Array.from(values), [...dims]);
}

export function int64Feed(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [...dims]);
}

/** Runs a model on onnxruntime CPU (graph optimisations off, one thread) and returns its outputs. */
export async function runOrt(model: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', logSeverityLevel: 3, intraOpNumThreads: 1,
  });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Float values of an output (half decoded). */
export function valuesOf(t: ort.Tensor): number[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, halfToFloat);
  return Array.from(t.data as Float32Array);
}

/** Largest |a - b| / (1 + |b|) over all elements; throws on a shape or length mismatch. */
export function maxRelDiff(a: ort.Tensor, b: ort.Tensor): number {
  if (a.dims.join(',') !== b.dims.join(',')) throw new Error(`dims [${a.dims}] vs [${b.dims}]`);
  const x = valuesOf(a);
  const y = valuesOf(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return m;
}
