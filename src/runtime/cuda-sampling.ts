/**
 * Device-resident sampling for the cuda backend: the OP_SAMPLE instruction (src/runtime/native/sample.cuh, its
 * definition in sample-common.h), its options, and the glue between CudaBackend.generate and the generation API
 * (GenerationResult) that `onnx-lower run --backend cuda` uses.
 *
 * OP_SAMPLE applies temperature, top-k and top-p exactly as sampleToken (./sampling.ts) defines them (temperature 0
 * or top_k 1 = argmax), in 40-bit fixed point, and draws with a counter-based RNG: splitmix64 finalisers of
 * (seed, step, row), the step kept in device memory and advanced by the kernel, so a CUDA graph replayed each
 * decode step draws new numbers and a seeded generation repeats exactly. The random numbers are not those of the
 * CPU sampler (createRng): the same seed gives other tokens than `--backend cpu`, from the same distribution.
 */
import { DT, OpCode } from '../converters/cuda';
import type { CacheLayout } from './cache-layout';
import { GenerationError, GenerationResult, StaticCacheOptions } from './generate';
import { SamplingError, SamplingOptions, validateSampling } from './sampling';

/** OP_SAMPLE takes vocabularies below 2^23 (the kept mass, up to vocab × 2^40, is summed in 64 bits). */
export const MAX_SAMPLE_VOCAB = 2 ** 23;
/** Bytes of the RNG state in device memory: uint64 seed, step, blocks done, spare. */
export const RNG_STATE_BYTES = 32;

/** Sampling parameters as OP_SAMPLE takes them (0 = top-k off, 1 = top-p off). */
export interface DeviceSampling {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

/**
 * Validates sampling options for the device (the SamplingError of validateSampling, plus the seed and the vocabulary
 * limit) and normalises them; undefined = greedy (no temperature, or 0), which runs as ARGMAX.
 */
export function deviceSampling(o: SamplingOptions | undefined, vocab: number): DeviceSampling | undefined {
  const s = o ?? {};
  validateSampling(s);
  if (s.seed !== undefined && !(Number.isSafeInteger(s.seed) && s.seed >= 0)) throw new SamplingError('SAMPLING', `seed must be a non-negative integer below 2^53, got ${s.seed}`);
  if (!s.temperature) return undefined;
  if (vocab >= MAX_SAMPLE_VOCAB) throw new SamplingError('SAMPLING', `device sampling takes vocabularies below ${MAX_SAMPLE_VOCAB}, the model has ${vocab}`);
  return { temperature: s.temperature, topK: s.topK ?? 0, topP: s.topP ?? 1, seed: s.seed ?? 0 };
}

/** Program-cache tag of a sampling configuration (the seed lives in device memory, not in the program). */
export function samplingTag(s: DeviceSampling | undefined): string {
  return s ? `sample:${s.temperature}:${s.topK}:${s.topP}` : 'greedy';
}

/** The instruction that picks `rows` next ids (int64, at `outPtr`) from logits rows of `cols` floats. */
export function selectInstruction(s: DeviceSampling | undefined, dt: DT, rows: number, cols: number, rowStride: number, inPtr: number, outPtr: number, statePtr: number): number[] {
  if (!s) return [OpCode.ARGMAX, 6, dt, rows, cols, rowStride, inPtr, outPtr];
  return [OpCode.SAMPLE, 10, dt, rows, cols, rowStride, inPtr, outPtr, statePtr, s.temperature, s.topK, s.topP];
}

/** Initial RNG state for a seed (step 0). */
export function rngState(seed: number): BigUint64Array {
  return BigUint64Array.from([BigInt(seed), 0n, 0n, 0n]);
}

/** Cuts each row after its first EOS (the EOS is kept, as generateWithStaticCache keeps it). */
export function truncateAtEos(tokens: number[][], eos: readonly number[] | undefined): number[][] {
  if (!eos?.length) return tokens;
  return tokens.map((row) => {
    const at = row.findIndex((t) => eos.includes(t));
    return at < 0 ? row : row.slice(0, at + 1);
  });
}

/** Options of CudaBackend.generate (greedy() is generate without sampling). */
export interface DeviceGenerateOptions {
  maxNewTokens: number;
  /** Cache length (default: prompt + maxNewTokens). */
  maxSeqLen?: number;
  /** Temperature / top-k / top-p / seed; greedy when absent or temperature 0. */
  sampling?: SamplingOptions;
  /**
   * Stop ids: the device generates in chunks of `syncEvery` steps and stops after the chunk in which every row
   * has produced one; tokens are cut after each row's first EOS (kept).
   */
  eosTokenIds?: readonly number[];
  /** Steps between host synchronisations (default: 16 with eosTokenIds, else none until the end). */
  syncEvery?: number;
}

export interface DeviceGenerateResult {
  tokens: number[][];
  /** Prefill, first-token selection and its download, in ms (time to first token). */
  prefillMs: number;
  /** Wall time of all decode steps run, in ms. */
  decodeMs: number;
  /** Decode steps run (maxNewTokens - 1, fewer when every row stopped at EOS). */
  decodeSteps: number;
  /** Per decode step, in ms: the mean of its synchronisation chunk (steps are not synchronised one by one). */
  stepMs: number[];
}

/** What generateOnDevice needs of a backend (CudaBackend). */
export interface DeviceGenerator {
  generate(prompt: readonly (readonly number[])[], o: DeviceGenerateOptions): DeviceGenerateResult;
}

export function isDeviceGenerator(b: unknown): b is DeviceGenerator {
  return typeof (b as Partial<DeviceGenerator> | undefined)?.generate === 'function';
}

/**
 * generateWithStaticCache on the device: prefill, then CUDA-graph decode steps that select the next id (argmax or
 * OP_SAMPLE) and feed it back without a host round trip. The same checks and result shape as the host loop;
 * decodeMs holds per-step means of synchronisation chunks; the tokens are cut after each row's first EOS unless
 * ignoreEos. onStep is called once for the prefill and once per decode step after the run.
 */
export function generateOnDevice(backend: DeviceGenerator, layout: CacheLayout, prompt: readonly (readonly number[])[], o: StaticCacheOptions): GenerationResult {
  if (prompt.length === 0) throw new GenerationError('GEN_PROMPT', 'the prompt batch is empty');
  const promptLen = prompt[0].length;
  if (promptLen === 0) throw new GenerationError('GEN_PROMPT', 'the prompt is empty');
  if (prompt.some((r) => r.length !== promptLen)) throw new GenerationError('GEN_PROMPT', 'every prompt in a batch must have the same length (no padding support)');
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new GenerationError('GEN_TOKENS', `num_tokens must be a non-negative integer, got ${o.maxNewTokens}`);
  validateSampling(o.sampling ?? {});
  if (layout.batch !== undefined && layout.batch !== prompt.length) throw new GenerationError('GEN_BATCH', `the model is lowered for batch ${layout.batch}, got ${prompt.length} prompts`);
  const needed = promptLen + Math.max(0, o.maxNewTokens - 1);
  if (o.maxPositions !== undefined && needed > o.maxPositions) {
    throw new GenerationError('GEN_TOO_LONG', `prompt (${promptLen} tokens) + ${o.maxNewTokens} new tokens reaches position ${needed - 1}, but the lowered graph supports positions below ${o.maxPositions}`);
  }
  const maxSeq = layout.maxSeqLen ?? o.maxSeqLen ?? needed;
  if (needed > maxSeq) throw new GenerationError('GEN_TOO_LONG', `prompt (${promptLen} tokens) + ${o.maxNewTokens} new tokens needs a cache of ${needed}, but the cache holds ${maxSeq}`);
  if (o.maxNewTokens === 0) return { tokens: prompt.map(() => []), prefillMs: 0, decodeMs: [] };
  const r = backend.generate(prompt, {
    maxNewTokens: o.maxNewTokens, maxSeqLen: maxSeq, sampling: o.sampling,
    eosTokenIds: o.ignoreEos ? undefined : o.eosTokenIds,
  });
  o.onStep?.(0, r.prefillMs);
  r.stepMs.forEach((ms, i) => o.onStep?.(i + 1, ms));
  return { tokens: r.tokens, prefillMs: r.prefillMs, decodeMs: r.stepMs };
}

