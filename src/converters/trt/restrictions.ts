import { AttrType } from '../../ir/attribute';
import { DataType, dataTypeName } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { constantInts, constantTensor, dimOf, elementType, initializerTensor, sameDim } from './analysis';
import type { RestrictionId } from './support-matrix';

/** What a restriction predicate may look at. */
export interface RestrictionContext {
  readonly model: Model;
  /** Ranks derived for the node's graph (analysis.inferRanks). */
  readonly ranks: ReadonlyMap<Value, number>;
}

/** Returns undefined when the node satisfies the restriction, else what is wrong (in words, naming values). */
export type RestrictionCheck = (node: Node, ctx: RestrictionContext) => string | undefined;

const rankOf = (ctx: RestrictionContext, v: Value | null | undefined): number | undefined => (v ? (ctx.ranks.get(v) ?? v.shape?.length) : undefined);

/** An output that the graph reads (used, or a graph output). */
export function isLive(v: Value | undefined): boolean {
  return !!v && !v.isOmitted && (v.hasUses() || v.isGraphOutput);
}

function intAttr(n: Node, name: string, fallback: number): number {
  const a = n.attr(name);
  return a && a.data.type === AttrType.INT ? Number(a.data.value) : fallback;
}

/** The axes of a Squeeze/Unsqueeze/Reduce node: input 1 from opset 13/18 on, otherwise the attribute. */
function axesInput(n: Node): Value | null {
  return n.inputs[1] ?? null;
}

const fourD = (what: string, ctx: RestrictionContext, v: Value | null | undefined): string | undefined => {
  if (!v) return undefined;
  const r = rankOf(ctx, v);
  if (r === undefined) return `${what} '${v.name}' has unknown rank (cannot show it is 4-D)`;
  return r === 4 ? undefined : `${what} '${v.name}' is ${r}-D`;
};

export const RESTRICTION_CHECKS: Readonly<Record<RestrictionId, RestrictionCheck>> = {
  attention_4d: (n, ctx) => fourD('Q', ctx, n.inputs[0]) ?? fourD('K', ctx, n.inputs[1]) ?? fourD('V', ctx, n.inputs[2]) ?? fourD('attn_mask', ctx, n.inputs[3]),
  attention_no_past: (n) => (n.inputs[4] || n.inputs[5] ? `has ${n.inputs[4] ? 'past_key' : 'past_value'} input '${(n.inputs[4] ?? n.inputs[5])?.name}'` : undefined),
  attention_no_nonpad_kv_seqlen: (n) => (n.inputs[6] ? `has nonpad_kv_seqlen input '${n.inputs[6].name}'` : undefined),
  attention_no_present: (n) => {
    const live = [1, 2].filter((i) => isLive(n.outputs[i]));
    return live.length ? `produces ${live.map((i) => `${i === 1 ? 'present_key' : 'present_value'} '${n.outputs[i].name}'`).join(' and ')}` : undefined;
  },
  attention_no_qk_output: (n) => {
    if (isLive(n.outputs[3])) return `produces qk_matmul_output '${n.outputs[3].name}'`;
    const mode = intAttr(n, 'qk_matmul_output_mode', 0);
    return mode !== 0 ? `has qk_matmul_output_mode=${mode}` : undefined;
  },
  attention_no_softcap: (n) => {
    const a = n.attr('softcap');
    const v = a ? n.attrFloat('softcap') : 0;
    return v !== 0 ? `has softcap=${v}` : undefined;
  },
  attention_causal_alignment: (n) => {
    if (intAttr(n, 'is_causal', 0) !== 1) return undefined;
    const s = dimOf(n.inputs[0], -2);
    const t = dimOf(n.inputs[1], -2);
    return sameDim(s, t) ? undefined : `has is_causal=1 but the query length (${s ?? '?'}) and key length (${t ?? '?'}) are not provably equal`;
  },
  attention_causal_with_mask: (n) => (intAttr(n, 'is_causal', 0) === 1 && n.inputs[3] ? `has is_causal=1 and attn_mask '${n.inputs[3].name}'` : undefined),
  rotary_position_ids_int64: (n) => {
    const p = n.inputs[3];
    if (!p) return undefined;
    const dt = elementType(p);
    if (dt === undefined) return `position_ids '${p.name}' has unknown element type`;
    return dt === DataType.INT64 ? undefined : `position_ids '${p.name}' is ${dataTypeName(dt)}`;
  },
  tensor_scatter_4d: (n, ctx) => fourD('past_cache', ctx, n.inputs[0]) ?? fourD('update', ctx, n.inputs[1]),
  tensor_scatter_axis: (n, ctx) => {
    const axis = intAttr(n, 'axis', -2);
    const r = rankOf(ctx, n.inputs[0]);
    // axis 2 of a 4-D cache is the same axis as -2; the parser only documents -2, so we ask for -2 itself.
    return axis === -2 ? undefined : `has axis=${axis}${r !== undefined ? ` (rank ${r})` : ''}`;
  },
  reduce_axes_initializer: (n) => {
    const axes = axesInput(n);
    if (!axes) return undefined; // attribute axes (opset < 18) or reduce over all axes
    return initializerTensor(axes) ? undefined : `axes '${axes.name}' is computed by ${axes.producer ? `node ${axes.producer.describe()}` : 'a graph input'}, not an initializer`;
  },
  squeeze_axes_constant: (n, ctx) => {
    const axes = axesInput(n);
    return !axes || constantInts(ctx.model, axes) ? undefined : `axes '${axes.name}' is not resolvable to a constant`;
  },
  unsqueeze_axes_constant: (n, ctx) => {
    const axes = axesInput(n);
    return !axes || constantInts(ctx.model, axes) ? undefined : `axes '${axes.name}' is not resolvable to a constant`;
  },
  scatter_nd_reduction_none: (n) => {
    const a = n.attr('reduction');
    const r = a ? n.attrString('reduction') : 'none';
    return r === 'none' ? undefined : `has reduction='${r}'`;
  },
  layer_norm_single_output: (n) => {
    const extra = n.outputs.slice(1).filter(isLive);
    return extra.length ? `produces ${extra.map((o) => `'${o.name}'`).join(', ')} besides Y` : undefined;
  },
  cumsum_axis_constant: (n, ctx) => (n.inputs[1] && !constantInts(ctx.model, n.inputs[1]) ? `axis '${n.inputs[1].name}' is not a build-time constant` : undefined),
  topk_sorted_k: (n, ctx) => {
    const sorted = intAttr(n, 'sorted', 1);
    if (sorted !== 1) return `has sorted=${sorted}`;
    const k = constantInts(ctx.model, n.inputs[1]);
    if (k && k[0] >= 3840) return `has K=${k[0]}`;
    return undefined;
  },
  dropout_inference: (n, ctx) => {
    const t = n.inputs[2];
    if (!t) return intAttr(n, 'is_test', 1) === 0 && n.attr('is_test') ? 'has is_test=0' : undefined;
    if (!initializerTensor(t)) return `is_training '${t.name}' is not an initializer`;
    const v = constantTensor(ctx.model, t)?.toNumbers()[0];
    return v ? `is_training '${t.name}' is true` : undefined;
  },
  constant_attributes: (n) => {
    const bad = ['sparse_value', 'value_string', 'value_strings'].filter((a) => n.attr(a));
    return bad.length ? `uses attribute ${bad.join(', ')}` : undefined;
  },
};
