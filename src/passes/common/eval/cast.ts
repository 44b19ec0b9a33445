import { DataType, dataTypeName, isFloatType } from '../../../ir/dtype';
import type { Kernel, KernelContext, KernelTable } from './kernel';
import { BigArray, NdArray, NumberArray, toBigInt } from './ndarray';

/**
 * Cast and CastLike between the numeric types and BOOL. Float → integer truncates toward zero (C casts);
 * anything non-zero (NaN included) → true; int64 → float rounds to nearest. float16/bfloat16 results are
 * rounded by the evaluator after the kernel, as for every op.
 */
export function castArray(ctx: KernelContext, x: NdArray, to: DataType): NdArray {
  const out = ctx.alloc(to, x.dims);
  const n = x.size;
  if (to === DataType.BOOL) {
    const o = out.num;
    const src = x.data;
    for (let i = 0; i < n; i++) o[i] = src[i] ? 1 : 0;
    // NaN is truthy for Cast (non-zero), but falsy in JS.
    if (isFloatType(x.dtype)) for (let i = 0; i < n; i++) if (Number.isNaN(src[i] as number)) o[i] = 1;
    return out;
  }
  if (out.isBig) {
    const o = out.big as BigArray;
    if (x.isBig) {
      const src = x.big;
      for (let i = 0; i < n; i++) o[i] = to === DataType.UINT64 ? BigInt.asUintN(64, src[i]) : BigInt.asIntN(64, src[i]);
    } else {
      const src = x.num;
      for (let i = 0; i < n; i++) o[i] = toBigInt(src[i], to);
    }
    return out;
  }
  const o = out.num as NumberArray;
  const truncate = !isFloatType(to);
  if (x.isBig) {
    const src = x.big;
    // Wrap in the integer domain first so e.g. int64 → int32 keeps the low bits exactly.
    if (truncate) for (let i = 0; i < n; i++) o[i] = Number(BigInt.asIntN(32, src[i]));
    else for (let i = 0; i < n; i++) o[i] = Number(src[i]);
  } else {
    const src = x.num;
    if (truncate && isFloatType(x.dtype)) {
      // int32: NaN and out-of-range give INT32_MIN (x86's cvttss2si, what onnxruntime does); narrower types
      // wrap the truncated value, and NaN gives 0.
      const int32 = to === DataType.INT32;
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (int32 && !(v > -2147483649 && v < 2147483648)) o[i] = -2147483648;
        else o[i] = Number.isFinite(v) ? Math.trunc(v) : 0;
      }
    } else {
      for (let i = 0; i < n; i++) o[i] = src[i];
    }
  }
  return out;
}

const castKernel: Kernel = (ctx) => {
  const to = ctx.node.attrInt('to');
  if (to === DataType.STRING) ctx.fail(`Cast to ${dataTypeName(to)} is not supported`);
  return [castArray(ctx, ctx.input(0), to as DataType)];
};

const castLikeKernel: Kernel = (ctx) => [castArray(ctx, ctx.input(0), ctx.input(1).dtype)];

export const castKernels: KernelTable = { Cast: castKernel, CastLike: castLikeKernel };
