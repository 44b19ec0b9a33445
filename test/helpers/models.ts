import * as fs from 'fs';
import * as path from 'path';
import { Model } from '../../src/ir/model';
import { loadModel } from '../../src/ir/serde';
import { createSession, int64Tensor, ort } from '../../src/runtime/ort-session';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');
export const EXPORTS = path.join(FIXTURES, 'exports');
export const MODEL_NAMES = ['gpt2', 'llama', 'qwen2'] as const;
export const OPSETS = [18, 23] as const;

export interface Reference {
  /** [1, 8] */
  input_ids: number[][];
  position_ids: number[][];
  logits: number[];
  greedy_16: number[];
  config: Record<string, unknown> & { num_hidden_layers?: number; n_layer?: number; vocab_size: number };
}

export function exportPath(name: string, opset: number): string {
  return path.join(EXPORTS, `${name}.dynamo${opset}.onnx`);
}
export function loadExport(name: string, opset: number): Model {
  return loadModel(exportPath(name, opset));
}
/** The reference prompt as a flat list of ids. */
export function referencePrompt(ref: Reference): number[] {
  return ref.input_ids.flat();
}
export function loadReference(name: string): Reference {
  return JSON.parse(fs.readFileSync(path.join(EXPORTS, `${name}.ref.json`), 'utf8')) as Reference;
}

/** Runs a (non-cached) causal LM on onnxruntime CPU with graph optimisations off; returns flat logits. */
export async function runLogits(model: Model | Uint8Array, inputIds: number[], batch = 1): Promise<Float32Array> {
  const session = await createSession(model);
  const seq = inputIds.length / batch;
  const positions = Array.from({ length: batch * seq }, (_, i) => i % seq);
  const out = await session.run({ input_ids: int64Tensor(inputIds, [batch, seq]), position_ids: int64Tensor(positions, [batch, seq]) });
  return out.logits.data as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export { ort };
