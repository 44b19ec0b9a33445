import type { DataType } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import { castKernels } from './eval/cast';
import { constantKernels } from './eval/constant';
import { elementwiseKernels } from './eval/elementwise';
import { EvalError } from './eval/errors';
import { indexingKernels } from './eval/indexing';
import type { Kernel, KernelContext } from './eval/kernel';
import { matMulKernels } from './eval/matmul';
import { NdArray } from './eval/ndarray';
import { reduceKernels } from './eval/reduce';
import { shapeKernels } from './eval/shape-ops';

export { EvalError } from './eval/errors';

/**
 * Reference evaluator for the ai.onnx ops that shape computations and constant subgraphs of LLM exports use.
 * It favours exactness over speed: int64 stays exact (bigint storage), float32 results are rounded to float32
 * after each op, and every allocation is checked against an element budget so folding never blows up memory.
 */

/** Default element budget: constant folding refuses to materialise anything larger. */
export const DEFAULT_MAX_ELEMENTS = 1_000_000;

/** Opset assumed by `evaluateSubgraph` when the caller does not say. */
export const DEFAULT_EVAL_OPSET = 23;

export interface EvaluatorOptions {
  /** Largest tensor (in elements) any op may produce (default DEFAULT_MAX_ELEMENTS). */
  maxElements?: number;
}

export interface SubgraphEvaluatorOptions extends EvaluatorOptions {
  /** ai.onnx opset of the graph's model (default DEFAULT_EVAL_OPSET). */
  opset?: number;
}

const KERNELS: ReadonlyMap<string, Kernel> = new Map(Object.entries({
  ...elementwiseKernels,
  ...castKernels,
  ...constantKernels,
  ...shapeKernels,
  ...indexingKernels,
  ...reduceKernels,
  ...matMulKernels,
}));

/**
 * A tensor still in its external data file and larger than a constant: passes must not evaluate it (reading it
 * would decode weights; folding it would duplicate them in memory).
 */
export function isUnloadedWeight(t: Tensor | undefined): boolean {
  return t !== undefined && t.isExternal && t.byteLength > 4096;
}

/** The ai.onnx op types the evaluator implements, sorted. */
export function evaluatorOps(): string[] {
  return [...KERNELS.keys()].sort();
}

/** Whether the evaluator has a kernel for this node (default domain, no subgraphs). */
export function canEvaluate(node: Node): boolean {
  return node.domain === '' && KERNELS.has(node.op) && node.subgraphs().length === 0;
}

/**
 * Computes a node's outputs from input tensors (undefined for omitted optional inputs). Returns one
 * tensor per node output. Throws EvalError: EVAL_UNSUPPORTED naming the op, EVAL_BUDGET, EVAL_INVALID.
 */
export function evaluateNode(node: Node, inputs: readonly (Tensor | undefined)[], opset: number, options: EvaluatorOptions = {}): Tensor[] {
  const arrays = inputs.map((t) => (t ? NdArray.fromTensor(t, node.name) : undefined));
  return runKernel(node, arrays, opset, options.maxElements ?? DEFAULT_MAX_ELEMENTS).map((a, i) => a.toTensor(node.outputs[i]?.name ?? ''));
}

/**
 * Evaluates what `targets` need, in dependency order (iteratively, so long chains are fine). Initializers
 * supply their tensors; `feeds` supply graph inputs (and override initializer defaults). Returns the
 * targets' tensors.
 */
export function evaluateSubgraph(
  graph: Graph,
  feeds: ReadonlyMap<Value, Tensor>,
  targets: readonly Value[],
  options: SubgraphEvaluatorOptions = {},
): Map<Value, Tensor> {
  const opset = options.opset ?? DEFAULT_EVAL_OPSET;
  const budget = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const known = new Map<Value, NdArray>();
  const lookup = (v: Value): NdArray | undefined => {
    let a = known.get(v);
    if (a) return a;
    const fed = feeds.get(v);
    if (fed) a = NdArray.fromTensor(fed, v.name);
    else if (v.constValue) a = NdArray.fromTensor(v.constValue, v.name);
    if (a) known.set(v, a);
    return a;
  };

  for (const node of scheduleFor(graph, targets, (v) => lookup(v) !== undefined)) {
    const inputs = node.inputs.map((v) => (v ? lookup(v) : undefined));
    const outputs = runKernel(node, inputs, opset, budget);
    node.outputs.forEach((o, i) => {
      if (outputs[i]) known.set(o, outputs[i]);
    });
  }
  const result = new Map<Value, Tensor>();
  for (const t of targets) {
    const a = lookup(t);
    if (!a) throw new EvalError('EVAL_MISSING', `value '${t.name}' could not be computed`, t.name);
    result.set(t, a.toTensor(t.name));
  }
  return result;
}

/**
 * Nodes needed for `targets`, producers before consumers (iterative post-order DFS). Values for which
 * `available` holds stop the walk; a graph input with nothing to feed it is an EVAL_MISSING error.
 */
function scheduleFor(graph: Graph, targets: readonly Value[], available: (v: Value) => boolean): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 'open' | 'done'>();
  const stack: { node: Node; next: number }[] = [];
  const want = (v: Value | null): Node | undefined => {
    if (!v || available(v)) return undefined;
    const p = v.producer;
    if (!p) {
      throw new EvalError('EVAL_MISSING', `graph '${graph.name}': value '${v.name}' is a graph input with no feed`, v.name);
    }
    return p;
  };
  for (const t of targets) {
    const root = want(t);
    if (!root || state.has(root)) continue;
    state.set(root, 'open');
    stack.push({ node: root, next: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) {
        const dep = want(top.node.inputs[top.next++]);
        if (!dep) continue;
        const s = state.get(dep);
        if (s === 'open') throw new EvalError('EVAL_INVALID', `cycle through node ${dep.describe()}`, dep.name);
        if (s === 'done') continue;
        state.set(dep, 'open');
        stack.push({ node: dep, next: 0 });
      } else {
        stack.pop();
        state.set(top.node, 'done');
        order.push(top.node);
      }
    }
  }
  return order;
}

function runKernel(node: Node, inputs: readonly (NdArray | undefined)[], opset: number, budget: number): NdArray[] {
  const kernel = node.domain === '' ? KERNELS.get(node.op) : undefined;
  if (!kernel || node.subgraphs().length) {
    throw new EvalError('EVAL_UNSUPPORTED', `the evaluator does not implement op ${node.qualifiedOp} (node ${node.describe()})`, node.name);
  }
  const ctx: KernelContext = {
    node,
    opset,
    budget,
    inputCount: inputs.length,
    input(i: number): NdArray {
      const a = inputs[i];
      if (!a) throw new EvalError('EVAL_MISSING', `node ${node.describe()} has no input ${i}`, node.name);
      return a;
    },
    optional: (i: number) => inputs[i],
    alloc: (dtype: DataType, dims: readonly number[]) => NdArray.alloc(dtype, dims, budget, node.name),
    fail(message: string): never {
      throw new EvalError('EVAL_INVALID', `node ${node.describe()}: ${message}`, node.name);
    },
  };
  const outputs = kernel(ctx);
  for (const a of outputs) {
    if (a.size > budget) throw new EvalError('EVAL_BUDGET', `node ${node.describe()} would produce ${a.size} elements (budget ${budget})`, node.name);
    a.roundToDtype();
  }
  node.outputs.forEach((o, i) => {
    if (!o.isOmitted && !outputs[i]) throw new EvalError('EVAL_UNSUPPORTED', `node ${node.describe()}: output ${i} is not computed by the evaluator`, node.name);
  });
  return outputs;
}
