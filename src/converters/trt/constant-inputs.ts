import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { RawTensor } from '../../ir/tensor';
import { constantTensor, initializerTensor } from './analysis';

/** Ops whose input 1 TensorRT wants as a constant (axes, or CumSum's axis). */
const AXES_INPUT_OPS = new Set([
  'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum',
  'ReduceSumSquare', 'Squeeze', 'Unsqueeze', 'CumSum',
]);

/**
 * Axes computed from constants (a `Constant` node, or arithmetic on initializers) become initializers, which
 * is what the matrix asks of Reduce* ("must be an initializer") and Squeeze/Unsqueeze/CumSum ("resolvable to
 * a constant"). Axes that depend on graph inputs stay; the checker reports them. Returns whether it changed.
 */
export function axesToInitializers(model: Model, node: Node): boolean {
  if (node.domain !== '' || !AXES_INPUT_OPS.has(node.op)) return false;
  const axes = node.inputs[1];
  if (!axes || (axes.isInitializer && !axes.isGraphInput)) return false;
  // A Constant node's output is accepted by the parser for the "resolvable" rules, but not for Reduce*.
  if (initializerTensor(axes) && !node.op.startsWith('Reduce')) return false;
  const t = constantTensor(model, axes);
  const g = node.graph;
  if (!t || !g) return false;
  // A copy: the initializer takes its own name, and the tensor may belong to a Constant node.
  const copy = new RawTensor(t.dtype, t.dims, t.bytes().slice());
  const init = g.root.addInitializer(g.names.fresh(`${axes.name || 'axes'}_const`), copy);
  node.replaceInput(1, init);
  return true;
}
