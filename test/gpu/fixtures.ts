/** Fixtures the GPU correctness check runs (paths relative to the repository root) and their prompts. */
import * as fs from 'fs';
import * as path from 'path';
import { DataType } from '../../src/ir/dtype';
import { halfToFloat, bfloat16ToFloat } from '../../src/ir/float16';
import type { Backend } from '../../src/runtime/backend';
import type { CacheLayout } from '../../src/runtime/cache-layout';
import { HostTensor, int64Host } from '../../src/runtime/host-tensor';

export const GPU_FIXTURES = [
  'fixtures/exports/gpt2.dynamo18.onnx', 'fixtures/exports/gpt2.dynamo23.onnx',
  'fixtures/exports/llama.dynamo18.onnx', 'fixtures/exports/llama.dynamo23.onnx',
  'fixtures/exports/qwen2.dynamo18.onnx', 'fixtures/exports/qwen2.dynamo23.onnx',
  'fixtures/models/gpt2-18/model.onnx', 'fixtures/models/llama-23/model.onnx', 'fixtures/models/llama-eager18/model.onnx',
  'fixtures/models/qwen2-fp16-23/model.onnx', 'fixtures/models/sotu-llama/model.onnx', 'fixtures/models/sotu-llama-18/model.onnx',
];
export const CACHE_KINDS = ['static_v1', 'static_v2', 'static_v3'] as const;
export const MAX_SEQ = 128;
export const GREEDY_STEPS = 48;
export const PROMPT_LEN = 7;

export function fixtureName(file: string): string {
  const parts = file.split('/');
  return parts[1] === 'exports' ? parts[2].replace(/\.onnx$/, '') : parts[2];
}

export function promptFor(vocab: number, len = PROMPT_LEN): number[] {
  return Array.from({ length: len }, (_, i) => (i * 37 + 11) % vocab);
}

export function toFloat32(t: HostTensor): Float32Array {
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  if (t.type === 'bfloat16') return Float32Array.from(t.data as Uint16Array, bfloat16ToFloat);
  return Float32Array.from(t.data as ArrayLike<number>);
}

/** Index of the largest value of row `row` (first on ties, as torch.argmax). */
export function argmaxRow(x: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let j = 1; j < vocab; j++) if (x[row * vocab + j] > x[row * vocab + best]) best = j;
  return best;
}

export function relError(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = a[i] - ref[i];
    num += Number.isFinite(d) ? d * d : Infinity;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num / den);
}

export function isFp16(dtype: DataType | undefined): boolean {
  return dtype === DataType.FLOAT16 || dtype === DataType.BFLOAT16;
}

export interface FixtureRef {
  file: string;
  /** Set when the fixture did not lower (a passes problem): the GPU check reports it and skips it. */
  skip?: string;
  vocab: number;
  fp16: boolean;
  prompt: number[];
  /** Float offsets into refs.bin. */
  prefill: { offset: number; length: number; dims: number[] };
  decode: { offset: number; length: number; dims: number[] };
  greedy: number[];
  /** CPU agreement of v1/v3 with v2 (max relative logits difference, tokens equal). */
  cpuCacheAgreement: { rel: number; tokensEqual: boolean };
}

export function readRefs(dir: string): { refs: FixtureRef[]; data: Float32Array } {
  const refs = JSON.parse(fs.readFileSync(path.join(dir, 'refs.json'), 'utf8')) as FixtureRef[];
  const buf = fs.readFileSync(path.join(dir, 'refs.bin'));
  return { refs, data: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) };
}

/**
 * Steps a static-cache graph for batch 1 from zeroed caches of MAX_SEQ: `step(ids, start)` runs ids at positions
 * start.., feeds each step's cache outputs back and returns the logits. `checkCache` sees every cache output.
 */
export function cacheStepper(backend: Backend, layout: CacheLayout, checkCache: (t: HostTensor) => void = () => {}) {
  let caches: Record<string, HostTensor> = {};
  for (const l of layout.layers) {
    const n = l.heads * MAX_SEQ * l.headDim;
    for (const name of [l.keyName, l.valueName]) caches[name] = { type: l.dtype, dims: [1, l.heads, MAX_SEQ, l.headDim], data: l.dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n) };
  }
  return async (ids: number[], start: number): Promise<HostTensor> => {
    const out = await backend.run({
      input_ids: int64Host(ids, [1, ids.length]), position_ids: int64Host(ids.map((_, i) => start + i), [1, ids.length]),
      ...caches, start_idx: int64Host([start], []), end_idx: int64Host([start + ids.length], []),
    });
    const next: Record<string, HostTensor> = {};
    for (const l of layout.layers) {
      checkCache(out[l.keyOutput]);
      next[l.keyName] = out[l.keyOutput];
      next[l.valueName] = out[l.valueOutput];
    }
    caches = next;
    return out.logits;
  };
}
