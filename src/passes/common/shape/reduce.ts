import { DataType } from '../../../ir/dtype';
import type { Dim } from '../../../ir/type';
import { axisOf, RuleTable, ShapeRule } from './rule';

/** Reductions and normalisations: Reduce*, ArgMax/ArgMin, CumSum, Softmax, LayerNormalization, RMSNormalization. */

const REDUCE_OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

const reduceRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const dtype = ctx.dtype(0);
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  if (!shape) return [{ dtype }];
  const axes = ctx.intsFromInputOrAttr(1, 'axes');
  if (!axes) {
    // Dynamic axes: with keepdims the rank survives, nothing else is known.
    if (ctx.has(1)) return [{ dtype, shape: keep ? shape.map(() => null) : undefined }];
  }
  let reduced: number[];
  if (!axes || axes.length === 0) {
    if (ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return [{ dtype, shape }];
    reduced = shape.map((_, i) => i);
  } else {
    reduced = axes.map((a) => axisOf(ctx, a, shape.length));
  }
  const out: Dim[] = keep ? shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : shape.filter((_, i) => !reduced.includes(i));
  return [{ dtype, shape: out }];
};

const argRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  if (!shape) return [{ dtype: DataType.INT64 }];
  const axis = axisOf(ctx, ctx.node.attrInt('axis', 0), shape.length);
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  return [{ dtype: DataType.INT64, shape: keep ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis) }];
};

const same: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];

/** LayerNormalization: Y like X; Mean and InvStdDev keep the leading dims and are 1 from `axis` on. */
const layerNormRule: ShapeRule = (ctx) => {
  const shape = ctx.shape(0);
  const stash = ctx.node.attrInt('stash_type', DataType.FLOAT) as DataType;
  if (!shape) return [{ dtype: ctx.dtype(0) }, { dtype: stash }, { dtype: stash }];
  const axis = axisOf(ctx, ctx.node.attrInt('axis', -1), shape.length);
  const stats = shape.map((d, i) => (i < axis ? d : 1));
  return [{ dtype: ctx.dtype(0), shape }, { dtype: stash, shape: stats }, { dtype: stash, shape: stats }];
};

export const reduceRules: RuleTable = {
  ...Object.fromEntries(REDUCE_OPS.map((op) => [op, reduceRule])),
  ArgMax: argRule,
  ArgMin: argRule,
  CumSum: same,
  Softmax: same,
  LogSoftmax: same,
  Hardmax: same,
  LayerNormalization: layerNormRule,
  RMSNormalization: same,
};
