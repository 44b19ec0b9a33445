import { Attribute } from '../../../ir/attribute';
import { DataType } from '../../../ir/dtype';
import type { Graph } from '../../../ir/graph';
import { Node } from '../../../ir/node';
import { TypeInfo } from '../../../ir/type';
import type { Value } from '../../../ir/value';
import { ElemTypes, isExactConversion, shortName } from './dtypes';

const TAGS: ReadonlyArray<readonly [string, string]> = [['onnx_lower.pass', 'precision']];

/** `v`'s type with another element type (shape kept); undefined stays undefined. */
export function withElemType(type: TypeInfo | undefined, dt: DataType): TypeInfo | undefined {
  if (!type || type.kind !== 'tensor') return type;
  return { ...type, elemType: dt };
}

/**
 * Makes Casts on demand, one per (value, type): a value cast where it meets another precision is cast once,
 * right after its producer (graph inputs: at the top of the graph), and every user shares that Cast.
 */
export class CastFactory {
  private readonly made = new Map<Value, Map<DataType, Value>>();
  private readonly top: Node | undefined;
  created = 0;

  constructor(private readonly graph: Graph) {
    this.top = graph.nodes.first;
  }

  castOf(v: Value, to: DataType): Value {
    let byType = this.made.get(v);
    if (!byType) this.made.set(v, (byType = new Map()));
    const have = byType.get(to);
    if (have) return have;
    const node = makeCast(this.graph, v, to);
    const p = v.producer;
    if (p && p.graph === this.graph) this.graph.insertAfter(p, node);
    else if (this.top && this.top.graph === this.graph) this.graph.insertBefore(this.top, node);
    else this.graph.append(node);
    this.created++;
    byType.set(to, node.outputs[0]);
    return node.outputs[0];
  }
}

export function makeCast(g: Graph, v: Value, to: DataType, outputName?: string): Node {
  const node = new Node({
    op: 'Cast',
    name: g.names.freshNodeName(`Cast_precision_${shortName(to)}`),
    inputs: [v],
    attributes: [Attribute.int('to', to)],
    outputs: [{ name: outputName ?? g.names.fresh(`${v.name || 'val'}_${shortName(to)}`), type: withElemType(v.type, to) }],
  });
  for (const [k, val] of TAGS) node.metadata.set(k, val);
  return node;
}

/**
 * Removes needless Casts in `g`: a Cast to the type its input already has, a Cast whose input is an exact
 * widening Cast (Cast(Cast(x, T1), T2) → Cast(x, T2) when x converts to T1 exactly), and repeated Casts of
 * one value to one type. Graph outputs keep their names. Returns the number of Casts removed or bypassed.
 */
export function removeNeedlessCasts(g: Graph): number {
  let changes = 0;
  // Removing Casts never changes a value's element type, so one look at the types serves the whole walk.
  const types = new ElemTypes([g]);
  const seen = new Map<Value, Map<number, Node>>();
  for (const c of g.nodes) {
    if (c.op !== 'Cast' || c.domain !== '' || !c.inputs[0]) continue;
    const to = c.attrInt('to');
    // Bypass an exact inner Cast.
    const inner = (c.inputs[0] as Value).producer;
    if (inner && inner.op === 'Cast' && inner.domain === '' && inner.graph === g && inner.inputs[0]) {
      const src = inner.inputs[0];
      const from = types.of(src);
      if (from !== undefined && isExactConversion(from, inner.attrInt('to'))) {
        c.replaceInput(0, src);
        changes++;
        dropIfDead(g, inner);
      }
    }
    const x = c.inputs[0] as Value;
    if (types.of(x) === to && forward(g, c, x)) {
      changes++;
      continue;
    }
    // One Cast per (value, type).
    let byType = seen.get(x);
    if (!byType) seen.set(x, (byType = new Map()));
    const first = byType.get(to);
    if (first && first !== c && !c.outputs[0].isGraphOutput) {
      c.outputs[0].replaceAllUsesWith(first.outputs[0]);
      g.remove(c);
      changes++;
    } else if (!first) byType.set(to, c);
  }
  return changes;
}

function dropIfDead(g: Graph, n: Node): void {
  if (n.outputs.every((o) => !o.hasUses() && !o.isGraphOutput)) g.remove(n);
}

/** Replaces the Cast `c` by its input `x`; a graph output moves to `x` under the output's name. */
function forward(g: Graph, c: Node, x: Value): boolean {
  const out = c.outputs[0];
  if (out.isGraphOutput) {
    // x takes over the output's name; impossible for graph inputs, initializers, outer values and outputs.
    if (!x.producer || x.producer.graph !== g || x.isGraphOutput) return false;
    const name = out.name;
    out.replaceAllUsesWith(x);
    const slots = g.outputs.map((o, i) => (o === out ? i : -1)).filter((i) => i >= 0);
    for (const i of slots) g.setOutput(i, x);
    g.remove(c);
    x.name = name;
    return true;
  }
  out.replaceAllUsesWith(x);
  g.remove(c);
  return true;
}
