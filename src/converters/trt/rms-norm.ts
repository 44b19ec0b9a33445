import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { floatScalar, int64s, replaceNode, ruleTags, TrtLegalizeError, typed } from './build';

/**
 * RMSNormalization (opset 23) → primitives, following the op's ONNX function body:
 * `XU = Cast(X, stash_type); Y = Cast(XU / Sqrt(ReduceMean(XU·XU, axes) + epsilon), T) · scale`, reducing over
 * `axis … rank-1` with the axes as an initializer (TensorRT's Reduce rule). Returns the new output.
 */
export function decomposeRmsNorm(n: Node): Value {
  const g = n.graph;
  const x = n.inputs[0];
  const scale = n.inputs[1];
  if (!g || !x || !scale) throw new TrtLegalizeError('TRT_RMSNORM', `RMSNormalization ${n.describe()} needs X and scale`, n.name);
  const rank = x.shape?.length;
  if (rank === undefined) throw new TrtLegalizeError('TRT_RMSNORM', `RMSNormalization ${n.describe()}: the rank of X '${x.name}' is unknown, so the reduction axes are too`, n.name);
  const axisAttr = n.attrInt('axis', -1);
  const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
  if (axis < 0 || axis >= rank) throw new TrtLegalizeError('TRT_RMSNORM', `RMSNormalization ${n.describe()} has axis ${axisAttr} for a ${rank}-D input`, n.name);
  const epsilon = n.attrFloat('epsilon', 1e-5);
  const t = x.dtype ?? DataType.FLOAT;
  const stash = n.attrInt('stash_type', DataType.FLOAT) as DataType;
  const b = new Builder(g, n, ruleTags('rms_norm_decompose'));
  const xu = stash !== t ? typed(b.op('Cast', [x], { to: stash }), stash, x.shape) : x;
  const axes = int64s(b, 'rms_axes', Array.from({ length: rank - axis }, (_, i) => axis + i));
  const meanShape = x.shape?.map((d, i) => (i >= axis ? 1 : d));
  const sq = typed(b.op('Mul', [xu, xu]), stash, x.shape);
  const mean = typed(b.op('ReduceMean', [sq, axes], { keepdims: 1 }), stash, meanShape);
  const rms = typed(b.op('Sqrt', [b.op('Add', [mean, floatScalar(b, 'rms_epsilon', stash, epsilon)])]), stash, meanShape);
  let normalized = typed(b.op('Div', [xu, rms]), stash, x.shape);
  if (stash !== t) normalized = typed(b.op('Cast', [normalized], { to: t }), t, x.shape);
  const y = typed(b.op('Mul', [normalized, scale]), t, n.outputs[0].shape ?? x.shape);
  replaceNode(g, n, n.outputs[0], y);
  return y;
}
