import { OnnxLowerError } from '../ir/errors';

export interface SamplingOptions {
  /** 0 or undefined = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export class SamplingError extends OnnxLowerError {}

/** Deterministic PRNG (mulberry32), owned by one generation, so seeded runs repeat exactly. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && (!(o.temperature >= 0) || !Number.isFinite(o.temperature))) throw new SamplingError('SAMPLING', `temperature must be ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 1)) throw new SamplingError('SAMPLING', `top_k must be a positive integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new SamplingError('SAMPLING', `top_p must be in (0, 1], got ${o.topP}`);
}

export function argmax(logits: ArrayLike<number>, offset = 0, length = logits.length - offset): number {
  let best = 0;
  let bestVal = -Infinity;
  for (let i = 0; i < length; i++) {
    const x = logits[offset + i];
    if (x > bestVal) {
      bestVal = x;
      best = i;
    }
  }
  return best;
}

/**
 * The candidates a sampled draw picks from: ids sorted by descending logit (ties by index), cut by top-k, weights
 * exp((logit - max) / temperature), cut by top-p (the shortest prefix reaching p), and the weights' total.
 */
function candidates(logits: ArrayLike<number>, offset: number, vocab: number, o: SamplingOptions): { ids: number[]; weights: number[]; total: number } {
  let ids = Array.from({ length: vocab }, (_, i) => i);
  ids.sort((a, b) => logits[offset + b] - logits[offset + a]);
  if (o.topK) ids = ids.slice(0, Math.min(o.topK, vocab));
  const maxLogit = logits[offset + ids[0]];
  let weights = ids.map((i) => Math.exp((logits[offset + i] - maxLogit) / (o.temperature as number)));
  let total = weights.reduce((a, b) => a + b, 0);
  if (o.topP !== undefined && o.topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < weights.length) {
      acc += weights[keep] / total;
      keep++;
      if (acc >= o.topP) break;
    }
    ids = ids.slice(0, keep);
    weights = weights.slice(0, keep);
    total = weights.reduce((a, b) => a + b, 0);
  }
  return { ids, weights, total };
}

/**
 * The distribution sampleToken draws from for one row: ids and probabilities after temperature, top-k and top-p
 * (sorted by descending logit, ties by index); greedy = the argmax with probability 1. Tests and the GPU check
 * compare the device sampler with it.
 */
export function samplingDistribution(logits: ArrayLike<number>, offset: number, vocab: number, o: SamplingOptions): { ids: number[]; probs: number[] } {
  validateSampling(o);
  if (!o.temperature) return { ids: [argmax(logits, offset, vocab)], probs: [1] };
  const { ids, weights, total } = candidates(logits, offset, vocab, o);
  return { ids, probs: weights.map((x) => x / total) };
}

/** Picks the next token from one row of logits: greedy, or temperature / top-k / top-p sampling. */
export function sampleToken(logits: ArrayLike<number>, offset: number, vocab: number, o: SamplingOptions, rng: () => number): number {
  if (!o.temperature) return argmax(logits, offset, vocab);
  const { ids, weights: probs, total } = candidates(logits, offset, vocab, o);
  let r = rng() * total;
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i];
    if (r <= 0) return ids[i];
  }
  return ids[ids.length - 1];
}
