/**
 * The cuda backend's programs on the CPU emulator addon (the same instruction set as the CUDA kernels, run with
 * plain loops): plan, memory plan, program encoding, cache binding and the device greedy loop against
 * onnxruntime CPU, on a machine without a GPU. Skipped where the emulator addon was not built.
 */
import { halfToFloat } from '../../../src/ir/float16';
import { cacheLayout } from '../../../src/runtime/cache-layout';
import { createCudaBackend, DeviceTensor } from '../../../src/runtime/cuda-backend';
import type { HostTensor } from '../../../src/runtime/host-tensor';
import { int64Host } from '../../../src/runtime/host-tensor';
import { loadAddon } from '../../../src/runtime/native/addon';
import { OrtBackend } from '../../../src/runtime/ort-backend';
import type { Model } from '../../../src/ir/model';
import { lowered } from './helpers';

const emulator = loadAddon('emulator').addon !== undefined;
const MAX = 32;

function f32(t: HostTensor): Float32Array {
  return t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as Float32Array);
}
function rel(a: Float32Array, b: Float32Array): number {
  let n = 0;
  let d = 0;
  for (let i = 0; i < b.length; i++) {
    n += (a[i] - b[i]) ** 2;
    d += b[i] ** 2;
  }
  return Math.sqrt(n / d);
}
function argmaxLast(t: HostTensor): number {
  const x = f32(t);
  const V = t.dims[2];
  const off = (t.dims[1] - 1) * V;
  let best = 0;
  for (let j = 1; j < V; j++) if (x[off + j] > x[off + best]) best = j;
  return best;
}

/** Prefill + greedy steps through Backend.run; returns the prefill logits and the tokens. */
async function greedyRun(backend: { run(f: Record<string, HostTensor>): Promise<Record<string, HostTensor>> }, model: Model, prompt: number[], steps: number) {
  const layout = cacheLayout(model)!;
  let caches: Record<string, HostTensor> = {};
  for (const l of layout.layers) {
    const n = l.heads * MAX * l.headDim;
    for (const name of [l.keyName, l.valueName]) caches[name] = { type: l.dtype, dims: [1, l.heads, MAX, l.headDim], data: l.dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n) };
  }
  const tokens: number[] = [];
  let prefill: HostTensor | undefined;
  let ids = prompt;
  let start = 0;
  for (let i = 0; i < steps; i++) {
    const out = await backend.run({ input_ids: int64Host(ids, [1, ids.length]), position_ids: int64Host(ids.map((_, j) => start + j), [1, ids.length]), ...caches, start_idx: int64Host([start], []), end_idx: int64Host([start + ids.length], []) });
    prefill ??= out.logits;
    const next: Record<string, HostTensor> = {};
    for (const l of layout.layers) {
      next[l.keyName] = out[l.keyOutput];
      next[l.valueName] = out[l.valueOutput];
    }
    caches = next;
    tokens.push(argmaxLast(out.logits));
    start += ids.length;
    ids = [tokens[tokens.length - 1]];
  }
  return { prefill: prefill!, tokens, caches };
}

const CASES: [string, 'static_v1' | 'static_v2' | 'static_v3'][] = [
  ['models/llama-23/model.onnx', 'static_v3'], ['models/sotu-llama/model.onnx', 'static_v2'], ['exports/gpt2.dynamo23.onnx', 'static_v1'],
  ['models/qwen2-fp16-23/model.onnx', 'static_v3'], ['models/llama-eager18/model.onnx', 'static_v2'],
];

(emulator ? describe : describe.skip)('cuda backend programs on the CPU emulator', () => {
  for (const [file, cache] of CASES) {
    it(`${file} ${cache}: logits and greedy tokens equal onnxruntime CPU; caches stay device tensors`, async () => {
      const model = lowered(file, cache, MAX);
      const prompt = [3, 17, 42, 9, 100, 7, 1];
      const cpu = await OrtBackend.create(model);
      const emu = await createCudaBackend(model, { device: 'emulator' });
      try {
        const a = await greedyRun(cpu, model, prompt, 8);
        const b = await greedyRun(emu, model, prompt, 8);
        const fp16 = a.prefill.type === 'float16';
        expect(rel(f32(b.prefill), f32(a.prefill))).toBeLessThan(fp16 ? 2e-3 : 1e-5);
        expect(b.tokens).toEqual(a.tokens);
        expect(Object.values(b.caches).every((t) => t instanceof DeviceTensor)).toBe(true);
        // A device cache read back equals onnxruntime's.
        const name = Object.keys(a.caches)[0];
        const ca = a.caches[name].data as Float32Array | Uint16Array;
        const cb = b.caches[name].data as Float32Array | Uint16Array;
        expect(cb.length).toBe(ca.length);
        const g = emu.greedy([prompt], { maxNewTokens: 8, maxSeqLen: MAX });
        expect(g.tokens[0]).toEqual(a.tokens);
      } finally {
        await cpu.dispose();
        await emu.dispose();
      }
    });
  }
});
