import { AttrType } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import type { Dim } from '../../ir/type';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import { evaluateSubgraph } from '../../passes/common/evaluator';

/** Small budget: we only ever resolve axes and shape vectors this way, never weights. */
const CONSTANT_BUDGET = 4096;

/** The tensor of an initializer or of a `Constant` node's `value` attribute; undefined otherwise. */
export function initializerTensor(v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  // An initializer that is also a graph input can be overridden at run time: not a constant.
  if (v.isInitializer) return v.isGraphInput ? undefined : v.constValue;
  const p = v.producer;
  if (p && p.op === 'Constant' && p.domain === '') {
    const a = p.attr('value');
    if (a && a.data.type === AttrType.TENSOR) return a.data.value;
  }
  return undefined;
}

/**
 * The value's tensor when it can be computed from initializers alone ("resolvable to a constant", as the
 * TensorRT parser folds such subgraphs at build time); undefined when it depends on a graph input.
 */
export function constantTensor(model: Model, v: Value | null | undefined): Tensor | undefined {
  if (!v) return undefined;
  const direct = initializerTensor(v);
  if (direct) return direct;
  if (!v.producer || !v.graph) return undefined;
  try {
    const out = evaluateSubgraph(v.graph as Graph, new Map(), [v], { opset: model.opset('') ?? 23, maxElements: CONSTANT_BUDGET });
    return out.get(v);
  } catch {
    return undefined;
  }
}

/** Integer contents of a constant (axes, shapes); undefined when not constant. */
export function constantInts(model: Model, v: Value | null | undefined): number[] | undefined {
  const t = constantTensor(model, v);
  if (!t) return undefined;
  try {
    return t.toNumbers();
  } catch {
    return undefined;
  }
}

const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'And', 'Or', 'Xor', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual',
  'Where', 'Max', 'Min', 'Sum', 'Mean', 'Not', 'Neg', 'Abs', 'Cast', 'CastLike', 'Sqrt', 'Exp', 'Log', 'Tanh', 'Sigmoid', 'Relu',
  'Softmax', 'LogSoftmax', 'IsNaN', 'IsInf', 'Identity', 'Reciprocal', 'Erf', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Clip',
  'Gelu', 'LayerNormalization', 'RMSNormalization', 'RotaryEmbedding', 'Dropout', 'Sign',
]);

/**
 * Ranks of every value in a graph, from declared shapes and a forward pass over common ops (one pass in
 * node order, so it is linear and never recursive). Values whose rank cannot be derived are absent.
 */
export function inferRanks(model: Model, graph: Graph): Map<Value, number> {
  const ranks = new Map<Value, number>();
  const rankOf = (v: Value | null | undefined): number | undefined => {
    if (!v) return undefined;
    const known = ranks.get(v);
    if (known !== undefined) return known;
    const s = v.shape;
    if (s) return s.length;
    const t = initializerTensor(v);
    return t ? t.dims.length : undefined;
  };
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o.shape) ranks.set(o, o.shape.length);
    const out = n.outputs[0];
    if (!out || ranks.has(out)) continue;
    const r = nodeRank(model, n, rankOf);
    if (r !== undefined) ranks.set(out, r);
  }
  return ranks;
}

function nodeRank(model: Model, n: Node, rankOf: (v: Value | null | undefined) => number | undefined): number | undefined {
  if (n.domain !== '') return undefined;
  const inputs = n.inputs;
  const r0 = rankOf(inputs[0]);
  if (ELEMENTWISE.has(n.op)) {
    const rs = inputs.filter(Boolean).map(rankOf);
    return rs.some((r) => r === undefined) ? undefined : Math.max(0, ...(rs as number[]));
  }
  switch (n.op) {
    case 'Range': case 'Shape': return 1;
    case 'Size': return 0;
    case 'Unsqueeze': {
      const axes = inputs[1] ? constantInts(model, inputs[1]) : n.attr('axes') ? n.attrInts('axes') : undefined;
      return r0 !== undefined && axes ? r0 + axes.length : undefined;
    }
    case 'Squeeze': {
      const axes = inputs[1] ? constantInts(model, inputs[1]) : n.attr('axes') ? n.attrInts('axes') : undefined;
      return r0 !== undefined && axes ? r0 - axes.length : undefined;
    }
    case 'Concat': case 'Slice': case 'Transpose': case 'TensorScatter': case 'Attention': case 'Split': case 'Tile':
    case 'GatherElements': case 'ScatterND': case 'ScatterElements': case 'Pad': case 'Trilu': case 'CumSum':
      return r0;
    case 'Expand': {
      const shapeLen = inputs[1]?.shape?.[0] ?? initializerTensor(inputs[1])?.dims[0];
      return r0 !== undefined && typeof shapeLen === 'number' ? Math.max(r0, shapeLen) : undefined;
    }
    case 'Reshape': {
      const len = inputs[1]?.shape?.[0] ?? initializerTensor(inputs[1])?.dims[0];
      return typeof len === 'number' ? len : undefined;
    }
    case 'ConstantOfShape': {
      const len = inputs[0]?.shape?.[0] ?? initializerTensor(inputs[0])?.dims[0];
      return typeof len === 'number' ? len : undefined;
    }
    case 'MatMul': {
      const r1 = rankOf(inputs[1]);
      return r0 !== undefined && r1 !== undefined ? Math.max(r0, r1, 2) : undefined;
    }
    case 'Gather': {
      const ri = rankOf(inputs[1]);
      return r0 !== undefined && ri !== undefined ? r0 - 1 + ri : undefined;
    }
    case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceMin': case 'ReduceProd': case 'ReduceL1': case 'ReduceL2':
    case 'ReduceSumSquare': case 'ReduceLogSum': case 'ReduceLogSumExp':
      return n.attrInt('keepdims', 1) === 1 ? r0 : undefined;
    default:
      return undefined;
  }
}

/** Dimension `i` (negative counts from the end) of a value's declared shape, or null when unknown. */
export function dimOf(v: Value | null | undefined, i: number): Dim {
  const s = v?.shape;
  if (!s) return null;
  const k = i < 0 ? s.length + i : i;
  return s[k] ?? null;
}

/** Two dims provably equal: the same number, or the same symbolic name. */
export function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && b !== null && a === b;
}

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const SAME_AS_INPUT0 = new Set(['Unsqueeze', 'Squeeze', 'Reshape', 'Expand', 'Slice', 'Transpose', 'Concat', 'Identity', 'Tile', 'Gather', 'Flatten']);

/**
 * A value's element type: the declared one, else followed up through ops that keep their input's type
 * (Unsqueeze, Reshape, Slice, …), ops that make booleans (comparisons, And/Or/Not) and Cast. Iterative.
 */
export function elementType(v: Value | null | undefined): DataType | undefined {
  for (let cur = v, steps = 0; cur && steps < 1000; steps++) {
    if (cur.dtype !== undefined) return cur.dtype;
    const t = initializerTensor(cur);
    if (t) return t.dtype;
    const p = cur.producer;
    if (!p || p.domain !== '') return undefined;
    if (BOOL_OPS.has(p.op)) return DataType.BOOL;
    if (p.op === 'Cast') return p.attrInt('to') as DataType;
    if (p.op === 'Shape' || p.op === 'Size') return DataType.INT64;
    if (p.op === 'Where') cur = p.inputs[1];
    else if (SAME_AS_INPUT0.has(p.op)) cur = p.inputs[0];
    else return undefined;
  }
  return undefined;
}
