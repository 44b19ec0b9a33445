import type { Dim } from '../../../ir/type';
import { addDims, divDims, scaleDim } from '../symbolic-dim';
import { RuleTable, ShapeRule, unifyDims } from './rule';

/**
 * Attention (opset 23) and RotaryEmbedding (opset 23).
 *
 * Attention takes Q/K/V either 4-D (`[B, H, S, D]`) or 3-D (`[B, S, H*D]`, with `q_num_heads` and
 * `kv_num_heads` saying how to split the last dim). Outputs: Y (Q's layout, V's head size), present_key /
 * present_value (`[B, Hkv, P+L, D]`, always 4-D; P from past_key when given) and qk_matmul_output
 * (`[B, Hq, S, P+L]`).
 */
const attentionRule: ShapeRule = (ctx) => {
  const q = ctx.shape(0);
  const k = ctx.shape(1);
  const v = ctx.shape(2);
  const past = ctx.has(4) ? ctx.shape(4) : undefined;
  const qType = ctx.dtype(0);
  const kvType = ctx.dtype(1);
  if (!q || !k || !v) return [{ dtype: qType }, { dtype: kvType }, { dtype: kvType }, { dtype: qType }];
  if (q.length !== k.length || q.length !== v.length || (q.length !== 3 && q.length !== 4)) {
    ctx.fail(`Q, K, V must all be 3-D or 4-D (got ranks ${q.length}, ${k.length}, ${v.length})`);
  }
  let batch: Dim;
  let qHeads: Dim;
  let kvHeads: Dim;
  let qLen: Dim;
  let kvLen: Dim;
  let headSize: Dim;
  let vHeadSize: Dim;
  let y: Dim[];
  if (q.length === 4) {
    batch = unifyDims(ctx, unifyDims(ctx, q[0], k[0], 'batch of Q and K differ'), v[0], 'batch of Q and V differ');
    [qHeads, qLen] = [q[1], q[2]];
    kvHeads = unifyDims(ctx, k[1], v[1], 'K and V head counts differ');
    kvLen = unifyDims(ctx, k[2], v[2], 'K and V sequence lengths differ');
    headSize = unifyDims(ctx, q[3], k[3], 'Q and K head sizes differ');
    vHeadSize = v[3];
    y = [batch, qHeads, qLen, vHeadSize];
  } else {
    const qn = ctx.node.attr('q_num_heads') ? ctx.node.attrInt('q_num_heads') : ctx.fail('3-D Attention needs q_num_heads');
    const kvn = ctx.node.attr('kv_num_heads') ? ctx.node.attrInt('kv_num_heads') : ctx.fail('3-D Attention needs kv_num_heads');
    batch = unifyDims(ctx, unifyDims(ctx, q[0], k[0], 'batch of Q and K differ'), v[0], 'batch of Q and V differ');
    qHeads = qn;
    kvHeads = kvn;
    qLen = q[1];
    kvLen = unifyDims(ctx, k[1], v[1], 'K and V sequence lengths differ');
    headSize = divDims(q[2], qn) ?? divDims(k[2], kvn);
    vHeadSize = divDims(v[2], kvn);
    y = [batch, qLen, scaleDim(vHeadSize, qn)];
  }
  const total = past ? addDims(past[2] ?? null, kvLen) : kvLen;
  return [
    { dtype: qType, shape: y },
    { dtype: kvType, shape: [batch, kvHeads, total, headSize] },
    { dtype: ctx.dtype(2), shape: [batch, kvHeads, total, vHeadSize] },
    { dtype: qType, shape: [batch, qHeads, qLen, total] },
  ];
};

const rotaryRule: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];

export const attentionRules: RuleTable = { Attention: attentionRule, RotaryEmbedding: rotaryRule };
