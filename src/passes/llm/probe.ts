import { DataType, byteSizeOf } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import { RawTensor, Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import { evaluateSubgraph } from '../common/evaluator';

/** Small budget: probes evaluate index/mask math, never weights. */
const PROBE_BUDGET = 1 << 20;

export interface ProbeShape {
  batch: number;
  seq: number;
}

/**
 * Evaluates `targets` for a concrete batch and sequence length, feeding every graph input the subgraph needs:
 * `position_ids` = 0..seq-1 (contiguous positions, the stated assumption), other integer inputs zeros,
 * float inputs zeros; a symbolic dim at index 0 becomes `batch`, any other symbolic dim `seq`.
 * Returns undefined when the targets cannot be evaluated within the budget (unsupported op, weights needed).
 */
export function probe(model: Model, targets: readonly Value[], shape: ProbeShape, ids?: (i: number) => number): Map<Value, Tensor> | undefined {
  const g: Graph = model.graph;
  const feeds = new Map<Value, Tensor>();
  for (const input of g.inputs) {
    if (input.isInitializer) continue;
    const t = dummyInput(input, shape, ids);
    if (t) feeds.set(input, t);
  }
  try {
    return evaluateSubgraph(g, feeds, targets, { opset: model.opset('') ?? 23, maxElements: PROBE_BUDGET });
  } catch {
    return undefined;
  }
}

function dummyInput(v: Value, { batch, seq }: ProbeShape, ids?: (i: number) => number): Tensor | undefined {
  const s = v.shape;
  const dtype = v.dtype;
  if (!s || dtype === undefined) return undefined;
  const dims = s.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : seq));
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > PROBE_BUDGET) return undefined;
  if (dtype === DataType.INT64) {
    const data = new BigInt64Array(count);
    const last = dims[dims.length - 1] ?? 1;
    if (v.name === 'position_ids') for (let i = 0; i < count; i++) data[i] = BigInt(i % last);
    else if (ids) for (let i = 0; i < count; i++) data[i] = BigInt(ids(i));
    return RawTensor.fromArray(dtype, dims, data, v.name);
  }
  return new RawTensor(dtype, dims, new Uint8Array(byteSizeOf(dtype, count)), v.name);
}
