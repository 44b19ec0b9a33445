import { AttrType } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';

/**
 * What a value holds when it is a compile-time constant: an initializer (that is not also a graph input,
 * which callers may override) or the output of a `Constant` node. Numbers are decoded only on request,
 * so matching `constant()` against a large weight never reads it.
 */
export interface ConstantInfo {
  readonly dtype: DataType;
  readonly dims: readonly number[];
  readonly numElements: number;
  /** The tensor, when the constant is held as one (initializer or `Constant(value=…)`). */
  readonly tensor: Tensor | undefined;
  /** The `Constant` node producing the value, if any (an initializer has none). */
  readonly producer: Node | undefined;
  /** Values as float64 numbers (half/bfloat16 decoded, int64 exact below 2^53). */
  numbers(): number[];
}

/** The constant a value holds, or undefined when it is computed at run time or is not numeric. */
export function constantOf(value: Value | null | undefined): ConstantInfo | undefined {
  if (!value) return undefined;
  if (value.constValue && !value.isGraphInput) return fromTensor(value.constValue, undefined);
  const p = value.producer;
  if (!p || p.op !== 'Constant' || p.domain !== '') return undefined;
  for (const a of p.attributes.values()) {
    const d = a.data;
    switch (d.type) {
      case AttrType.TENSOR: return fromTensor(d.value, p);
      case AttrType.FLOAT: return fromNumbers(DataType.FLOAT, [], [d.value], p);
      case AttrType.INT: return fromNumbers(DataType.INT64, [], [Number(d.value)], p);
      case AttrType.FLOATS: return fromNumbers(DataType.FLOAT, [d.value.length], d.value, p);
      case AttrType.INTS: return fromNumbers(DataType.INT64, [d.value.length], d.value.map(Number), p);
      default: break; // value_string(s), sparse_value: not numeric
    }
  }
  return undefined;
}

/** The numbers of a constant value, or undefined. */
export function constantNumbers(value: Value | null | undefined): number[] | undefined {
  return constantOf(value)?.numbers();
}

/** The single number of a one-element constant (any rank), or undefined. */
export function scalarOf(value: Value | null | undefined): number | undefined {
  const c = constantOf(value);
  return c && c.numElements === 1 ? c.numbers()[0] : undefined;
}

function fromTensor(t: Tensor, producer: Node | undefined): ConstantInfo | undefined {
  if (t.dtype === DataType.STRING || t.dtype === DataType.UNDEFINED) return undefined;
  return { dtype: t.dtype, dims: t.dims, numElements: t.numElements, tensor: t, producer, numbers: () => t.toNumbers() };
}

function fromNumbers(dtype: DataType, dims: number[], values: readonly number[], producer: Node): ConstantInfo {
  return { dtype, dims, numElements: values.length, tensor: undefined, producer, numbers: () => [...values] };
}
