// Shared support for the LLM-lowering tests: fixture facts, prompts, reusable onnxruntime sessions, graph queries.
import type { Model } from '../../src/ir/model';
import type { Node } from '../../src/ir/node';
import type { Value } from '../../src/ir/value';
import { PassManager } from '../../src/passes/pass-manager';
import { SdpaCanonicalize } from '../../src/passes/llm/sdpa-canonicalize';
import { createSession, int64Tensor, ort } from '../../src/runtime/ort-session';
import { loadReference, MODEL_NAMES, OPSETS, Reference } from './models';

export type FixtureName = (typeof MODEL_NAMES)[number];
export type Opset = (typeof OPSETS)[number];

/** Every exported fixture as [name, opset] (for test.each). */
export const ALL_FIXTURES: readonly (readonly [FixtureName, Opset])[] = MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const));

export interface FixtureConfig {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** Does the Hugging Face config name a KV head count (GQA-capable architecture)? */
  hasKvHeads: boolean;
}

/** Layer / head facts from the fixture's Hugging Face config (gpt2 spells them n_layer, n_head, n_embd). */
export function fixtureConfig(ref: Reference): FixtureConfig {
  const c = ref.config as Record<string, unknown>;
  const num = (...keys: string[]): number | undefined => {
    for (const k of keys) if (typeof c[k] === 'number') return c[k] as number;
    return undefined;
  };
  const layers = num('num_hidden_layers', 'n_layer');
  const heads = num('num_attention_heads', 'n_head');
  const hidden = num('hidden_size', 'n_embd');
  if (layers === undefined || heads === undefined || hidden === undefined) throw new Error('fixture config lacks layers/heads/hidden size');
  const kv = num('num_key_value_heads');
  return { layers, heads, kvHeads: kv ?? heads, headDim: hidden / heads, vocab: ref.config.vocab_size, hasKvHeads: kv !== undefined };
}

const refCache = new Map<string, Reference>();
export function reference(name: FixtureName): Reference {
  let r = refCache.get(name);
  if (!r) refCache.set(name, (r = loadReference(name)));
  return r;
}

/** The tests' deterministic prompt: ids[i] = (i·37 + 11) mod vocab. */
export function promptOf(length: number, vocab: number): number[] {
  return Array.from({ length }, (_, i) => (i * 37 + 11) % vocab);
}

/** Runs only sdpa_canonicalize (through a PassManager, so the result is verified and the input untouched). */
export function canonicalizeOnly(model: Model): Model {
  return new PassManager([{ name: 'sdpa_canonicalize', pass: new SdpaCanonicalize() }]).run(model).model;
}

/**
 * One onnxruntime session for a non-cached causal LM (input_ids, position_ids → logits), kept open across
 * calls: session creation dominates these tiny models' run time.
 */
export class LogitsRunner {
  private constructor(private readonly session: ort.InferenceSession) {}
  static async create(model: Model | Uint8Array): Promise<LogitsRunner> {
    return new LogitsRunner(await createSession(model));
  }
  /** Flat logits [1, S, V] for one prompt with contiguous positions 0..S-1. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    const positions = ids.map((_, i) => i);
    const out = await this.session.run({ input_ids: int64Tensor(ids, [1, ids.length]), position_ids: int64Tensor(positions, [1, ids.length]) });
    return out.logits.data as Float32Array;
  }
  async release(): Promise<void> {
    await this.session.release();
  }
}

export function nodesOf(model: Model, op: string): Node[] {
  return model.graph.nodes.toArray().filter((n) => n.op === op);
}

/** Every node of the main graph and its subgraphs. */
export function allNodes(model: Model): Node[] {
  return model.graph.allGraphs().flatMap((g) => g.nodes.toArray());
}

/** Ops of the nodes that (transitively) compute `v`, stopping at graph inputs and initializers. */
export function upstreamOps(v: Value, limit = 10_000): Set<string> {
  const ops = new Set<string>();
  const seen = new Set<Node>();
  const stack: Value[] = [v];
  while (stack.length && seen.size < limit) {
    const p = (stack.pop() as Value).producer;
    if (!p || seen.has(p)) continue;
    seen.add(p);
    ops.add(p.op);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return ops;
}

/** Static dims of a value's shape, or throws naming it. */
export function staticShape(v: Value): (number | string | null)[] {
  if (!v.shape) throw new Error(`value '${v.name}' has no shape`);
  return [...v.shape];
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Number.NaN;
    m = Math.max(m, d);
  }
  return m;
}
