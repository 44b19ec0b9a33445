// Tiny IR-built graphs for the TensorRT converter tests, and running them on onnxruntime CPU.
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { floatToHalf, halfToFloat } from '../../../src/ir/float16';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { Shape, tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { cloneModel } from '../../../src/ir/clone';
import { createSession, ort } from '../../../src/runtime/ort-session';

export interface Tiny {
  model: Model;
  graph: Graph;
  b: Builder;
  input(name: string, dtype: DataType, shape: Shape): Value;
  output(v: Value, name: string, dtype?: DataType, shape?: Shape): Value;
}

/** An empty model importing ai.onnx at `opset`, with helpers to add inputs and outputs. */
export function tiny(opset = 23): Tiny {
  const graph = new Graph('tiny');
  const model = new Model(graph);
  model.irVersion = 10;
  model.opsetImports.set('', opset);
  const b = new Builder(graph);
  return {
    model, graph, b,
    input: (name, dtype, shape) => graph.addInput({ name, type: tensorType(dtype, shape) }),
    output: (v, name, dtype, shape) => {
      v.name = name;
      if (dtype !== undefined) v.type = tensorType(dtype, shape);
      graph.addOutput(v);
      return v;
    },
  };
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

export const f32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);
export const f16 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float16', Uint16Array.from(Array.from(data), floatToHalf), dims);
export const i64 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('int64', BigInt64Array.from(Array.from(data), (x) => BigInt(x)), dims);
export const i32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('int32', Int32Array.from(data), dims);
export const bool = (data: ArrayLike<boolean | number>, dims: readonly number[]) => new ort.Tensor('bool', Uint8Array.from(Array.from(data), (x) => (x ? 1 : 0)), dims);

/** Runs a model on onnxruntime CPU (graph optimisations off) and returns the named outputs as float arrays. */
export async function run(model: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, number[]>> {
  const session = await createSession(model);
  try {
    const out = await session.run(feeds);
    const result: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(out)) {
      result[k] = t.type === 'float16' ? Array.from(t.data as Uint16Array, halfToFloat) : Array.from(t.data as ArrayLike<number | bigint>, Number);
    }
    return result;
  } finally {
    await session.release();
  }
}

/** Runs `before` and a rewritten copy (`rewrite` mutates the clone) on the same feeds; returns both outputs. */
export async function runBoth(before: Model, rewrite: (m: Model) => void, feeds: Record<string, ort.Tensor>): Promise<{ before: Record<string, number[]>; after: Record<string, number[]>; model: Model }> {
  const after = cloneModel(before);
  rewrite(after);
  return { before: await run(before, feeds), after: await run(after, feeds), model: after };
}

export function maxDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
    if (!Number.isNaN(a[i])) m = Math.max(m, Math.abs(a[i] - b[i]));
  }
  return m;
}
