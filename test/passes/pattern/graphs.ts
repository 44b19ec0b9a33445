// Test support for the pattern engine: small IR-built graphs and an onnxruntime runner.
import { Builder, DataType, Graph, Model, RawTensor, tensor, tensorType, Value } from '../../../src/ir';
import { createSession, ort } from '../../../src/runtime/ort-session';

export function newModel(opset = 18): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', opset);
  return m;
}

export function input(g: Graph, name: string, shape: readonly (number | string)[]): Value {
  return g.addInput({ name, type: tensorType(DataType.FLOAT, shape) });
}

/** An untagged builder appending at the end of `g` (how the tests draw "exporter" graphs). */
export function draw(g: Graph): Builder {
  return new Builder(g);
}

export function scalarInit(g: Graph, name: string, x: number): Value {
  return g.addInitializer(name, tensor.float32([], [x]));
}

export function floatInit(g: Graph, name: string, dims: number[], values: ArrayLike<number>): Value {
  return g.addInitializer(name, RawTensor.fromArray(DataType.FLOAT, dims, Float32Array.from(values)));
}

/** Marks `v` as a graph output named `name`, typed float. */
export function output(g: Graph, v: Value, name: string): Value {
  v.name = name;
  v.type ??= tensorType(DataType.FLOAT);
  g.addOutput(v);
  return v;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Runs a model on onnxruntime CPU (graph optimisations disabled) and returns every output by name. */
export async function runOrt(model: Model, feeds: Record<string, { data: Float32Array; dims: readonly number[] }>): Promise<Record<string, Float32Array>> {
  const session = await createSession(model);
  const inputs: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) inputs[k] = new ort.Tensor('float32', f.data, f.dims);
  const out = await session.run(inputs);
  const result: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) result[k] = t.data as Float32Array;
  return result;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export interface SdpaForm {
  /** Put the scale first in the Mul nodes (exporters differ). */
  scaleFirstQ?: boolean;
  scaleFirstK?: boolean;
  /** Transpose perm of K (the canonical one is [0, 1, 3, 2]). */
  perm?: number[];
  /** Use a second, different scale constant on K. */
  otherKScale?: boolean;
  /** Emit the scale as a Constant node instead of an initializer. */
  constantNode?: boolean;
}

/**
 * The decomposed SDPA an exporter writes: MatMul(Softmax(MatMul(Mul(q, s), Mul(Transpose(k), s))), v),
 * with s = D^-1/4. Output 'out'; q, k, v are [B, H, S, D] inputs.
 */
export function sdpaModel(dims: { B: number; H: number; S: number; D: number }, form: SdpaForm = {}, opset = 23): Model {
  const m = newModel(opset);
  const g = m.graph;
  const shape = [dims.B, dims.H, dims.S, dims.D];
  const q = input(g, 'q', shape);
  const k = input(g, 'k', shape);
  const vv = input(g, 'v', shape);
  const b = draw(g);
  const sv = dims.D ** -0.25;
  const s = form.constantNode ? b.op('Constant', [], { value: tensor.float32([], [sv]) }) : scalarInit(g, 'scale', sv);
  const s2 = form.otherKScale ? scalarInit(g, 'scale_k', sv * 2) : s;
  const qs = b.op('Mul', form.scaleFirstQ ? [s, q] : [q, s]);
  const kt = b.op('Transpose', [k], { perm: form.perm ?? [0, 1, 3, 2] });
  const ks = b.op('Mul', form.scaleFirstK ? [s2, kt] : [kt, s2]);
  const scores = b.op('MatMul', [qs, ks]);
  const probs = b.op('Softmax', [scores], { axis: -1 });
  output(g, b.op('MatMul', [probs, vv]), 'out');
  return m;
}
