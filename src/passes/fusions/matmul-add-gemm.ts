import { RuleSetPass } from '../rule-set-pass';
import { dataTypeName } from '../../ir/dtype';
import type { Value } from '../../ir/value';
import { patternOps, v } from '../pattern/builder';
import { defineRule, Failure, failure, Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { FLOAT_TYPES, rankOf, staticDims } from './util';

const op = patternOps();

/** Whether `c` broadcasts one-way to [m, n] (Gemm's C): dims from the right are equal or 1. */
function broadcastsTo(c: readonly number[], m: number | undefined, n: number | undefined): boolean {
  if (c.length > 2) return false;
  const target = [m, n].slice(2 - c.length);
  return c.every((d, i) => d === 1 || (target[i] !== undefined && d === target[i]));
}

function gemmCheck(a: Value, b: Value, c: Value): true | Failure {
  const ra = rankOf(a);
  const rb = rankOf(b);
  if (ra !== 2) return failure(`A '${a.name}' has rank ${ra ?? 'unknown'}; Gemm is 2D and reshaping would add nodes (MatMul kept)`, a);
  if (rb !== 2) return failure(`B '${b.name}' has rank ${rb ?? 'unknown'}, not 2`, b);
  for (const t of [a, b, c]) {
    if (t.dtype === undefined || !FLOAT_TYPES.has(t.dtype)) return failure(`'${t.name}' is ${t.dtype === undefined ? 'of unknown type' : dataTypeName(t.dtype)}; Gemm is fused for float types only`, t);
  }
  const cDims = staticDims(c);
  if (!cDims) return failure(`the shape of bias '${c.name}' is not known`, c);
  const m = a.shape?.[0];
  const n = staticDims(b)?.[1] ?? b.shape?.[1];
  if (!broadcastsTo(cDims, typeof m === 'number' ? m : undefined, typeof n === 'number' ? n : undefined)) {
    return failure(`bias '${c.name}' [${cDims.join(', ')}] does not broadcast one-way to [M, N]`, c);
  }
  return true;
}

/** MatMul(A, B) + C with 2D A and B → Gemm(A, B, C) (the bias rides in the GEMM epilogue). */
export const matmulAddGemmRule: Rule<object> = defineRule({
  name: 'matmul_add_gemm',
  description: 'Add(MatMul(A, B), C), A and B 2D, C broadcastable to [M, N] → Gemm(A, B, C)',
  pattern: op.Add(op.MatMul(v('a'), v('b')), v('c')),
  check: (bindings) => gemmCheck(bindings.a, bindings.b, bindings.c),
  rewrite(b, bindings, ctx) {
    const y = b.op('Gemm', [bindings.a, bindings.b, bindings.c]);
    y.type = ctx.outputs[0].type;
    return y;
  },
});

/**
 * `MatMul + Add → Gemm` only where it is free: 2D operands (TensorRT and cuBLASLt take the bias in the GEMM
 * epilogue). The rank-3 projections of LLM exports keep MatMul + Add: Gemm would need Reshapes around it.
 */
@loweringPass({
  name: 'matmul_add_gemm',
  description: 'Add(MatMul(A, B), C) with 2D A, B → Gemm (rank-3 activations keep MatMul)',
  after: ['sdpa_canonicalize'],
})
export class MatmulAddGemm extends RuleSetPass {
  readonly rules: readonly Rule<object>[] = [matmulAddGemmRule];
}
