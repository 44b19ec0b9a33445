import { Attribute } from '../../ir/attribute';
import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { dimOf, elementType, sameDim } from './analysis';
import { int64s, replaceNode, ruleTags, typed } from './build';
import type { SharedMasks } from './masks';
import { convertAttention, SdpaConverterOptions, sdpaUnsupported } from './sdpa-converter';

/** What `legalizeAttention` did to one node (for the pass's counts). */
export type AttentionAction = 'decomposed' | 'explicit_causal_mask' | 'mask_rank' | 'attributes' | 'outputs';

/** Per-graph memo of derived masks, so layers sharing a mask share its legalised form too. */
export class MaskForms {
  private readonly ids = new Map<Value, number>();
  private readonly forms = new Map<string, Value>();

  /** The form `kind` of `values`, made once. */
  get(kind: string, values: readonly Value[], make: () => Value): Value {
    const key = [kind, ...values.map((v) => this.idOf(v))].join(':');
    let v = this.forms.get(key);
    if (!v) this.forms.set(key, (v = make()));
    return v;
  }

  private idOf(v: Value): number {
    let id = this.ids.get(v);
    if (id === undefined) this.ids.set(v, (id = this.ids.size));
    return id;
  }
}

/**
 * Makes a canonical Attention node acceptable to TensorRT ≥ 10.14's Attention importer:
 * - softcap ≠ 0 or 3-D inputs → the SDPA decomposition (the importer takes neither);
 * - is_causal=1 with an attn_mask, or where the query and key lengths are not provably equal → is_causal=0
 *   and the explicit top-left mask (the ONNX semantics; TensorRT cannot combine causal with a mask, and its
 *   causal mode is top-left aligned, which callers rarely mean when S ≠ T), combined with the given mask;
 * - a mask of rank < 4 → Unsqueeze'd to 4-D; default-valued softcap / qk_matmul_output_mode attributes are
 *   dropped and unused optional outputs removed (the importer rejects those features outright).
 * Nodes with past/present/nonpad_kv_seqlen or a used qk_matmul_output are left for the checker to report.
 * Returns what changed.
 */
export function legalizeAttention(n: Node, masks: SharedMasks, forms: MaskForms, sdpa: SdpaConverterOptions): AttentionAction[] {
  const done: AttentionAction[] = [];
  if (sdpaUnsupported(n)) return done;
  const softcap = n.attr('softcap') ? n.attrFloat('softcap') : 0;
  const rank = n.inputs[0]?.shape?.length;
  if (softcap !== 0 || rank === 3) {
    convertAttention(n, masks, sdpa);
    return ['decomposed'];
  }
  let node = n;
  // Here softcap is 0 and qk_matmul_output unused, so both attributes change nothing: drop them.
  // Plain scalar attributes: deleting them from the map is all there is to it.
  const dropped = [n.attributes.delete('softcap'), n.attributes.delete('qk_matmul_output_mode')];
  if (dropped.some(Boolean)) done.push('attributes');
  if (n.outputs.length > 1) {
    node = singleOutput(n);
    done.push('outputs');
  }
  const g = node.graph;
  if (!g) return done;
  const q = node.inputs[0] as Value;
  const k = node.inputs[1] as Value;
  let mask = node.inputs[3] ?? null;
  const causal = node.attr('is_causal') !== undefined && node.attrInt('is_causal') === 1;
  if (causal && (mask || !sameDim(dimOf(q, 2), dimOf(k, 2)))) {
    const explicit = masks.causalMask(node, q, k);
    if (!mask) mask = explicit;
    else if (elementType(mask) === DataType.BOOL) {
      const m = mask;
      mask = forms.get('and', [m, explicit], () => typed(new Builder(g, node, ruleTags('causal_and_mask')).op('And', [m, explicit]), DataType.BOOL));
    } else {
      const m = mask;
      const dt = elementType(m) ?? elementType(q) ?? DataType.FLOAT;
      mask = forms.get(`add_${dt}`, [m, explicit], () => typed(new Builder(g, node, ruleTags('causal_add_mask')).op('Add', [m, masks.biasOf(node, explicit, dt)]), dt));
    }
    setMask(node, mask);
    node.setAttr(Attribute.int('is_causal', 0));
    done.push('explicit_causal_mask');
  }
  const maskRank = mask?.shape?.length;
  if (mask && maskRank !== undefined && maskRank < 4) {
    const m = mask;
    const lift = forms.get('rank4', [m], () => {
      const axes = Array.from({ length: 4 - maskRank }, (_, i) => i);
      const b = new Builder(g, node, ruleTags('mask_rank'));
      return typed(b.op('Unsqueeze', [m, int64s(b, 'mask_axes', axes)]), m.dtype, [...axes.map(() => 1), ...(m.shape ?? [])]);
    });
    setMask(node, lift);
    done.push('mask_rank');
  }
  return done;
}

function setMask(n: Node, mask: Value): void {
  if (n.inputs.length > 3) n.replaceInput(3, mask);
  else {
    while (n.inputs.length < 3) n.appendInput(null);
    n.appendInput(mask);
  }
}

/** The same Attention with only its first output (the others are unused). */
function singleOutput(n: Node): Node {
  const g = n.graph;
  if (!g) return n;
  const b = new Builder(g, n, ruleTags('attention_outputs'));
  const attrs: Record<string, Attribute> = {};
  for (const a of n.attributes.values()) attrs[a.name] = a;
  const inputs = [...n.inputs];
  while (inputs.length > 3 && !inputs[inputs.length - 1]) inputs.pop();
  const fresh = b.node(n.op, inputs, attrs, { domain: n.domain });
  fresh.outputs[0].type = n.outputs[0].type;
  replaceNode(g, n, n.outputs[0], fresh.outputs[0]);
  return fresh;
}
