/**
 * The native runtime's instruction set, mirrored from src/runtime/native/ops.h (keep the numbers in sync).
 * A program is a Float64Array of instructions [opcode, nargs, ...args].
 */
import { DataType, dataTypeName } from '../../ir/dtype';
import { OnnxLowerError } from '../../ir/errors';

export enum OpCode {
  COPY = 1, BINARY = 2, UNARY = 3, WHERE = 4, GEMM = 5, REDUCE = 6, RMSNORM = 7, LAYERNORM = 8, SOFTMAX = 9,
  GATHER = 10, ROPE = 11, ATTENTION = 12, CACHE_WRITE = 13, ARGMAX = 14, ADVANCE = 15, MEMCPY = 16, GEMV = 17, SILU_MUL = 18,
  ADD_RMSNORM = 20, ROPE_PACK = 22, SAMPLE = 21,
}

export enum DT { F32 = 0, F16 = 1, BF16 = 2, I64 = 3, I32 = 4, U8 = 5 }

export enum BinOp { ADD = 0, SUB, MUL, DIV, POW, MAX, MIN, EQ, LT, LE, GT, GE, AND, OR, MOD }
export enum UnOp {
  NEG = 0, SQRT, RECIP, SIGMOID, TANH, COS, SIN, EXP, LOG, ERF, RELU, ABS, SILU, GELU, GELU_TANH, NOT, IDENTITY, RSQRT,
}
export enum RedOp { MEAN = 0, SUM, MAX }
export enum Causal { NONE = 0, TOP_LEFT = 1, OFFSET = 2 }
export enum MaskType { NONE = 0, BOOL = 1, FLOAT = 2 }

/** Most dimensions a strided kernel takes. */
export const MAX_RANK = 6;

export class UnsupportedOpError extends OnnxLowerError {}

export function dtCode(dt: DataType | undefined, subject: string): DT {
  switch (dt) {
    case DataType.FLOAT: return DT.F32;
    case DataType.FLOAT16: return DT.F16;
    case DataType.BFLOAT16: return DT.BF16;
    case DataType.INT64: return DT.I64;
    case DataType.INT32: return DT.I32;
    case DataType.BOOL: case DataType.UINT8: return DT.U8;
    default: throw new UnsupportedOpError('CUDA_DTYPE', `${subject}: dtype ${dt === undefined ? 'unknown' : dataTypeName(dt)} is not supported by the cuda backend`, subject);
  }
}

/** Bytes per element of a native dtype code (ops.h dtSize). */
export function dtCodeBytes(dt: DT): number {
  return dt === DT.F32 || dt === DT.I32 ? 4 : dt === DT.I64 ? 8 : dt === DT.U8 ? 1 : 2;
}

export function dtBytes(dt: DataType): number {
  switch (dt) {
    case DataType.FLOAT: case DataType.INT32: return 4;
    case DataType.INT64: case DataType.DOUBLE: return 8;
    case DataType.FLOAT16: case DataType.BFLOAT16: return 2;
    default: return 1;
  }
}

export function isFloatDt(dt: DataType): boolean {
  return dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}
