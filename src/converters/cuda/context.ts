import type { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import type { OpCode } from './opcodes';

/** A place in device memory: a logical buffer of the execution plan and a byte offset into it. */
export interface DeviceRef {
  readonly buf: number;
  readonly offset: number;
}

/** One kernel argument: a number, a device pointer, or the null pointer. */
export type Arg = number | DeviceRef | null;

/** One instruction of a program: an opcode and its arguments (see src/runtime/native/ops.h). */
export interface KernelStep {
  readonly op: OpCode;
  readonly args: readonly Arg[];
  /** The ONNX node it came from (for errors and profiles) and its op. */
  readonly node: string;
  readonly opType?: string;
}

export interface TensorInfo {
  readonly dims: readonly number[];
  readonly dtype: DataType;
}

/** The static cache a K or V input of Attention reads: the updated cache buffer, valid up to start + seq. */
export interface CacheView {
  /** The cache output value (present_*): its buffer holds the updated cache. */
  readonly present: Value;
}

export interface DeviceFacts {
  readonly smCount: number;
  /** Use the runtime's GEMV kernel for matrix-vector products with weights (M <= 4). */
  readonly gemv: boolean;
}

/** What a converter sees while the execution plan is built for one set of input shapes. */
export interface ConvertContext {
  readonly device: DeviceFacts;
  info(v: Value): TensorInfo;
  /** The value if it is known on the host (initializers, shape arithmetic), else undefined. */
  host(v: Value): Tensor | undefined;
  /** Integers of a host-known value; throws naming `what` if it is only known on the device. */
  hostInts(v: Value, what: string): number[];
  /** Device storage of a value computed earlier (host-known values are uploaded as constants). */
  ref(v: Value): DeviceRef;
  /** Allocates a fresh buffer for an output value. */
  define(v: Value, info: TensorInfo): DeviceRef;
  /** Makes `v` a view of `src` (same bytes, other dims), optionally at a byte offset. */
  alias(v: Value, src: Value, info: TensorInfo, byteOffset?: number): void;
  /** Scratch memory that lives for the next emitted step only. */
  scratch(bytes: number): DeviceRef;
  emit(op: OpCode, args: readonly Arg[]): void;
  /** The cache an Attention K/V input reads, when it is the static cache idiom. */
  cacheView(v: Value): CacheView | undefined;
  /** Whether an Attention mask input is the shared static-cache mask `j <= start + i`. */
  isOffsetCausalMask(v: Value): boolean;
  /** Device pointer of the start_idx scalar. */
  startRef(): DeviceRef;
  /** Marks a later node as already converted (fusions emit it with an earlier one). */
  skip(node: Node): void;
  /** Whether a node was converted already (or skipped by a fusion). */
  isHandled(node: Node): boolean;
  /** Whether the backend stores this weight transposed ([K, N] as [N, K] row-major; see weightsStoredTransposed). */
  storedTransposed(w: Value): boolean;
  /** Records that `v` is `weight` transposed ([K, N] -> [N, K]) without computing it; products read it as W^T. */
  deferTranspose(v: Value, weight: Value, info: TensorInfo): void;
  /** The weight a deferred transpose stands for. */
  transposedWeight(v: Value): Value | undefined;
  /** Scratch state of fusions that span nodes (keyed by value). */
  readonly pending: Map<Value, unknown>;
}

export type Converter = (node: Node, ctx: ConvertContext) => void;
