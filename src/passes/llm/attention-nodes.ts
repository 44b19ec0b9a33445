import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { PreconditionError } from '../pass';

/** The canonical attention op: ONNX `Attention` in the default domain (opset 23+). */
export function isCanonicalAttention(n: Node): boolean {
  return n.op === 'Attention' && n.domain === '';
}

/** Canonical Attention nodes of the main graph, in graph order. */
export function attentionNodes(model: Model): Node[] {
  return model.graph.nodes.toArray().filter(isCanonicalAttention);
}

/** Static head count and head size of a 4-D `[B, H, T, D]` value, or a PreconditionError naming it. */
export function headsAndSize(v: Value, what: string): { heads: number; headDim: number } {
  const s = v.shape;
  if (!s || s.length !== 4 || typeof s[1] !== 'number' || typeof s[3] !== 'number') {
    throw new PreconditionError(
      `${what} '${v.name}' must be 4-D [batch, heads, seq, head_dim] with static heads and head_dim (got ${s ? `[${s.join(', ')}]` : 'unknown shape'}); run sdpa_canonicalize and shape_inference first`,
      v.name,
    );
  }
  return { heads: s[1], headDim: s[3] };
}

/** A graph input by name, or a PreconditionError naming the input a pass needs. */
export function requireInput(graph: Graph, name: string, pass: string): Value {
  const v = graph.inputs.find((i) => i.name === name);
  if (!v) throw new PreconditionError(`${pass} needs a graph input named '${name}' (found: ${graph.inputs.map((i) => i.name).join(', ')})`, name);
  return v;
}
