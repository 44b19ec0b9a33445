import type { Dim } from '../../../ir/type';
import { broadcastShapes, RuleTable, ShapeRule, unifyDims } from './rule';

/** Matrix products: MatMul (numpy semantics, broadcast batches) and Gemm (2-D, optional transposes). */

const matMulRule: ShapeRule = (ctx) => {
  const a0 = ctx.shape(0);
  const b0 = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!a0 || !b0) return [{ dtype }];
  if (a0.length === 0 || b0.length === 0) ctx.fail('MatMul does not take scalars');
  const a = a0.length === 1 ? [1, a0[0]] : a0;
  const b = b0.length === 1 ? [b0[0], 1] : b0;
  unifyDims(ctx, a[a.length - 1], b[b.length - 2], 'inner dimensions differ');
  const batch = broadcastShapes(ctx, [a.slice(0, -2), b.slice(0, -2)]) as Dim[];
  const out: Dim[] = [...batch];
  if (a0.length !== 1) out.push(a[a.length - 2]);
  if (b0.length !== 1) out.push(b[b.length - 1]);
  return [{ dtype, shape: out }];
};

const gemmRule: ShapeRule = (ctx) => {
  const a = ctx.shape(0);
  const b = ctx.shape(1);
  const dtype = ctx.dtype(0);
  if (!a || !b) return [{ dtype }];
  if (a.length !== 2 || b.length !== 2) ctx.fail('Gemm takes 2-D A and B');
  const [m, ka] = ctx.node.attrInt('transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = ctx.node.attrInt('transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  unifyDims(ctx, ka, kb, 'inner dimensions differ');
  return [{ dtype, shape: [m, n] }];
};

export const linalgRules: RuleTable = { MatMul: matMulRule, Gemm: gemmRule };
