import { OnnxLowerError } from '../ir/errors';
import { bfloat16ToFloat, halfToFloat } from '../ir/float16';
import { cacheNames } from '../passes/llm/cache-names';
import type { Backend } from './backend';
import type { CacheLayout } from './cache-layout';
import { HostTensor, int64Host, numElements } from './host-tensor';
import { createRng, SamplingOptions, sampleToken, validateSampling } from './sampling';

export interface GenerateOptions {
  /** Tokens to generate per row. */
  maxNewTokens: number;
  /** Stop a row at these ids (it keeps the EOS token); ignored when `ignoreEos`. */
  eosTokenIds?: readonly number[];
  ignoreEos?: boolean;
  sampling?: SamplingOptions;
  /** Called after each step with the step index (0 = prefill) and its wall time. */
  onStep?: (step: number, ms: number) => void;
  /** Positions the lowered graph supports (e.g. the RoPE tables of rotary_fusion); checked before running. */
  maxPositions?: number;
}

/** Refuses a generation whose positions would run past what the graph supports (no silent garbage). */
function checkPositions(promptLen: number, o: GenerateOptions): void {
  const needed = promptLen + Math.max(0, o.maxNewTokens - 1);
  if (o.maxPositions !== undefined && needed > o.maxPositions) {
    throw new GenerationError('GEN_TOO_LONG', `prompt (${promptLen} tokens) + ${o.maxNewTokens} new tokens reaches position ${needed - 1}, but the lowered graph supports positions below ${o.maxPositions}`);
  }
}

export interface StaticCacheOptions extends GenerateOptions {
  /** Cache length to allocate when the graph leaves it symbolic (default: prompt + new tokens). */
  maxSeqLen?: number;
  /** Feed the prompt in chunks of this many tokens (chunked prefill); default: all at once. */
  prefillChunk?: number;
}

export interface GenerationResult {
  /** Generated ids per batch row (up to and including EOS when stopping at EOS). */
  tokens: number[][];
  /** Wall time of the prefill (all chunks) in ms. */
  prefillMs: number;
  /** Wall time of each decode step in ms. */
  decodeMs: number[];
}

export class GenerationError extends OnnxLowerError {}

function checkPrompt(prompt: readonly (readonly number[])[]): number {
  if (prompt.length === 0) throw new GenerationError('GEN_PROMPT', 'the prompt batch is empty');
  const len = prompt[0].length;
  if (len === 0) throw new GenerationError('GEN_PROMPT', 'the prompt is empty');
  if (prompt.some((r) => r.length !== len)) throw new GenerationError('GEN_PROMPT', 'every prompt in a batch must have the same length (no padding support)');
  return len;
}

/** Per-row bookkeeping shared by both loops: sampling, EOS, collecting tokens. */
class Rows {
  readonly tokens: number[][];
  private readonly done: boolean[];
  private readonly rng: () => number;
  constructor(batch: number, private readonly o: GenerateOptions) {
    validateSampling(o.sampling ?? {});
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new GenerationError('GEN_TOKENS', `num_tokens must be a non-negative integer, got ${o.maxNewTokens}`);
    this.tokens = Array.from({ length: batch }, () => []);
    this.done = new Array<boolean>(batch).fill(false);
    this.rng = createRng(o.sampling?.seed ?? 0);
  }
  /** Picks next ids from logits [B, S, V] at position `pos`; returns them (finished rows repeat EOS). */
  next(logits: HostTensor, pos: number): number[] {
    const [batch, seq, vocab] = logits.dims;
    const out: number[] = [];
    for (let b = 0; b < batch; b++) {
      const row = logitsRow(logits, (b * seq + pos) * vocab, vocab);
      const id = sampleToken(row.data, row.offset, vocab, this.o.sampling ?? {}, this.rng);
      if (!this.done[b]) {
        this.tokens[b].push(id);
        if (!this.o.ignoreEos && this.o.eosTokenIds?.includes(id)) this.done[b] = true;
        if (this.tokens[b].length >= this.o.maxNewTokens) this.done[b] = true;
      }
      out.push(this.done[b] ? (this.tokens[b][this.tokens[b].length - 1] as number) : id);
    }
    return out;
  }
  /**
   * Every row is finished: at EOS or at maxNewTokens, each on its own. (Requiring all rows at EOS or all at the
   * limit never ended a batch with one row at EOS and another at the limit: the loop ran past the cache.)
   */
  get finished(): boolean {
    return this.done.every(Boolean) || this.tokens.every((t) => t.length >= this.o.maxNewTokens);
  }
}

/**
 * One row of logits as numbers: float32 in place; float16/bfloat16 (an fp16 export's logits) decoded from their
 * raw 16-bit patterns, which would otherwise be compared as integers.
 */
function logitsRow(t: HostTensor, offset: number, vocab: number): { data: ArrayLike<number>; offset: number } {
  if (t.type === 'float32' || t.type === 'float64') return { data: t.data as Float32Array, offset };
  if (t.type === 'float16' || t.type === 'bfloat16') {
    const raw = t.data as ArrayLike<number>;
    const decode = t.type === 'float16' ? halfToFloat : bfloat16ToFloat;
    const row = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) row[i] = decode(raw[offset + i]);
    return { data: row, offset: 0 };
  }
  throw new GenerationError('GEN_OUTPUT', `the model's logits are ${t.type}, not a float type`);
}

/** Runs the model; a backend failure (e.g. a batch the graph does not accept) becomes a typed GenerationError. */
async function runModel(backend: Backend, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  try {
    return await backend.run(feeds);
  } catch (e) {
    if (e instanceof OnnxLowerError) throw e;
    const ids = feeds.input_ids;
    const err = new GenerationError('GEN_RUN', `the model failed on input_ids [${ids ? ids.dims.join(', ') : '?'}]: ${(e as Error).message}`);
    err.cause = e;
    throw err;
  }
}

function zeros(dtype: string, dims: number[]): HostTensor {
  const n = numElements(dims);
  const data = dtype === 'float32' ? new Float32Array(n) : dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(n) : undefined;
  if (!data) throw new GenerationError('GEN_CACHE', `unsupported cache dtype ${dtype}`);
  return { type: dtype, dims, data };
}

/**
 * Generation with a static KV cache: prefill (optionally chunked), then one token per step. position_ids are
 * start..end-1 (contiguous positions: no packed sequences).
 */
export async function generateWithStaticCache(
  backend: Backend, layout: CacheLayout, prompt: readonly (readonly number[])[], o: StaticCacheOptions,
): Promise<GenerationResult> {
  const promptLen = checkPrompt(prompt);
  checkPositions(promptLen, o);
  const batch = prompt.length;
  if (layout.batch !== undefined && layout.batch !== batch) throw new GenerationError('GEN_BATCH', `the model is lowered for batch ${layout.batch}, got ${batch} prompts`);
  const needed = promptLen + Math.max(0, o.maxNewTokens - 1);
  const maxSeq = layout.maxSeqLen ?? o.maxSeqLen ?? needed;
  if (needed > maxSeq) {
    throw new GenerationError('GEN_TOO_LONG', `prompt (${promptLen} tokens) + ${o.maxNewTokens} new tokens needs a cache of ${needed}, but the cache holds ${maxSeq}`);
  }
  const rows = new Rows(batch, o);
  const caches: Record<string, HostTensor> = {};
  for (const l of layout.layers) {
    caches[l.keyName] = zeros(l.dtype, [batch, l.heads, maxSeq, l.headDim]);
    caches[l.valueName] = zeros(l.dtype, [batch, l.heads, maxSeq, l.headDim]);
  }
  const step = async (ids: number[][], start: number): Promise<HostTensor> => {
    const len = ids[0].length;
    const feeds: Record<string, HostTensor> = {
      input_ids: int64Host(ids.flat(), [batch, len]),
      position_ids: int64Host(ids.flatMap(() => Array.from({ length: len }, (_, i) => start + i)), [batch, len]),
      ...caches,
      [cacheNames.start]: int64Host([start], []),
      [cacheNames.end]: int64Host([start + len], []),
    };
    const out = await runModel(backend, feeds);
    for (const l of layout.layers) {
      caches[l.keyName] = out[l.keyOutput] ?? fail(l.keyOutput);
      caches[l.valueName] = out[l.valueOutput] ?? fail(l.valueOutput);
    }
    return out.logits;
  };
  const t0 = performance.now();
  const chunk = o.prefillChunk && o.prefillChunk > 0 ? o.prefillChunk : promptLen;
  let logits: HostTensor | undefined;
  for (let s = 0; s < promptLen; s += chunk) logits = await step(prompt.map((r) => [...r.slice(s, s + chunk)]), s);
  const prefillMs = performance.now() - t0;
  o.onStep?.(0, prefillMs);
  const decodeMs: number[] = [];
  if (o.maxNewTokens === 0) return { tokens: rows.tokens, prefillMs, decodeMs };
  let next = rows.next(logits as HostTensor, (logits as HostTensor).dims[1] - 1);
  let pos = promptLen;
  while (!rows.finished) {
    const t = performance.now();
    const l = await step(next.map((id) => [id]), pos);
    next = rows.next(l, 0);
    pos++;
    decodeMs.push(performance.now() - t);
    o.onStep?.(decodeMs.length, decodeMs[decodeMs.length - 1]);
  }
  return { tokens: rows.tokens, prefillMs, decodeMs };
}

function fail(name: string): never {
  throw new GenerationError('GEN_OUTPUT', `the model returned no updated cache for '${name}'`);
}

/** Generation without a cache: the whole sequence is recomputed each step (the un-lowered baseline). */
export async function generate(backend: Backend, prompt: readonly (readonly number[])[], o: GenerateOptions): Promise<GenerationResult> {
  checkPositions(checkPrompt(prompt), o);
  const batch = prompt.length;
  const rows = new Rows(batch, o);
  const seqs = prompt.map((r) => [...r]);
  const decodeMs: number[] = [];
  let prefillMs = 0;
  let first = true;
  while (o.maxNewTokens > 0 && !rows.finished) {
    const t = performance.now();
    const len = seqs[0].length;
    const out = await runModel(backend, {
      input_ids: int64Host(seqs.flat(), [batch, len]),
      position_ids: int64Host(seqs.flatMap(() => Array.from({ length: len }, (_, i) => i)), [batch, len]),
    });
    const next = rows.next(out.logits, len - 1);
    next.forEach((id, b) => seqs[b].push(id));
    const ms = performance.now() - t;
    if (first) prefillMs = ms;
    else decodeMs.push(ms);
    o.onStep?.(first ? 0 : decodeMs.length, ms);
    first = false;
  }
  return { tokens: rows.tokens, prefillMs, decodeMs };
}
