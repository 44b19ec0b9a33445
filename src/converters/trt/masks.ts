import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Node } from '../../ir/node';
import type { Dim } from '../../ir/type';
import type { Value } from '../../ir/value';
import { dimOf } from './analysis';
import { floatScalar, int64s, int64Scalar, ruleTags, typed } from './build';

/**
 * Masks shared by every attention of a graph: the explicit causal mask (one per pair of query/key lengths)
 * and the additive bias made from a boolean mask (one per mask and float type). Each is built once, before
 * the first node that needs it (nodes are visited in graph order), so later layers reuse it.
 */
export class SharedMasks {
  private readonly causal = new Map<string, Value>();
  private readonly biases = new Map<Value, Map<DataType, Value>>();

  constructor(readonly graph: Graph) {}

  /**
   * Boolean `[1, 1, S, T]` mask with `mask[i, j] = j <= i` (top-left aligned: ONNX `is_causal` without past
   * inputs), S and T read from the 4-D query and key at run time (Shape → Range → LessOrEqual). Shared
   * between nodes whose query and key lengths are the same known dims.
   */
  causalMask(before: Node, q: Value, k: Value): Value {
    const s = dimOf(q, 2);
    const t = dimOf(k, 2);
    const key = s !== null && t !== null ? `${typeof s}:${s}|${typeof t}:${t}` : undefined;
    const known = key ? this.causal.get(key) : undefined;
    if (known) return known;
    const mask = buildCausalMask(new Builder(this.graph, before, ruleTags('causal_mask')), q, k, s, t);
    if (key) this.causal.set(key, mask);
    return mask;
  }

  /** `Where(mask, 0, -inf)` in `dtype`: the additive form of a boolean mask (true = attend). */
  biasOf(before: Node, mask: Value, dtype: DataType): Value {
    let byType = this.biases.get(mask);
    if (!byType) this.biases.set(mask, (byType = new Map()));
    const known = byType.get(dtype);
    if (known) return known;
    const b = new Builder(this.graph, before, ruleTags('mask_bias'));
    const zero = floatScalar(b, 'mask_zero', dtype, 0);
    const ninf = floatScalar(b, 'mask_neg_inf', dtype, -Infinity);
    const bias = typed(b.op('Where', [mask, zero, ninf]), dtype, mask.shape);
    bias.name = this.graph.names.fresh(`${mask.name}_bias`);
    byType.set(dtype, bias);
    return bias;
  }
}

function buildCausalMask(b: Builder, q: Value, k: Value, s: Dim, t: Dim): Value {
  const lengthOf = (v: Value): Value => {
    const len = typed(b.op('Shape', [v], { start: 2, end: 3 }), DataType.INT64, [1]);
    return typed(b.op('Squeeze', [len, int64s(b, 'causal_axes0', [0])]), DataType.INT64, []);
  };
  const zero = int64Scalar(b, 'causal_zero', 0);
  const one = int64Scalar(b, 'causal_one', 1);
  const rows = typed(b.op('Range', [zero, lengthOf(q), one]), DataType.INT64, [s]);
  const cols = typed(b.op('Range', [zero, lengthOf(k), one]), DataType.INT64, [t]);
  const rows2 = typed(b.op('Unsqueeze', [rows, int64s(b, 'causal_axes1', [1])]), DataType.INT64, [s, 1]);
  const cols2 = typed(b.op('Unsqueeze', [cols, int64s(b, 'causal_axes0', [0])]), DataType.INT64, [1, t]);
  const allowed = typed(b.op('LessOrEqual', [cols2, rows2]), DataType.BOOL, [s, t]);
  const mask = typed(b.op('Unsqueeze', [allowed, int64s(b, 'causal_axes01', [0, 1])]), DataType.BOOL, [1, 1, s, t]);
  mask.name = b.graph.names.fresh('trt_causal_mask');
  return mask;
}
