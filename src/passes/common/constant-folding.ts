import { AttrType } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { StringTensor, Tensor, tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import type { Pass, PassContext, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { EvalError } from './eval/errors';
import { shapeRange, sliceRange } from './eval/shape-ops';
import { canEvaluate, DEFAULT_EVAL_OPSET, DEFAULT_MAX_ELEMENTS, evaluateNode, isUnloadedWeight } from './evaluator';

export interface ConstantFoldingOptions {
  /** Largest tensor (elements) folding may create (default 1e6); larger results stay computed at run time. */
  maxElements?: number;
}

export interface ConstantFoldingStats {
  /** Nodes replaced by initializers (all three kinds below). */
  folded: number;
  /** Constant nodes turned into initializers. */
  constants: number;
  /** Nodes folded because the static part of a shape was enough (Shape/Size of static shapes, Shape→Gather/Slice). */
  shapes: number;
}

/** Ops whose result is not a function of their inputs: never folded. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

/**
 * Constant folding. Replaces by initializers: Constant nodes; nodes (default domain, no subgraphs, not
 * random) whose inputs are all initializers and whose outputs fit the element budget; and shape arithmetic
 * whose needed dims are static in `value.type` (Shape/Size of static shapes, and Gather/Slice/Concat/
 * Squeeze/Unsqueeze chains over Shape that pick only static dims, e.g. `Shape(x)[-1]` with x: [1, seq, 64]).
 * Folded nodes are removed; their inputs may become dead and are left for DCE. Nodes producing graph
 * outputs are kept (an initializer cannot take a graph output's name without changing the interface).
 */
@loweringPass({
  name: 'constant_folding',
  description: 'Folds constant subexpressions and static shape arithmetic into initializers; Constant nodes become initializers',
  after: ['shape_inference'],
  before: ['dce'],
})
export class ConstantFolding implements Pass {
  readonly inPlace = true;
  constructor(private readonly options: ConstantFoldingOptions = {}) {}

  run(model: Model, ctx: PassContext): PassResult {
    const fromCtx = ctx.options.constantFoldingMaxElements;
    const maxElements = this.options.maxElements ?? (typeof fromCtx === 'number' ? fromCtx : undefined);
    const stats = foldConstants(model, { maxElements });
    if (stats.folded) ctx.log(`constant_folding: folded ${stats.folded} node(s) (${stats.constants} Constant, ${stats.shapes} shape)`);
    return {
      model,
      modified: stats.folded > 0,
      changes: stats.folded,
      counts: { folded_nodes: stats.folded, constant_nodes: stats.constants, shape_folds: stats.shapes },
    };
  }
}

/** Folds in place (main graph and subgraphs; function bodies are left alone). */
export function foldConstants(model: Model, options: ConstantFoldingOptions = {}): ConstantFoldingStats {
  const opset = model.opset('') ?? DEFAULT_EVAL_OPSET;
  const budget = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const stats: ConstantFoldingStats = { folded: 0, constants: 0, shapes: 0 };
  // Outer graphs come first, so a subgraph sees the initializers its outer graph gained.
  for (const graph of model.graph.allGraphs()) foldGraph(graph, opset, budget, stats);
  return stats;
}

/** A value whose content is fixed: an initializer that is not also an (overridable) graph input. */
function isConstant(v: Value): boolean {
  return v.constValue !== undefined && !v.isGraphInput;
}

/** Elements of a small int64 vector/scalar that are known (null = dynamic), with the tensor's dims. */
interface PartialInts {
  dims: number[];
  elems: (number | null)[];
}

function foldGraph(graph: Graph, opset: number, budget: number, stats: ConstantFoldingStats): void {
  const partial = new Map<Value, PartialInts>();
  // NodeList iteration survives removal of the node being visited.
  for (const node of graph.nodes) {
    if (node.domain !== '' || node.subgraphs().length || NONDETERMINISTIC.has(node.op)) continue;
    if (node.outputs.some((o) => o.isGraphOutput)) continue;
    if (node.op === 'Constant') {
      const t = constantTensor(node, opset, budget);
      if (t && replaceByInitializers(node, [t])) {
        stats.folded++;
        stats.constants++;
      }
      continue;
    }
    const inputs = node.inputs;
    if (inputs.length > 0 && inputs.every((v) => v === null || isConstant(v)) && canEvaluate(node) && !readsUnloadedWeights(inputs)) {
      const results = tryEvaluate(node, inputs.map((v) => v?.constValue), opset, budget);
      if (results && replaceByInitializers(node, results)) stats.folded++;
      continue;
    }
    const known = partialResult(node, partial);
    if (!known) continue;
    if (known.elems.every((e): e is number => e !== null)) {
      if (replaceByInitializers(node, [tensor.int64(known.dims, known.elems)])) {
        stats.folded++;
        stats.shapes++;
      }
    } else {
      partial.set(node.outputs[0], known);
    }
  }
}

/** Weights still on disk stay there: folding (e.g. Transpose of a tied head) would read and duplicate them. */
function readsUnloadedWeights(inputs: readonly (Value | null)[]): boolean {
  return inputs.some((v) => isUnloadedWeight(v?.constValue));
}

function tryEvaluate(node: Node, inputs: (Tensor | undefined)[], opset: number, budget: number): Tensor[] | undefined {
  try {
    return evaluateNode(node, inputs, opset, { maxElements: budget });
  } catch (e) {
    // Unsupported, over budget, or invalid at this point: leave the node for the runtime to compute.
    if (e instanceof EvalError) return undefined;
    throw e;
  }
}

/** The tensor of a Constant node: `value` as is (no copy), strings directly, other forms via the evaluator. */
function constantTensor(node: Node, opset: number, budget: number): Tensor | undefined {
  const value = node.attr('value');
  if (value?.data.type === AttrType.TENSOR) return value.data.value;
  const s = node.attr('value_string');
  if (s?.data.type === AttrType.STRING) return new StringTensor([], [new TextEncoder().encode(s.data.value)]);
  const ss = node.attr('value_strings');
  if (ss?.data.type === AttrType.STRINGS) return new StringTensor([ss.data.value.length], ss.data.value.map((x) => new TextEncoder().encode(x)));
  return tryEvaluate(node, [], opset, budget)?.[0];
}

/**
 * Replaces each output by an initializer of the same name and removes the node. The output's name is
 * released first so the initializer can take it: consumers and diffs keep seeing the same name.
 */
function replaceByInitializers(node: Node, tensors: readonly Tensor[]): boolean {
  const graph = node.graph as Graph;
  if (node.outputs.some((o) => o.isGraphOutput)) return false;
  node.outputs.forEach((out, i) => {
    if (out.isOmitted || !out.hasUses()) return;
    const name = out.name;
    graph.names.release(out);
    const init = graph.addInitializer(name, tensors[i]);
    out.replaceAllUsesWith(init);
  });
  graph.remove(node);
  return true;
}

/** Static dims of a value's declared shape (null for symbolic/unknown); undefined when the rank is unknown. */
function staticDims(v: Value): (number | null)[] | undefined {
  const shape = v.shape;
  return shape?.map((d) => (typeof d === 'number' ? d : null));
}

/** Elements of a constant int tensor of rank ≤ 1, or a tracked partial shape value. */
function partialOf(v: Value | null, partial: Map<Value, PartialInts>): PartialInts | undefined {
  if (!v) return undefined;
  const p = partial.get(v);
  if (p) return p;
  const t = isConstant(v) ? v.constValue : undefined;
  if (!t || t.dims.length > 1 || (t.dtype !== DataType.INT64 && t.dtype !== DataType.INT32) || t.numElements > 64) return undefined;
  return { dims: [...t.dims], elems: t.toNumbers() };
}

function constInts(v: Value | null): number[] | undefined {
  if (!v || !isConstant(v)) return undefined;
  const t = v.constValue as Tensor;
  return t.dtype === DataType.INT64 || t.dtype === DataType.INT32 ? t.toNumbers() : undefined;
}

/**
 * The (possibly partly known) int64 result of shape arithmetic: Shape and Size of values with a known rank,
 * and Gather/Slice/Concat/Squeeze/Unsqueeze of such results with constant indices.
 */
function partialResult(node: Node, partial: Map<Value, PartialInts>): PartialInts | undefined {
  const x = node.inputs[0];
  if (!x) return undefined;
  switch (node.op) {
    case 'Shape': {
      const dims = staticDims(x);
      if (!dims) return undefined;
      const [s, e] = shapeRange(dims.length, optionalInt(node, 'start'), optionalInt(node, 'end'));
      const elems = dims.slice(s, Math.max(s, e));
      return { dims: [elems.length], elems };
    }
    case 'Size': {
      const dims = staticDims(x);
      if (!dims || dims.some((d) => d === null)) return undefined;
      return { dims: [], elems: [(dims as number[]).reduce((p, d) => p * d, 1)] };
    }
    case 'Gather': {
      const data = partialOf(x, partial);
      const idx = node.inputs[1];
      const indices = idx && isConstant(idx) ? idx.constValue : undefined;
      if (!data || data.dims.length !== 1 || !indices || node.attrInt('axis', 0) !== 0) return undefined;
      const n = data.elems.length;
      const picked: (number | null)[] = [];
      for (const raw of indices.toNumbers()) {
        const i = raw < 0 ? raw + n : raw;
        if (!(i >= 0 && i < n)) return undefined;
        picked.push(data.elems[i]);
      }
      return { dims: [...indices.dims], elems: picked };
    }
    case 'Slice': {
      const data = partialOf(x, partial);
      const starts = constInts(node.inputs[1]);
      const ends = constInts(node.inputs[2]);
      const axes = node.inputs[3] ? constInts(node.inputs[3]) : [0];
      const steps = node.inputs[4] ? constInts(node.inputs[4]) : [1];
      if (!data || data.dims.length !== 1 || !starts || !ends || !axes || !steps || starts.length !== 1) return undefined;
      if (axes[0] !== 0 && axes[0] !== -1) return undefined;
      if (steps[0] === 0) return undefined;
      const r = sliceRange(data.elems.length, starts[0], ends[0], steps[0]);
      const elems = Array.from({ length: r.count }, (_, i) => data.elems[r.start + i * r.step]);
      return { dims: [elems.length], elems };
    }
    case 'Concat': {
      const parts = node.inputs.map((v) => partialOf(v, partial));
      if (parts.some((p) => !p || p.dims.length !== 1)) return undefined;
      const elems = (parts as PartialInts[]).flatMap((p) => p.elems);
      return { dims: [elems.length], elems };
    }
    case 'Squeeze':
    case 'Unsqueeze': {
      const data = partialOf(x, partial);
      // Only the [1] → scalar and scalar → [1] cases shape code uses; their axes can only be 0.
      if (!data || data.elems.length !== 1 || data.dims.length !== (node.op === 'Squeeze' ? 1 : 0)) return undefined;
      return { dims: node.op === 'Squeeze' ? [] : [1], elems: data.elems };
    }
    default:
      return undefined;
  }
}

function optionalInt(node: Node, name: string): number | undefined {
  return node.attr(name) ? node.attrInt(name) : undefined;
}
