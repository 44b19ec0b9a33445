import * as ort from 'onnxruntime-node';
import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';
import { encodeModel } from '../ir/serde';

export { ort };

export interface SessionOptions {
  /**
   * Let onnxruntime apply its own graph optimisations (default false: numerical checks must see our graph,
   * not ORT's fusions of it).
   */
  optimize?: boolean;
  /** Intra-op threads (default: onnxruntime's choice). */
  threads?: number;
}

export class RuntimeError extends OnnxLowerError {}

/** Creates an onnxruntime-node CPU session for an in-memory model. */
export async function createSession(model: Model | Uint8Array, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimize ? 'all' : 'disabled',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new RuntimeError('ORT_SESSION', `onnxruntime cannot load the model: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function int64Tensor(values: ArrayLike<number | bigint>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
}

export function int64Scalar(v: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);
}
