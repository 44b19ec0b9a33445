/**
 * GPU correctness of the cuda backend (run on the GPU machine; see bench/gpu/README.md): every fixture x
 * static_cache_v1/v2/v3 against onnxruntime CPU references made by make-refs.ts:
 *   prefill logits (7-token prompt) and one decode step's logits: relative error <= 1e-3 (fp32), 2e-2 (fp16);
 *   48 greedy tokens through Backend.run (caches stay on the device, decode steps replayed as CUDA graphs) and
 *   through CudaBackend.greedy (argmax and the next step's inputs on the device) equal to the CPU's.
 * Then device sampling against the CPU sampler's probabilities (test/gpu/sampling.ts; skipped with --only or --no-sampling).
 * Usage: node gpu.js correctness REFS_DIR [--only NAME] [--cache KIND] [--no-gemv] [--no-sampling] [--json OUT]
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../src/ir/serde';
import '../../src/passes';
import '../../src/passes/llm';
import { lowerLlm } from '../../src/passes/llm/pipeline';
import { cacheLayout } from '../../src/runtime/cache-layout';
import { createCudaBackend, CudaBackend, CudaBackendOptions, DeviceTensor } from '../../src/runtime/cuda-backend';
import type { HostTensor } from '../../src/runtime/host-tensor';
import { samplingCheck } from './sampling';
import { argmaxRow, cacheStepper, CACHE_KINDS, fixtureName, GREEDY_STEPS, MAX_SEQ, readRefs, relError, toFloat32 } from './fixtures';

export interface CorrectnessRow {
  fixture: string;
  cache: string;
  options: string;
  prefillRel: number;
  decodeRel: number;
  tol: number;
  runTokensEqual: boolean;
  greedyTokensEqual: boolean;
  firstMismatch?: number;
  kernels?: number;
  pass: boolean;
  error?: string;
}

async function checkOne(backend: CudaBackend, model: ReturnType<typeof lowerLlm>['model'], prompt: number[], refPrefill: Float32Array, refDecode: Float32Array, refTokens: number[]):
  Promise<{ prefillRel: number; decodeRel: number; runTokens: number[]; greedyTokens: number[] }> {
  const layout = cacheLayout(model)!;
  const step = cacheStepper(backend, layout, (t) => {
    if (!(t instanceof DeviceTensor)) throw new Error('cache output did not stay on the device');
  });
  const prefill = toFloat32(await step(prompt, 0));
  const vocab = refPrefill.length / prompt.length;
  const runTokens = [argmaxRow(prefill, prompt.length - 1, vocab)];
  let decodeRel = NaN;
  for (let i = 1; i < GREEDY_STEPS; i++) {
    // Feed the reference's token so that the decode logits compare like with like even after a mismatch.
    const l = toFloat32(await step([refTokens[i - 1]], prompt.length + i - 1));
    if (i === 1) decodeRel = relError(l, refDecode);
    runTokens.push(argmaxRow(l, 0, vocab));
  }
  const g = backend.greedy([prompt], { maxNewTokens: GREEDY_STEPS, maxSeqLen: MAX_SEQ });
  return { prefillRel: relError(prefill, refPrefill), decodeRel, runTokens, greedyTokens: g.tokens[0] };
}

export async function correctness(argv: string[]): Promise<number> {
  const refsDir = argv[0];
  const flag = (n: string) => {
    const i = argv.indexOf(n);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = flag('--only');
  const onlyCache = flag('--cache');
  const jsonOut = flag('--json');
  const root = flag('--root') ?? '.';
  const { refs, data } = readRefs(refsDir);
  const device = flag('--device') === 'emulator' ? 'emulator' : 'cuda';
  const variants: { label: string; options: CudaBackendOptions }[] = argv.includes('--no-gemv')
    ? [{ label: 'cublas', options: { gemv: false, device } }]
    : [{ label: 'default', options: { device } }];
  const rows: CorrectnessRow[] = [];
  for (const ref of refs) {
    const name = fixtureName(ref.file);
    if (only && name !== only) continue;
    if (ref.skip) {
      console.log(`SKIP ${name}: did not lower on the CPU side (${ref.skip})`);
      rows.push({ fixture: name, cache: '-', options: '-', prefillRel: NaN, decodeRel: NaN, tol: 0, runTokensEqual: false, greedyTokensEqual: false, pass: true, error: `skipped: lowering failed: ${ref.skip}` });
      continue;
    }
    const source = loadModel(path.join(root, ref.file));
    const refPrefill = data.subarray(ref.prefill.offset, ref.prefill.offset + ref.prefill.length);
    const refDecode = data.subarray(ref.decode.offset, ref.decode.offset + ref.decode.length);
    const tol = ref.fp16 ? 2e-2 : 1e-3;
    for (const cache of CACHE_KINDS) {
      if (onlyCache && cache !== onlyCache) continue;
      const extra = name === 'sotu-llama' && cache === 'static_v3' && !argv.includes('--no-gemv') ? [{ label: 'cublas', options: { gemv: false, device } }, { label: 'no-graphs', options: { cudaGraphs: false, device } }] : [];
      for (const v of [...variants, ...extra]) {
        const row: CorrectnessRow = { fixture: name, cache, options: v.label, prefillRel: NaN, decodeRel: NaN, tol, runTokensEqual: false, greedyTokensEqual: false, pass: false };
        let backend: CudaBackend | undefined;
        try {
          const model = lowerLlm(source, { cache, maxSeqLen: 128 }).model;
          backend = await createCudaBackend(model, v.options);
          const r = await checkOne(backend, model, ref.prompt, refPrefill, refDecode, ref.greedy);
          row.prefillRel = r.prefillRel;
          row.decodeRel = r.decodeRel;
          row.runTokensEqual = r.runTokens.join() === ref.greedy.join();
          row.greedyTokensEqual = r.greedyTokens.join() === ref.greedy.join();
          const mismatch = r.greedyTokens.findIndex((t, i) => t !== ref.greedy[i]);
          if (mismatch >= 0) row.firstMismatch = mismatch;
          row.kernels = Math.max(...backend.planStats().map((s) => s.kernels));
          row.pass = r.prefillRel <= tol && r.decodeRel <= tol && row.runTokensEqual && row.greedyTokensEqual;
        } catch (e) {
          row.error = (e as Error).message.split('\n')[0];
        } finally {
          await backend?.dispose();
        }
        rows.push(row);
        console.log(`${row.pass ? 'PASS' : 'FAIL'} ${name} ${cache} ${v.label}: prefill ${row.prefillRel.toExponential(2)} decode ${row.decodeRel.toExponential(2)} (tol ${tol}) run-tokens ${row.runTokensEqual} greedy ${row.greedyTokensEqual}${row.firstMismatch !== undefined ? ` (first mismatch at ${row.firstMismatch})` : ''}${row.error ? ` ERROR ${row.error}` : ''}`);
      }
    }
  }
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(rows, null, 1));
  const failed = rows.filter((r) => !r.pass).length;
  console.log(`correctness: ${rows.length - failed}/${rows.length} passed`);
  // Device sampling vs the CPU sampler's probabilities (test/gpu/sampling.ts); not with --only (the sanitizer run).
  const samplingFailed = only || argv.includes('--no-sampling') ? 0 : await samplingCheck(refs, data, device, root);
  return failed || samplingFailed ? 1 : 0;
}
