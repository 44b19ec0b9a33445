import { Attribute } from '../../../ir/attribute';
import { DataType } from '../../../ir/dtype';
import type { Builder } from '../../../ir/builder';
import type { Model } from '../../../ir/model';
import type { Node } from '../../../ir/node';
import type { Value } from '../../../ir/value';
import { attr } from '../../pattern/attr';
import { oneOf, optional, patternOps, scalar, v } from '../../pattern/builder';
import { defineRule, Failure, failure, Rule } from '../../pattern/rule';
import { RunMemo } from '../../pattern/run-memo';
import { proveCausal } from '../causal-proof';
import { stripRepeatKv } from '../repeat-kv';
import { analyzeScores, MaskForm, ScoreChain } from './score-chain';

const op = patternOps();

/** Softmax over the last axis, the heart of every decomposed attention. */
const softmax = v('probs', op.Softmax(v('scores'), { axis: attr.optional(attr.oneOf(-1, 3)) }));

/** softmax → optional `Where(IsNaN(p), 0, p)` guard (dynamo) or Cast back from fp32 (fp16 exports) → MatMul with v. */
const decomposedPattern = op.MatMul(
  // The bare Softmax first: on a tie the first failure is reported, and a bare Softmax with a wrong axis should be
  // explained by its axis, not by a missing Where or Cast.
  oneOf(softmax, op.Cast(softmax), op.Where(op.IsNaN(softmax), scalar((x) => x === 0, '0'), softmax)),
  v('v'),
);

/** What a rewrite needs, computed identically by check and rewrite (rules keep no state). */
interface Plan {
  chain: ScoreChain;
  k: Value;
  v: Value;
  causal: boolean;
  causalReason?: string;
}

function plan(model: Model | undefined, probs: Value, scores: Value, value: Value, memo: RunMemo): Plan | Failure {
  const softmaxNode = probs.producer as Node;
  // Softmax without `axis` means the last axis from opset 13 on, axis 1 (of a 2-D flattening) before.
  if (!softmaxNode.attr('axis') && (model?.opset('') ?? 0) < 13) {
    return failure(`Softmax ${softmaxNode.describe()} has no axis attribute and opset ${model?.opset('') ?? 'unknown'} < 13 (default axis 1)`, softmaxNode);
  }
  const chain = analyzeScores(scores);
  if (chain instanceof Failure) return chain;
  return finishPlan(model, chain, value, memo);
}

function finishPlan(model: Model | undefined, chain: ScoreChain, value: Value, memo: RunMemo): Plan {
  let k = chain.k;
  let vv = value;
  if (model) {
    const sk = stripRepeatKv(model, chain.k);
    const sv = stripRepeatKv(model, value);
    // K and V must keep the same number of heads: strip both or neither.
    if (sk && sv && sk.repeats === sv.repeats) {
      k = sk.base;
      vv = sv.base;
    }
  }
  let causal = false;
  let causalReason: string | undefined;
  if (chain.mask && model) {
    // The proof evaluates the mask with every symbolic dim set to one length, i.e. assumes S == T: is_causal is
    // only right where the graph guarantees that (same symbolic or static sequence dim on q and k).
    const sameLength = sameSeqLength(chain.q, k);
    // One proof per mask value and run: every layer reads the same mask, and check and rewrite both plan.
    const kind = chain.mask.kind === 'bias' ? 'bias' : 'bool';
    const mask = chain.mask.value;
    const proof = sameLength ? memo.get(['sdpa.causal', kind, mask], () => proveCausal(model, mask, kind)) : undefined;
    if (!proof) causalReason = `the query and key lengths of '${chain.q.name}' and '${k.name}' are not provably equal, so the mask is kept`;
    else if (proof.causal) causal = chain.mask.kind !== 'boolNot'; // an inverted causal mask is anti-causal
    else causalReason = proof.reason;
  }
  return { chain, k, v: vv, causal, causalReason };
}

/** Are the sequence dims (axis 2) of q and k the same static number or the same symbol? */
function sameSeqLength(q: Value, k: Value): boolean {
  const a = q.shape?.[2];
  const b = k.shape?.[2];
  return a !== undefined && a !== null && a === b;
}

function scaleAttr(chain: ScoreChain): Attribute | undefined {
  if (chain.scale === 'default') return undefined;
  const d = chain.q.shape?.[3];
  if (typeof d === 'number' && Math.abs(chain.scale * Math.sqrt(d) - 1) < 1e-6) return undefined;
  return Attribute.float('scale', chain.scale);
}

function maskInput(b: Builder, mask: MaskForm | undefined, causal: boolean): Value | null {
  if (!mask || causal) return null;
  if (mask.kind === 'boolNot') return b.op('Not', [mask.value]);
  return mask.value;
}

function buildAttention(b: Builder, q: Value, p: Plan, extraAttrs: readonly Attribute[] = []): Value {
  const mask = maskInput(b, p.chain.mask, p.causal);
  const attrs: Record<string, Attribute | undefined> = {};
  for (const a of extraAttrs) attrs[a.name] = a;
  const scale = scaleAttr(p.chain);
  if (scale) attrs.scale = scale;
  else delete attrs.scale;
  attrs.is_causal = Attribute.int('is_causal', p.causal ? 1 : 0);
  if (p.chain.upcast) attrs.softmax_precision = Attribute.int('softmax_precision', 1);
  const inputs: (Value | null)[] = [q, p.k, p.v];
  if (mask) inputs.push(mask);
  const out = b.node('Attention', inputs, attrs).outputs[0];
  out.type = q.type;
  return out;
}

/**
 * Decomposed attention (dynamo opset ≤ 22, Hugging Face eager, TorchScript) → canonical `Attention`:
 * scale folded into the attribute, repeat_kv removed (GQA stays GQA), the mask replaced by `is_causal`
 * only when proved causal.
 */
export const sdpaDecomposedRule: Rule<object> = defineRule({
  name: 'sdpa_decomposed',
  description: 'MatMul(Softmax(q·kᵀ·scale + mask)) · v → Attention',
  pattern: decomposedPattern,
  check(bindings, ctx) {
    const p = plan(ctx.model, bindings.probs, bindings.scores, bindings.v, ctx.memo);
    return p instanceof Failure ? p : true;
  },
  rewrite(b, bindings, ctx) {
    const p = plan(ctx.model, bindings.probs, bindings.scores, bindings.v, ctx.memo) as Plan;
    return buildAttention(b, p.chain.q, p);
  },
});

const attentionPattern = op.node('Attention', [v('q'), v('k'), v('v')], {}, { as: 'attention', allowOtherInputs: true });

/** Facts about an existing Attention node (the dynamo ≥ 23 export) that decide what canonicalisation changes. */
function attentionPlan(model: Model | undefined, n: Node, memo: RunMemo): Plan | Failure {
  if (n.inputs.slice(4).some(Boolean)) return failure(`Attention ${n.describe()} has past_key/past_value inputs`, n);
  if (n.outputs.slice(1).some((o) => !o.isOmitted && (o.hasUses() || o.isGraphOutput))) return failure(`Attention ${n.describe()} has present/qk outputs in use`, n);
  const maskValue = n.inputs[3] ?? undefined;
  const mask: MaskForm | undefined = maskValue ? { kind: maskValue.dtype === DataType.BOOL ? 'bool' : 'bias', value: maskValue } : undefined;
  const chain: ScoreChain = { q: n.inputs[0] as Value, k: n.inputs[1] as Value, scale: n.attr('scale') ? n.attrFloat('scale') : 'default', mask, upcast: false };
  const p = finishPlan(model, chain, n.inputs[2] as Value, memo);
  if (p.k === chain.k && !p.causal) {
    return failure(`Attention ${n.describe()} is already canonical (no repeat_kv${mask ? `; mask kept: ${p.causalReason ?? 'not causal'}` : ''})`, n);
  }
  return p;
}

/** Existing `Attention` (dynamo opset ≥ 23): remove repeat_kv and replace a proved-causal mask by `is_causal`. */
export const attentionCanonicalRule: Rule<object> = defineRule({
  name: 'attention_canonical',
  description: 'Attention with repeat_kv or a causal mask → canonical Attention',
  pattern: attentionPattern,
  check(bindings, ctx) {
    const p = attentionPlan(ctx.model, bindings.attention, ctx.memo);
    return p instanceof Failure ? p : true;
  },
  rewrite(b, bindings, ctx) {
    const n = bindings.attention;
    const p = attentionPlan(ctx.model, n, ctx.memo) as Plan;
    const keep = [...n.attributes.values()].filter((a) => a.name !== 'is_causal');
    const out = buildAttention(b, p.chain.q, p, keep);
    out.type = n.outputs[0].type;
    return out;
  },
});

export const sdpaRules: readonly Rule<object>[] = [sdpaDecomposedRule, attentionCanonicalRule];

