/**
 * onnx-lower on the cuda backend: batch-1 greedy decode of a lowered model (static_cache_v2 / v3), all on the
 * device (CudaBackend.greedy: one CUDA graph per token). Prints one JSON line per (engine, prompt).
 * Usage: node gpu.js bench MODEL.onnx NAME --prompts 32,2048 --new 128 --caches static_v2,static_v3 [--no-gemv] [--no-pdl] [--pdl-flags N] [--profile]
 */
import { loadModel } from '../../src/ir/serde';
import type { Model } from '../../src/ir/model';
import '../../src/passes';
import '../../src/passes/llm';
import { lowerLlm } from '../../src/passes/llm/pipeline';
import { createCudaBackend, CudaBackend } from '../../src/runtime/cuda-backend';
import type { HostTensor } from '../../src/runtime/host-tensor';
import { int64Host } from '../../src/runtime/host-tensor';
import { relError, toFloat32 } from '../../test/gpu/fixtures';

/** Logits of a prefill of `prompt` and of one decode step after it, through Backend.run. */
async function prefillDecode(backend: CudaBackend, model: Model, prompt: number[], maxSeq: number): Promise<[Float32Array, Float32Array]> {
  const feeds: Record<string, HostTensor> = {};
  for (const v of model.graph.inputs) {
    if (!/^(key|value)_cache_/.test(v.name)) continue;
    const dims = [1, v.shape?.[1] as number, maxSeq, v.shape?.[3] as number];
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[v.name] = v.dtype === 1 ? { type: 'float32', dims, data: new Float32Array(n) } : { type: 'float16', dims, data: new Uint16Array(n) };
  }
  const S = prompt.length;
  const pre = await backend.run({ ...feeds, input_ids: int64Host(prompt, [1, S]), position_ids: int64Host(prompt.map((_, i) => i), [1, S]), start_idx: int64Host([0], []), end_idx: int64Host([S], []) });
  const next: Record<string, HostTensor> = {};
  for (const k of Object.keys(feeds)) next[k] = pre[`present_${k}`];
  const dec = await backend.run({ ...next, input_ids: int64Host([prompt[0]], [1, 1]), position_ids: int64Host([S], [1, 1]), start_idx: int64Host([S], []), end_idx: int64Host([S + 1], []) });
  return [toFloat32(pre.logits), toFloat32(dec.logits)];
}

/** Bytes of weights a decode step reads: every initializer except tables only read by Gather (one row). */
export function weightBytesPerToken(model: Model): number {
  let total = 0;
  for (const v of model.graph.initializers.values()) {
    const t = v.constValue;
    if (!t) continue;
    const users = v.consumers();
    if (users.length > 0 && users.every((n) => n.op === 'Gather')) continue;
    total += t.byteLength;
  }
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function bench(argv: string[]): Promise<number> {
  const [file, name] = argv;
  const flag = (n: string, d: string) => {
    const i = argv.indexOf(n);
    return i >= 0 ? argv[i + 1] : d;
  };
  const prompts = flag('--prompts', '32').split(',').map(Number);
  const newTokens = Number(flag('--new', '128'));
  const caches = flag('--caches', 'static_v2,static_v3').split(',') as ('static_v2' | 'static_v3')[];
  const reps = Number(flag('--reps', '3'));
  const gemv = !argv.includes('--no-gemv');
  const pdl = !argv.includes('--no-pdl');
  const nativeOptions: Record<string, number> = {};
  if (argv.includes('--pdl-flags')) nativeOptions.pdlFlags = Number(flag('--pdl-flags', '3'));
  const device = flag('--device', 'cuda') === 'emulator' ? 'emulator' : 'cuda';
  const maxSeq = Math.ceil((Math.max(...prompts) + newTokens) / 64) * 64;
  let t = performance.now();
  const source = loadModel(file);
  console.log(`[bench] ${name}: loaded in ${((performance.now() - t) / 1e3).toFixed(1)} s`);
  let copyBw = 0;
  for (const cache of caches) {
    t = performance.now();
    const model = lowerLlm(source, { cache, maxSeqLen: maxSeq }).model;
    const lowerS = (performance.now() - t) / 1e3;
    const bytes = weightBytesPerToken(model);
    const vocab = Math.min(1000, Number(model.graph.outputs[0].shape?.[2] ?? 1000));
    t = performance.now();
    const backend = await createCudaBackend(model, { gemv, device, pdl, nativeOptions });
    if (!copyBw && device === 'cuda') copyBw = backend.copyBandwidth(1 << 30, 20);
    try {
      for (const plen of prompts) {
        const prompt = [Array.from({ length: plen }, (_, i) => (i * 7919 + 13) % vocab)];
        const warm = backend.greedy(prompt, { maxNewTokens: newTokens, maxSeqLen: maxSeq });
        const setupS = (performance.now() - t) / 1e3;
        const runs = Array.from({ length: reps }, () => backend.greedy(prompt, { maxNewTokens: newTokens, maxSeqLen: maxSeq }));
        const tps = median(runs.map((r) => (r.decodeSteps / r.decodeMs) * 1e3));
        const ttft = median(runs.map((r) => r.prefillMs));
        const stats = backend.planStats();
        const row = {
          model: name, engine: `onnx-lower-${cache}${gemv ? '' : '-cublas'}${pdl ? '' : '-nopdl'}${nativeOptions.pdlFlags !== undefined ? `-pdlflags${nativeOptions.pdlFlags}` : ''}`, prompt: plen, new: newTokens, tok_s: tps, ttft_ms: ttft,
          weight_bytes: bytes, achieved_bw: bytes * tps, copy_bw: copyBw, fraction_of_copy: (bytes * tps) / copyBw,
          device: backend.probe.name, lower_s: lowerS, setup_s: setupS,
          kernels_decode: stats.find((s) => s.key.includes('input_ids:1x1'))?.kernels, arena_mb: Math.max(...stats.map((s) => s.arenaBytes)) / 2 ** 20,
          decode_kernels_by_op: stats.find((s) => s.key.includes('input_ids:1x1'))?.byOp,
          same_tokens_as_warmup: runs.every((r) => r.tokens[0].join() === warm.tokens[0].join()),
        };
        console.log('BENCH ' + JSON.stringify(row));
        t = performance.now();
      }
      if (argv.includes('--profile') && cache === caches[0]) {
        // Per-kernel GPU time of the decode steps, without CUDA graphs (each instruction bracketed by events).
        const prof = await createCudaBackend(model, { gemv, device, pdl: false, cudaGraphs: false });
        try {
          const prompt = [Array.from({ length: prompts[0] }, (_, i) => (i * 7919 + 13) % vocab)];
          prof.greedy(prompt, { maxNewTokens: 8, maxSeqLen: maxSeq });
          prof.profile(true);
          const r = prof.greedy(prompt, { maxNewTokens: newTokens, maxSeqLen: maxSeq });
          const rep = prof.profileReport();
          prof.profile(false);
          const total = Object.values(rep).reduce((a, e) => a + e.ms, 0);
          const rows = Object.entries(rep).sort((a, b) => b[1].ms - a[1].ms)
            .map(([k, e]) => ({ kernel: k, ms_per_step: e.ms / r.decodeSteps, calls: e.n, us_per_call: (e.ms / e.n) * 1e3, share: e.ms / total }));
          console.log('PROFILE ' + JSON.stringify({ model: name, cache, prompt: prompts[0], steps: r.decodeSteps, gpu_ms_per_step: total / r.decodeSteps, rows }));
        } finally {
          await prof.dispose();
        }
      }
      if (argv.includes('--check') && cache === caches[0]) {
        // The GEMV kernels and the decode attention kernel against cuBLAS and the tiled attention kernel on the
        // real weights: prefill (cuBLAS in both) and one decode step. The native option is process-wide: run the
        // fast path first, then the reference, then restore it.
        const prompt = Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % vocab);
        const [p1, d1] = await prefillDecode(backend, model, prompt, maxSeq);
        const ref = await createCudaBackend(model, { gemv: false, cudaGraphs: false, device, nativeOptions: { attnDecode: 0 } });
        try {
          const [p2, d2] = await prefillDecode(ref, model, prompt, maxSeq);
          console.log('CHECK ' + JSON.stringify({ model: name, cache, what: 'gemv+decode attention+graphs vs cublas+tiled attention, no graphs', prefill_rel: relError(p1, p2), decode_rel: relError(d1, d2) }));
        } finally {
          await ref.dispose();
          backend.setNativeOption('attnDecode', 1);
        }
      }
    } finally {
      await backend.dispose();
    }
  }
  return 0;
}
