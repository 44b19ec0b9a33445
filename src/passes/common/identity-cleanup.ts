import { AttrType } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import type { Pass, PassResult } from '../pass';
import { loweringPass } from '../registry';

/** Which no-op a node is, for the report's counts. */
type NoOpKind = 'identity' | 'cast' | 'reshape' | 'expand' | 'dropout';

/**
 * Removes nodes that provably compute their first input: Identity, Cast/CastLike to the type the input
 * already has, Reshape to the input's own shape, Expand that broadcasts nothing, Dropout in inference.
 * Uses move to the input. When the removed node's output is a graph output, the input value takes over the
 * output's name, so the model's interface does not change; where that is impossible (the input is a graph
 * input, an initializer, an outer value or already an output) the node stays.
 */
@loweringPass({
  name: 'identity_cleanup',
  description: 'Removes Identity, same-type Cast, same-shape Reshape/Expand and inference Dropout, keeping graph output names',
})
export class IdentityCleanup implements Pass {
  readonly inPlace = true;

  run(model: Model): PassResult {
    const counts: Record<string, number> = {};
    let removed = 0;
    const graphs = [...model.graph.allGraphs()];
    for (const f of model.functions) graphs.push(...f.body.allGraphs());
    for (const g of graphs) {
      for (const node of g.nodes) {
        const kind = noOpKind(node);
        if (kind && forwardInput(g, node)) {
          removed++;
          counts[kind] = (counts[kind] ?? 0) + 1;
        }
      }
    }
    return { model, modified: removed > 0, changes: removed, counts };
  }
}

function noOpKind(node: Node): NoOpKind | undefined {
  if (node.domain !== '') return undefined;
  const data = node.inputs[0];
  if (!data || node.outputs.length === 0) return undefined;
  switch (node.op) {
    case 'Identity':
      return node.outputs.length === 1 ? 'identity' : undefined;
    case 'Cast': {
      const to = node.attr('to');
      return to?.data.type === AttrType.INT && data.dtype !== undefined && Number(to.data.value) === data.dtype ? 'cast' : undefined;
    }
    case 'CastLike': {
      const like = node.inputs[1];
      return like && data.dtype !== undefined && data.dtype === like.dtype ? 'cast' : undefined;
    }
    case 'Reshape':
      return isIdentityReshape(node, data) ? 'reshape' : undefined;
    case 'Expand':
      return isIdentityExpand(node, data) ? 'expand' : undefined;
    case 'Dropout': {
      // The mask output has no source to forward to; only a Dropout whose mask nobody reads can go.
      const maskUnused = node.outputs.slice(1).every((o) => !o.hasUses() && !o.isGraphOutput);
      return maskUnused && isInferenceDropout(node) ? 'dropout' : undefined;
    }
    default:
      return undefined;
  }
}

/** Reshape whose target equals the input's shape: same rank, each entry 0 (copy), the same number, or one -1. */
function isIdentityReshape(node: Node, data: Value): boolean {
  const shape = data.shape;
  const target = node.inputs[1] ? constantInts(node.inputs[1]) : undefined;
  if (!shape || !target || target.length !== shape.length) return false;
  const allowZero = node.attrInt('allowzero', 0) !== 0;
  let inferred = 0;
  for (let i = 0; i < target.length; i++) {
    const t = target[i];
    if (t === 0 && !allowZero) continue;
    if (t === -1) {
      // With every other dim equal to the input's, -1 can only infer the input's own dim.
      if (++inferred > 1) return false;
      continue;
    }
    if (shape[i] !== t) return false;
  }
  return true;
}

/** Expand whose target broadcasts into the input's shape without growing it (rank and dims unchanged). */
function isIdentityExpand(node: Node, data: Value): boolean {
  const shape = data.shape;
  const target = node.inputs[1] ? constantInts(node.inputs[1]) : undefined;
  if (!shape || !target || target.length > shape.length) return false;
  for (let k = 1; k <= target.length; k++) {
    const t = target[target.length - k];
    if (t !== 1 && shape[shape.length - k] !== t) return false;
  }
  return true;
}

/**
 * Dropout computes the identity unless it is in training mode: `training_mode` (opset 12+) absent or a
 * constant false, and no `is_test = 0` (opset 6 and older).
 */
export function isInferenceDropout(node: Node): boolean {
  if (node.op !== 'Dropout' || node.domain !== '') return false;
  const isTest = node.attr('is_test');
  if (isTest && isTest.data.type === AttrType.INT && Number(isTest.data.value) === 0) return false;
  const training = node.inputs[2];
  if (!training) return true;
  const flag = constantInts(training);
  return flag !== undefined && flag.length === 1 && flag[0] === 0;
}

/** Small integer/bool constants (initializers that cannot be overridden, or Constant nodes); else undefined. */
export function constantInts(value: Value): number[] | undefined {
  const producer = value.producer;
  let t: Tensor | undefined;
  if (producer) {
    if (producer.op !== 'Constant' || producer.domain !== '') return undefined;
    const attr = [...producer.attributes.values()][0];
    if (!attr) return undefined;
    if (attr.data.type === AttrType.INT && attr.name === 'value_int') return [Number(attr.data.value)];
    if (attr.data.type === AttrType.INTS && attr.name === 'value_ints') return attr.data.value.map((v) => Number(v));
    if (attr.data.type !== AttrType.TENSOR || attr.name !== 'value') return undefined;
    t = attr.data.value;
  } else {
    // A graph input with a default can be fed a different value at run time.
    if (!value.isInitializer || value.isGraphInput) return undefined;
    t = value.constValue;
  }
  if (!t || t.numElements > 64) return undefined;
  if (t.dtype !== DataType.INT64 && t.dtype !== DataType.INT32 && t.dtype !== DataType.BOOL) return undefined;
  return t.toNumbers();
}

/** Moves the uses of the node's first output to its first input and removes the node, if the interface allows. */
function forwardInput(g: Graph, node: Node): boolean {
  const src = node.inputs[0] as Value;
  const out = node.outputs[0];
  const interfaceOutput = g.outputs.includes(out);
  if (interfaceOutput && (!src.producer || src.producer.graph !== g || src.isGraphOutput)) return false;
  // Outputs of nested bodies may name `out` directly (an outer value); those slots simply move to `src`.
  if (out.isGraphOutput) {
    for (const h of g.allGraphs()) h.outputs.forEach((o, i) => {
      if (o === out) h.setOutput(i, src);
    });
  }
  out.replaceAllUsesWith(src);
  const name = out.name;
  if (interfaceOutput && src.type === undefined) src.type = out.type;
  g.remove(node);
  if (interfaceOutput) src.name = name;
  return true;
}
