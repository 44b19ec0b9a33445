import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { dimOf } from './analysis';
import { int64s, replaceNode, ruleTags, TrtLegalizeError, typed } from './build';

const INT64_MAX = 9223372036854775807n;

/**
 * RotaryEmbedding (opset 23) → primitives, following the ONNX reference:
 * X is `[B, H, S, D]` (4-D) or `[B, S, H·D]` (3-D, `num_heads` given); cos/sin are `[B, S, R/2]`, or
 * `[max_pos, R/2]` gathered with position_ids; R = rotary_embedding_dim (0 = D). With x1, x2 the two halves
 * of the rotated part (or its even/odd elements when `interleaved`): `real = cos·x1 − sin·x2`,
 * `imag = sin·x1 + cos·x2`, written back in the same layout; elements past R pass through. Returns the new
 * output.
 */
export function decomposeRotaryEmbedding(n: Node): Value {
  const g = n.graph;
  const x = n.inputs[0];
  const cosCache = n.inputs[1];
  const sinCache = n.inputs[2];
  const positions = n.inputs[3] ?? null;
  if (!g || !x || !cosCache || !sinCache) throw new TrtLegalizeError('TRT_ROPE', `RotaryEmbedding ${n.describe()} needs X, cos_cache and sin_cache`, n.name);
  const rank = x.shape?.length;
  if (rank !== 3 && rank !== 4) throw new TrtLegalizeError('TRT_ROPE', `RotaryEmbedding ${n.describe()}: X '${x.name}' must have a known rank of 3 or 4`, n.name);
  const b = new Builder(g, n, ruleTags('rotary_decompose'));
  const dtype = x.dtype;
  const interleaved = n.attrInt('interleaved', 0) === 1;
  const rotaryDimAttr = n.attrInt('rotary_embedding_dim', 0);

  // Work on 4-D [B, S, H, D] for 3-D input (heads after the sequence), on [B, H, S, D] for 4-D input.
  let x4 = x;
  if (rank === 3) {
    const heads = n.attrInt('num_heads', 0);
    if (heads <= 0) throw new TrtLegalizeError('TRT_ROPE', `RotaryEmbedding ${n.describe()}: 3-D input needs num_heads`, n.name);
    x4 = b.op('Reshape', [x, int64s(b, 'rope_heads_shape', [0, 0, heads, -1])]);
  }
  const headDim = rank === 4 ? dimOf(x, 3) : null;
  const rotaryDim = rotaryDimAttr > 0 ? rotaryDimAttr : headDim;

  const gather = (cache: Value): Value => (positions ? b.op('Gather', [cache, positions], { axis: 0 }) : cache);
  let cos = gather(cosCache);
  let sin = gather(sinCache);
  if (rotaryDimAttr > 0) {
    // Partial rotation: the caches may hold more than R/2 frequencies.
    const ends = int64s(b, 'rope_half_end', [rotaryDimAttr / 2]);
    const zero = int64s(b, 'rope_zero', [0]);
    const last = int64s(b, 'rope_last_axis', [-1]);
    cos = b.op('Slice', [cos, zero, ends, last]);
    sin = b.op('Slice', [sin, zero, ends, last]);
  }
  // [B, S, R/2] → broadcastable against the heads axis: [B, 1, S, R/2] (4-D) or [B, S, 1, R/2] (3-D).
  const headAxis = int64s(b, 'rope_head_axis', [rank === 4 ? 1 : 2]);
  cos = b.op('Unsqueeze', [cos, headAxis]);
  sin = b.op('Unsqueeze', [sin, headAxis]);

  const last = int64s(b, 'rope_axis_last', [-1]);
  const slice = (v: Value, from: number | bigint, to: number | bigint, step?: number): Value => {
    const inputs = [v, int64s(b, 'rope_start', [from]), int64s(b, 'rope_end', [to]), last];
    if (step !== undefined) inputs.push(int64s(b, 'rope_step', [step]));
    return b.op('Slice', inputs);
  };
  const partial = rotaryDimAttr > 0 && rotaryDim !== headDim;
  if (partial && rotaryDimAttr % 2 !== 0) throw new TrtLegalizeError('TRT_ROPE', `RotaryEmbedding ${n.describe()} has an odd rotary_embedding_dim ${rotaryDimAttr}`, n.name);
  const rotated = partial ? slice(x4, 0, rotaryDimAttr) : x4;
  const passThrough = partial ? slice(x4, rotaryDimAttr, INT64_MAX) : null;

  let x1: Value;
  let x2: Value;
  if (interleaved) {
    x1 = slice(rotated, 0, INT64_MAX, 2);
    x2 = slice(rotated, 1, INT64_MAX, 2);
  } else {
    const [a, c] = b.node('Split', [rotated], { axis: -1, num_outputs: 2 }, { outputs: 2 }).outputs;
    x1 = a;
    x2 = c;
  }
  const real = b.op('Sub', [b.op('Mul', [cos, x1]), b.op('Mul', [sin, x2])]);
  const imag = b.op('Add', [b.op('Mul', [sin, x1]), b.op('Mul', [cos, x2])]);
  let out: Value;
  if (interleaved) {
    const axisLast = int64s(b, 'rope_axis_new', [-1]);
    const pairs = b.op('Concat', [b.op('Unsqueeze', [real, axisLast]), b.op('Unsqueeze', [imag, axisLast])], { axis: -1 });
    out = b.op('Reshape', [pairs, int64s(b, 'rope_pairs_shape', [0, 0, 0, -1])]);
  } else {
    out = b.op('Concat', [real, imag], { axis: -1 });
  }
  if (passThrough) out = b.op('Concat', [out, passThrough], { axis: -1 });
  if (rank === 3) out = b.op('Reshape', [out, int64s(b, 'rope_merge_shape', [0, 0, -1])]);
  typed(out, dtype ?? DataType.FLOAT, n.outputs[0].shape ?? x.shape);
  replaceNode(g, n, n.outputs[0], out);
  return out;
}
