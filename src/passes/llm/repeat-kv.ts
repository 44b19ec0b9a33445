import type { Model } from '../../ir/model';
import type { Value } from '../../ir/value';
import { constantNumbers } from '../pattern/constant';
import { probe } from './probe';

/**
 * Recognises Hugging Face's repeat_kv — Reshape(Expand(Unsqueeze(kv, axis 2), [B, Hkv, n, T, D]), [B, Hkv·n, T, D])
 * — and returns the un-repeated `kv`: canonical Attention does GQA itself. The shape vectors are evaluated for
 * two sequence lengths to check that the Reshape only merges the head and repeat axes.
 */
export function stripRepeatKv(model: Model, v: Value): { base: Value; repeats: number } | undefined {
  const reshape = v.producer;
  if (reshape?.op !== 'Reshape' || reshape.domain !== '') return undefined;
  const expand = reshape.inputs[0]?.producer;
  if (expand?.op !== 'Expand' || expand.domain !== '') return undefined;
  const unsq = expand.inputs[0]?.producer;
  if (unsq?.op !== 'Unsqueeze' || unsq.domain !== '') return undefined;
  const axes = unsq.inputs[1] ? constantNumbers(unsq.inputs[1]) : unsq.attr('axes') ? unsq.attrInts('axes') : undefined;
  if (!axes || axes.length !== 1 || axes[0] !== 2) return undefined;
  const base = unsq.inputs[0];
  const expandShape = expand.inputs[1];
  const target = reshape.inputs[1];
  if (!base || !expandShape || !target) return undefined;
  let repeats: number | undefined;
  for (const seq of [5, 7]) {
    const vals = probe(model, [expandShape, target], { batch: 1, seq });
    if (!vals) return undefined;
    const es = vals.get(expandShape)!.toNumbers();
    const rs = vals.get(target)!.toNumbers();
    if (es.length !== 5 || rs.length !== 4) return undefined;
    // Expand broadcasts: a 1 in its shape keeps the input's dim (torch.onnx writes `expand(-1, …)` that way), so
    // resolve those from kv's static shape, with the probe's substitution for symbolic dims.
    const unsqueezed = baseDims(base, seq);
    const dims = es.map((e, i) => (e === 1 && unsqueezed?.[i] !== undefined ? unsqueezed[i] as number : e));
    const [eb, eh, , et, ed] = dims;
    const n = es[2];
    const merged = rs[1] === eh * n || (rs[1] === -1 && rs[0] === eb && rs[2] === et && rs[3] === ed);
    const others = [rs[0] === eb || rs[0] === 0, rs[2] === et || rs[2] === -1, rs[3] === ed || rs[3] === -1];
    if (!merged || others.includes(false) || n < 1) return undefined;
    if (repeats !== undefined && repeats !== n) return undefined;
    repeats = n;
  }
  return repeats === undefined ? undefined : { base, repeats };
}

/** kv's dims after Unsqueeze(axis 2) as the probe sees them (symbolic dim 0 = batch 1, others = seq). */
function baseDims(base: Value, seq: number): (number | undefined)[] | undefined {
  const s = base.shape;
  if (!s || s.length !== 4) return undefined;
  const d = s.map((x, i) => (typeof x === 'number' ? x : typeof x === 'string' ? (i === 0 ? 1 : seq) : undefined));
  return [d[0], d[1], 1, d[2], d[3]];
}
