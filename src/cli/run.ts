import * as path from 'path';
import { UsageError } from '../ir/errors';
import type { Model } from '../ir/model';
import { loadModel } from '../ir/serde';
import { CACHE_KINDS, CacheKind, lowerLlm, PRECISIONS, Precision } from '../passes/llm/pipeline';
import type { Backend } from '../runtime/backend';
import { assertBackendAvailable, BACKENDS, BackendKind, BackendUnavailableError, createBackend, CUDA_DEVICES, CudaDevice } from '../runtime/backends';
import { cacheLayout, ModelInterfaceError, positionLimit } from '../runtime/cache-layout';
import { generateOnDevice, isDeviceGenerator } from '../runtime/cuda-sampling';
import { generate, GenerationError, GenerationResult, generateWithStaticCache } from '../runtime/generate';
import { eosTokenIds, maxPositions, resolveModel } from '../runtime/model-source';
import { createRng, SamplingOptions } from '../runtime/sampling';
import { mean, median, percentile } from '../runtime/stats';
import { TextTokenizer } from '../runtime/tokenizer';
import { choiceFlag, intFlag, parseFlags } from './args';
import { runTable } from './run-report';

/** The model `onnx-lower run` uses when --model is not given: a small Llama the project trained (fixtures/models/sotu-llama). */
export const DEFAULT_MODEL = path.join(__dirname, '..', '..', 'fixtures', 'models', 'sotu-llama');
export const DEFAULT_PROMPT = 'The state of the Union is';

export const runHelp = `onnx-lower run [--model DIR|FILE.onnx] [--prompt TEXT] [options]
  Lowers a causal-LM export (SDPA canonicalisation, static KV cache, precision) and generates text, like
  Torch-TensorRT's run_llm.py. With no flags: the bundled model, a default prompt, and a benchmark.
Options:
  --model PATH              model folder (model.onnx, config.json, tokenizer.json) or a .onnx file (default: bundled sotu-llama)
  --tokenizer DIR           folder with tokenizer.json (default: the model folder)
  --prompt TEXT             prompt text (default: "${DEFAULT_PROMPT}")
  --input_ids 1,2,3         prompt as token ids instead of text
  --num_tokens N            tokens to generate (default 128)
  --cache KIND              static_v1 | static_v2 | static_v3 | '' (empty = no cache; default static_v2)
  --precision P             FP32 | FP16 | BF16 (default FP32)
  --max_seq_len N           static cache length (default: prompt + num_tokens)
  --batch_size N            run N copies of the prompt (default 1)
  --backend B               cpu (onnxruntime) | cuda (native runtime) (default cpu). With a static cache, cuda generates
                            on the device: prefill, then one CUDA graph per token with argmax / sampling on the device
                            (seeded draws differ from cpu's: another RNG, the same distribution); the host synchronises
                            every 16 tokens to stop at EOS (tokens are cut after the first EOS), so decode step
                            timings are means over those 16-token chunks (over the whole run with --ignore_eos)
  --device D                where --backend cuda runs: cuda (default) | emulator (the runtime's CPU emulator, for tests)
  --benchmark               time --iterations full generations and print a table
  --iterations N            benchmark iterations (default 5)
  --isl N                   benchmark with N random prompt ids (seeded) instead of the prompt
  --enable_baseline_run     also run the un-lowered export without cache and compare (alias: --enable_pytorch_run)
  --temperature T --top_k K --top_p P --seed S   sampling (default greedy)
  --ignore_eos              always generate --num_tokens tokens
  --json                    print everything as JSON on stdout`;

interface RunOptions {
  source: ReturnType<typeof resolveModel>;
  tokenizerDir: string;
  prompt: string | undefined;
  inputIds: number[] | undefined;
  numTokens: number;
  cache: CacheKind;
  precision: Precision;
  maxSeqLen: number | undefined;
  batch: number;
  backend: BackendKind;
  device: CudaDevice;
  benchmark: boolean;
  iterations: number;
  isl: number | undefined;
  baseline: boolean;
  sampling: SamplingOptions;
  ignoreEos: boolean;
  json: boolean;
}

function parseRunFlags(argv: string[]): RunOptions | 'help' {
  const { values } = parseFlags(argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, prompt: { type: 'string' }, input_ids: { type: 'string' },
    num_tokens: { type: 'string' }, cache: { type: 'string' }, precision: { type: 'string' }, max_seq_len: { type: 'string' },
    batch_size: { type: 'string' }, backend: { type: 'string' }, device: { type: 'string' }, benchmark: { type: 'boolean' }, iterations: { type: 'string' },
    isl: { type: 'string' }, enable_baseline_run: { type: 'boolean' }, enable_pytorch_run: { type: 'boolean' },
    temperature: { type: 'string' }, top_k: { type: 'string' }, top_p: { type: 'string' }, seed: { type: 'string' },
    ignore_eos: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, 'run');
  if (values.help) return 'help';
  const str = (k: string) => values[k] as string | undefined;
  const noModel = str('model') === undefined;
  const cacheFlag = str('cache');
  const cache: CacheKind = cacheFlag === '' || cacheFlag === 'none' ? 'none' : choiceFlag(cacheFlag, 'cache', CACHE_KINDS.filter((c) => c !== 'none'), 'static_v2');
  const floatFlag = (k: string) => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError('USAGE', `--${k} must be a number, got '${v}'`);
    return n;
  };
  const inputIds = str('input_ids')?.split(',').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t)) throw new UsageError('USAGE', `--input_ids must be comma-separated non-negative integers, got '${s}'`);
    return Number(t);
  });
  if (inputIds && inputIds.length === 0) throw new UsageError('USAGE', '--input_ids is empty');
  const source = resolveModel(str('model') ?? DEFAULT_MODEL);
  return {
    source,
    tokenizerDir: str('tokenizer') ?? source.folder,
    prompt: str('prompt'),
    inputIds,
    numTokens: intFlag(str('num_tokens'), 'num_tokens', { min: 0, fallback: 128 }) as number,
    cache,
    precision: choiceFlag(str('precision')?.toUpperCase(), 'precision', PRECISIONS, 'FP32'),
    maxSeqLen: intFlag(str('max_seq_len'), 'max_seq_len', { min: 1 }),
    batch: intFlag(str('batch_size'), 'batch_size', { min: 1, fallback: 1 }) as number,
    backend: choiceFlag(str('backend'), 'backend', BACKENDS, 'cpu'),
    device: choiceFlag(str('device'), 'device', CUDA_DEVICES, 'cuda'),
    benchmark: Boolean(values.benchmark) || noModel,
    iterations: intFlag(str('iterations'), 'iterations', { min: 1, fallback: 5 }) as number,
    isl: intFlag(str('isl'), 'isl', { min: 1 }),
    baseline: Boolean(values.enable_baseline_run || values.enable_pytorch_run),
    sampling: {
      temperature: floatFlag('temperature'), topK: intFlag(str('top_k'), 'top_k', { min: 1 }), topP: floatFlag('top_p'),
      seed: intFlag(str('seed'), 'seed', { min: 0 }),
    },
    ignoreEos: Boolean(values.ignore_eos),
    json: Boolean(values.json),
  };
}

/** One generation configuration, ready to run repeatedly. */
interface Runner {
  label: { backend: string; cache: string; precision: string };
  loweringMs: number;
  backend: Backend;
  go(prompt: number[][], ignoreEos: boolean): Promise<GenerationResult>;
}

export async function runCommand(argv: string[], out: (s: string) => void, err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const o = parseRunFlags(argv);
  if (o === 'help') {
    out(runHelp);
    return 0;
  }
  const progress = (s: string) => {
    if (!o.json) err(s);
  };
  checkPrecisionOnBackend(o.precision, o.backend);
  assertBackendAvailable(o.backend, o.device);
  const t0 = performance.now();
  // Text needs the tokenizer; ids given directly (or random benchmark ids) only use it to print text when present.
  const idsGiven = o.inputIds !== undefined || (o.benchmark && o.isl !== undefined);
  const tokenizer = idsGiven ? tryTokenizer(o.tokenizerDir) : TextTokenizer.load(o.tokenizerDir);
  const promptIds = o.inputIds ?? (o.benchmark && o.isl ? randomIds(o.isl, o.source.config.vocab_size ?? 256, o.sampling.seed ?? 0) : (tokenizer as TextTokenizer).encode(o.prompt ?? DEFAULT_PROMPT));
  if (promptIds.length === 0) throw new UsageError('USAGE', 'the prompt encodes to no tokens');
  const prompt = Array.from({ length: o.batch }, () => [...promptIds]);
  const limit = maxPositions(o.source.config);
  const needed = promptIds.length + o.numTokens;
  if (limit !== undefined && needed > limit) {
    throw new GenerationError('GEN_TOO_LONG', `prompt (${promptIds.length} tokens) + ${o.numTokens} new tokens = ${needed} exceeds the model's ${limit} positions`);
  }
  if (o.maxSeqLen !== undefined && o.cache !== 'none' && needed - 1 > o.maxSeqLen) {
    throw new GenerationError('GEN_TOO_LONG', `prompt (${promptIds.length} tokens) + ${o.numTokens} new tokens needs a cache of ${needed - 1}, but --max_seq_len is ${o.maxSeqLen}`);
  }
  const original = loadModel(o.source.onnxPath);
  const loadMs = performance.now() - t0;
  progress(`load     ${loadMs.toFixed(0)} ms  ${o.source.onnxPath} (${promptIds.length} prompt tokens × batch ${o.batch})`);
  checkCausalLm(original, o.source.onnxPath);
  checkBatch(original, o.batch);

  const eos = eosTokenIds(o.source.config);
  const runner = await makeRunner(original, o, o.cache, o.precision, o.backend, progress, eos, needed);
  const baseline = o.baseline || o.benchmark ? await makeRunner(original, o, 'none', 'FP32', 'cpu', progress, eos, needed, true) : undefined;

  const t1 = performance.now();
  const result = await runner.go(prompt, o.ignoreEos);
  const genMs = performance.now() - t1;
  progress(`generate ${genMs.toFixed(0)} ms  (${result.tokens[0].length} tokens, prefill ${result.prefillMs.toFixed(1)} ms)`);
  const decode = (ids: number[]) => (tokenizer ? tokenizer.decode(ids) : undefined);
  const report: Record<string, unknown> = {
    model: o.source.onnxPath, backend: o.backend, cache: o.cache, precision: o.precision, batch_size: o.batch,
    prompt_tokens: promptIds.length, num_tokens: o.numTokens, input_ids: prompt, output_ids: result.tokens,
    text: result.tokens.map(decode),
    timings: { load_ms: loadMs, lower_ms: runner.loweringMs, generate_ms: genMs, prefill_ms: result.prefillMs, decode_ms: decodeStats(result.decodeMs) },
  };
  if (!o.json) {
    if (tokenizer && !idsGiven) out(`prompt: ${o.prompt ?? DEFAULT_PROMPT}`);
    result.tokens.forEach((ids, b) => out(`${o.batch > 1 ? `[${b}] ` : ''}${tokenizer ? decode(ids) : ids.join(',')}`));
  }
  if (o.baseline && baseline) {
    const base = await baseline.go(prompt, o.ignoreEos);
    const match = JSON.stringify(base.tokens) === JSON.stringify(result.tokens);
    report.baseline = { output_ids: base.tokens, text: base.tokens.map(decode), outputs_match: match };
    if (!o.json) {
      out('--- baseline (un-lowered export, no cache, onnxruntime) ---');
      base.tokens.forEach((ids, b) => out(`${o.batch > 1 ? `[${b}] ` : ''}${tokenizer ? decode(ids) : ids.join(',')}`));
      out(`outputs match: ${match}`);
    }
  }
  if (o.benchmark) {
    const rows = [];
    const base = await benchmark(baseline as Runner, prompt, o.iterations, o.numTokens);
    const mine = await benchmark(runner, prompt, o.iterations, o.numTokens);
    rows.push({ ...mine, ratio_to_baseline: base.median_ms / mine.median_ms }, { ...base, ratio_to_baseline: 1 });
    report.benchmark = { iterations: o.iterations, isl: promptIds.length, osl: o.numTokens, batch_size: o.batch, runs: rows };
    if (!o.json) out(runTable(rows));
  }
  await runner.backend.dispose();
  await baseline?.backend.dispose();
  if (o.json) out(JSON.stringify(report, null, 2));
  return 0;
}

function tryTokenizer(dir: string): TextTokenizer | undefined {
  try {
    return TextTokenizer.load(dir);
  } catch {
    return undefined;
  }
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = createRng(seed + 1);
  return Array.from({ length: n }, () => Math.floor(rng() * vocab));
}

/**
 * onnxruntime's CPU provider has no bfloat16 kernels (MatMul, Add, Mul, Softmax, … are missing, Reshape and
 * Concat refuse the type) and onnxruntime-node cannot even hand it bfloat16 caches: say so before any work.
 */
function checkPrecisionOnBackend(precision: Precision, backend: BackendKind): void {
  if (precision === 'BF16' && backend === 'cpu') {
    throw new BackendUnavailableError('BACKEND_PRECISION', "BF16 cannot run on the cpu backend: onnxruntime's CPU provider has no bfloat16 kernels (MatMul, Add, Softmax, …); use --precision FP16 or FP32, or --backend cuda (onnx-lower lower --precision BF16 still writes the graph)");
  }
}

/** What `run` feeds and reads: inputs input_ids and position_ids (nothing else), an output named logits. */
function checkCausalLm(model: Model, file: string): void {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name);
  const missing = ['input_ids', 'position_ids'].filter((n) => !inputs.includes(n));
  const extra = inputs.filter((n) => n !== 'input_ids' && n !== 'position_ids');
  const noLogits = !model.graph.outputs.some((v) => v.name === 'logits');
  if (missing.length || extra.length || noLogits) {
    const why = [
      missing.length ? `no input ${missing.map((n) => `'${n}'`).join(' or ')}` : '',
      extra.length ? `other inputs (${extra.join(', ')})` : '',
      noLogits ? "no output 'logits'" : '',
    ].filter(Boolean).join(', ');
    throw new ModelInterfaceError('MODEL_UNSUPPORTED', `unsupported graph: '${path.basename(file)}' is not a causal-LM export run can drive (it has ${why}); run needs inputs input_ids and position_ids and an output logits`);
  }
}

function checkBatch(model: Model, batch: number): void {
  const ids = model.graph.inputs.find((v) => v.name === 'input_ids');
  const b = ids?.shape?.[0];
  if (typeof b === 'number' && b !== batch) {
    throw new UsageError('USAGE', `the model was exported for batch ${b}; --batch_size ${batch} needs an export with a dynamic batch dimension`);
  }
}

async function makeRunner(
  original: Model, o: RunOptions, cache: CacheKind, precision: Precision, backendKind: BackendKind,
  progress: (s: string) => void, eos: number[], needed: number, isBaseline = false,
): Promise<Runner> {
  const t = performance.now();
  const lowered = isBaseline ? original : lowerLlm(original, { cache, precision, maxSeqLen: cache === 'none' ? undefined : (o.maxSeqLen ?? Math.max(1, needed - 1)) }).model;
  const loweringMs = isBaseline ? 0 : performance.now() - t;
  if (!isBaseline) progress(`lower    ${loweringMs.toFixed(0)} ms  (llm pipeline, cache ${cache}, ${precision})`);
  const ts = performance.now();
  const backend = await createBackend(backendKind, lowered, o.device);
  progress(`session  ${(performance.now() - ts).toFixed(0)} ms  (${backendKind}${isBaseline ? ', baseline' : ''})`);
  const layout = cacheLayout(lowered);
  const go = (prompt: number[][], ignoreEos: boolean) => {
    const g = { maxNewTokens: o.numTokens, eosTokenIds: eos, ignoreEos, sampling: o.sampling, maxPositions: positionLimit(lowered) };
    if (layout && isDeviceGenerator(backend)) return Promise.resolve().then(() => generateOnDevice(backend, layout, prompt, { ...g, maxSeqLen: o.maxSeqLen }));
    return layout ? generateWithStaticCache(backend, layout, prompt, g) : generate(backend, prompt, g);
  };
  return { label: { backend: backendKind, cache: isBaseline ? 'none (baseline)' : cache, precision }, loweringMs, backend, go };
}

function decodeStats(ms: number[]) {
  return { p50: percentile(ms, 50), p90: percentile(ms, 90), mean: mean(ms), count: ms.length };
}

async function benchmark(r: Runner, prompt: number[][], iterations: number, tokens: number) {
  await r.go(prompt, true); // warm-up
  const totals: number[] = [];
  const ttft: number[] = [];
  const steps: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    const res = await r.go(prompt, true);
    totals.push(performance.now() - t);
    ttft.push(res.prefillMs);
    steps.push(...res.decodeMs);
  }
  const med = median(totals);
  return {
    ...r.label, median_ms: med, mean_ms: mean(totals), tokens_per_s: (tokens * prompt.length) / (med / 1000),
    ttft_ms: median(ttft), decode_p50_ms: percentile(steps, 50), decode_p90_ms: percentile(steps, 90), lowering_ms: r.loweringMs,
  };
}
