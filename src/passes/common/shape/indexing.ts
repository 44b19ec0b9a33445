import type { Dim } from '../../../ir/type';
import { staticValue } from '../symbolic-dim';
import { axisOf, RuleTable, ShapeRule, ShapeValue, unifyDims } from './rule';

/** Gathers and scatters: Gather, GatherElements, GatherND, ScatterND, ScatterElements, TensorScatter, Trilu. */

const gatherRule: ShapeRule = (ctx) => {
  const data = ctx.shape(0);
  const indices = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!data || !indices) return [{ dtype }];
  const axis = axisOf(ctx, ctx.node.attrInt('axis', 0), data.length);
  const shape = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  // Picking elements of a shape value with constant indices (e.g. Shape(x)[1]) keeps them symbolic.
  let value: ShapeValue | undefined;
  const v = ctx.value(0);
  const idx = ctx.ints(1);
  if (v && v.dims.length === 1 && idx && axis === 0 && indices.length <= 1) {
    const n = v.elems.length;
    const elems: Dim[] = [];
    for (const raw of idx) {
      const i = raw < 0 ? raw + n : raw;
      if (!(i >= 0 && i < n)) ctx.fail(`index ${raw} is out of range for ${n} elements`);
      elems.push(v.elems[i]);
    }
    value = { dims: indices.length === 0 ? [] : [elems.length], elems };
  }
  return [{ dtype, shape, value }];
};

const gatherElementsRule: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(1) }];

/** GatherND: indices[:-1] + data[batch_dims + k:], where k = indices.shape[-1] must be static. */
const gatherNDRule: ShapeRule = (ctx) => {
  const data = ctx.shape(0);
  const indices = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!data || !indices || indices.length === 0) return [{ dtype }];
  const b = ctx.node.attrInt('batch_dims', 0);
  const k = staticValue(indices[indices.length - 1]);
  if (k === undefined) return [{ dtype }];
  if (b + k > data.length) ctx.fail(`index tuples of length ${k} with ${b} batch dims exceed data rank ${data.length}`);
  const batch = indices.slice(0, b).map((d, i) => unifyDims(ctx, d, data[i], `batch dimension ${i} differs`));
  return [{ dtype, shape: [...batch, ...indices.slice(b, -1), ...data.slice(b + k)] }];
};

/** Scatters and in-place updates return a tensor shaped like their first input. */
const likeFirst: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];

export const indexingRules: RuleTable = {
  Gather: gatherRule,
  GatherElements: gatherElementsRule,
  GatherND: gatherNDRule,
  ScatterND: likeFirst,
  ScatterElements: likeFirst,
  TensorScatter: likeFirst,
  Trilu: likeFirst,
};
