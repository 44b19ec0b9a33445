/**
 * onnxruntime CPU references for test/gpu/correctness.ts. Runs where onnxruntime-node is installed (not on the
 * GPU machine): for each fixture, lowered with static_cache_v2 at max_seq_len 128, the prefill logits of a
 * 7-token prompt, the logits of one decode step, and 48 greedy tokens; v1 and v3 are checked to agree on the CPU.
 * Usage: node refs.js OUT_DIR   (bundled with esbuild; see bench/gpu/README.md)
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../src/ir/serde';
import type { Model } from '../../src/ir/model';
import '../../src/passes';
import '../../src/passes/llm';
import { lowerLlm } from '../../src/passes/llm/pipeline';
import { cacheLayout } from '../../src/runtime/cache-layout';
import type { HostTensor } from '../../src/runtime/host-tensor';
import { OrtBackend } from '../../src/runtime/ort-backend';
import { argmaxRow, cacheStepper, FixtureRef, GPU_FIXTURES, GREEDY_STEPS, isFp16, MAX_SEQ, promptFor, relError, toFloat32 } from './fixtures';

export async function cpuRun(model: Model, prompt: number[], steps: number): Promise<{ prefill: HostTensor; decode: HostTensor; tokens: number[] }> {
  const layout = cacheLayout(model)!;
  const backend = await OrtBackend.create(model);
  const step = cacheStepper(backend, layout);
  const prefill = await step(prompt, 0);
  const vocab = prefill.dims[2];
  const tokens = [argmaxRow(toFloat32(prefill), prompt.length - 1, vocab)];
  let decode: HostTensor | undefined;
  for (let i = 1; i < steps; i++) {
    const l = await step([tokens[i - 1]], prompt.length + i - 1);
    if (!decode) decode = l;
    tokens.push(argmaxRow(toFloat32(l), 0, vocab));
  }
  await backend.dispose();
  return { prefill, decode: decode!, tokens };
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? '.gpu';
  const root = process.argv[3] ?? '.';
  const refs: FixtureRef[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const push = (x: Float32Array) => {
    chunks.push(x);
    const o = offset;
    offset += x.length;
    return o;
  };
  for (const file of GPU_FIXTURES) {
    const source = loadModel(path.join(root, file));
    const lowered = (cache: 'static_v1' | 'static_v2' | 'static_v3') => lowerLlm(source, { cache, maxSeqLen: MAX_SEQ }).model;
    let v2: Model;
    try {
      v2 = lowered('static_v2');
    } catch (e) {
      // A lowering failure is the passes' business, not the runtime's: record it and go on.
      const reason = (e as Error).message.split('\n')[0];
      console.log(`${file}: SKIP, lowering failed: ${reason}`);
      refs.push({ file, skip: reason } as unknown as FixtureRef);
      continue;
    }
    const vocab = v2.graph.outputs[0].shape?.[2] as number;
    const prompt = promptFor(vocab);
    const r2 = await cpuRun(v2, prompt, GREEDY_STEPS);
    let rel = 0;
    let tokensEqual = true;
    for (const c of ['static_v1', 'static_v3'] as const) {
      const r = await cpuRun(lowered(c), prompt, GREEDY_STEPS);
      rel = Math.max(rel, relError(toFloat32(r.prefill), toFloat32(r2.prefill)), relError(toFloat32(r.decode), toFloat32(r2.decode)));
      tokensEqual &&= r.tokens.join() === r2.tokens.join();
    }
    const p = toFloat32(r2.prefill);
    const d = toFloat32(r2.decode);
    refs.push({
      file, vocab, fp16: isFp16(v2.graph.outputs[0].dtype) || isFp16(v2.graph.inputs.find((v) => v.name === 'key_cache_0')?.dtype), prompt,
      prefill: { offset: push(p), length: p.length, dims: [...r2.prefill.dims] },
      decode: { offset: push(d), length: d.length, dims: [...r2.decode.dims] },
      greedy: r2.tokens, cpuCacheAgreement: { rel, tokensEqual },
    });
    console.log(`${file}: greedy ${r2.tokens.slice(0, 8).join(',')}... v1/v3 vs v2 on CPU: rel ${rel.toExponential(2)}, tokens equal ${tokensEqual}`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  fs.writeFileSync(path.join(outDir, 'refs.bin'), Buffer.from(all.buffer));
  fs.writeFileSync(path.join(outDir, 'refs.json'), JSON.stringify(refs));
}

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
