import type { Builder } from '../../ir/builder';
import { DataType, dataTypeName } from '../../ir/dtype';
import { OnnxLowerError } from '../../ir/errors';
import { floatToBfloat16, floatToHalf } from '../../ir/float16';
import type { Graph } from '../../ir/graph';
import type { Node } from '../../ir/node';
import { RawTensor, tensor } from '../../ir/tensor';
import { Shape, tensorType } from '../../ir/type';
import type { Value } from '../../ir/value';

/** A rewrite the TensorRT legaliser cannot do; names the node. */
export class TrtLegalizeError extends OnnxLowerError {}

/** A float constant of the given float type (FLOAT, FLOAT16, BFLOAT16, DOUBLE). */
export function floatTensor(dtype: DataType, dims: readonly number[], values: readonly number[]): RawTensor {
  switch (dtype) {
    case DataType.FLOAT: return RawTensor.fromArray(dtype, dims, Float32Array.from(values));
    case DataType.DOUBLE: return RawTensor.fromArray(dtype, dims, Float64Array.from(values));
    case DataType.FLOAT16: return RawTensor.fromArray(dtype, dims, Uint16Array.from(values, floatToHalf));
    case DataType.BFLOAT16: return RawTensor.fromArray(dtype, dims, Uint16Array.from(values, floatToBfloat16));
    default: throw new TrtLegalizeError('TRT_DTYPE', `cannot make a float constant of type ${dataTypeName(dtype)}`);
  }
}

/** A scalar float initializer. */
export function floatScalar(b: Builder, name: string, dtype: DataType, value: number): Value {
  return b.constant(name, floatTensor(dtype, [], [value]));
}

/** A 1-D int64 initializer (axes, shapes, indices). */
export function int64s(b: Builder, name: string, values: readonly (number | bigint)[]): Value {
  return b.constant(name, tensor.int64([values.length], values));
}

/** A scalar int64 initializer. */
export function int64Scalar(b: Builder, name: string, value: number): Value {
  return b.constant(name, tensor.int64([], [value]));
}

/** Gives a value a tensor type (when the element type is known) and returns it. */
export function typed<T extends Value>(v: T, dtype: DataType | undefined, shape?: Shape): T {
  if (dtype !== undefined) v.type = tensorType(dtype, shape);
  return v;
}

/**
 * Replaces `node` (already rewritten into other nodes) by `replacement` for its output `old`: uses and graph
 * outputs move over, the node leaves the graph, and a graph output keeps its name so the interface does not
 * change. Other outputs of `node` must be unused.
 */
export function replaceNode(graph: Graph, node: Node, old: Value, replacement: Value): void {
  const name = old.name;
  const wasOutput = old.isGraphOutput;
  if (!replacement.type && old.type) replacement.type = old.type;
  old.replaceAllUsesWith(replacement, { replaceGraphOutputs: true });
  graph.remove(node);
  if (wasOutput) replacement.name = name;
}

/** Tags every node a legalisation step builds with the step's name (`onnx_lower.rule`). */
export function ruleTags(rule: string): Map<string, string> {
  return new Map([['onnx_lower.pass', 'trt_legalize'], ['onnx_lower.rule', rule]]);
}

/** Float element types whose arithmetic TensorRT may run in reduced precision. */
export function isLowPrecision(dtype: DataType | undefined): boolean {
  return dtype === DataType.FLOAT16 || dtype === DataType.BFLOAT16;
}
