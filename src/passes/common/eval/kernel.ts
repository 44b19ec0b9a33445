import type { DataType } from '../../../ir/dtype';
import type { Node } from '../../../ir/node';
import type { NdArray } from './ndarray';

/** What an op kernel sees: the node (attributes), its inputs and the limits it must respect. */
export interface KernelContext {
  readonly node: Node;
  /** ai.onnx opset the node is read under (decides attribute-vs-input forms). */
  readonly opset: number;
  /** Element budget: no array a kernel allocates may exceed it. */
  readonly budget: number;
  /** Number of input slots (including omitted optional ones). */
  readonly inputCount: number;
  /** A required input; throws EVAL_MISSING naming the node when it is absent. */
  input(i: number): NdArray;
  /** An optional input (undefined when omitted or beyond the end). */
  optional(i: number): NdArray | undefined;
  /** A budget-checked, zero-filled output array. */
  alloc(dtype: DataType, dims: readonly number[]): NdArray;
  /** Throws EVAL_INVALID naming the node. */
  fail(message: string): never;
}

/** Computes the node's outputs (in order; trailing optional outputs may be left out). */
export type Kernel = (ctx: KernelContext) => NdArray[];

export type KernelTable = Readonly<Record<string, Kernel>>;
