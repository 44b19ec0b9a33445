// Small helpers shared by the fusion passes (static shapes, metadata keys). Opset raising lives in ../opset.ts.
import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';

/** Node metadata a bookkeeping fusion (silu_gate, skip_add) writes on the nodes it groups. */
export const FUSION_KEY = 'onnx_lower.fusion';
/** Node metadata naming the group (the name of the group's root node). */
export const FUSION_GROUP_KEY = 'onnx_lower.fusion_group';

/** Floating-point element types (the types every fused op here accepts). */
export const FLOAT_TYPES: ReadonlySet<DataType> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/** Dims of a value when all of them are known numbers (initializers from their tensor), else undefined. */
export function staticDims(value: Value | null | undefined): number[] | undefined {
  if (!value) return undefined;
  if (value.constValue) return [...value.constValue.dims];
  const s = value.shape;
  if (!s || s.some((d) => typeof d !== 'number')) return undefined;
  return s as number[];
}

/** Rank of a value when its type says so. */
export function rankOf(value: Value | null | undefined): number | undefined {
  if (!value) return undefined;
  if (value.constValue) return value.constValue.dims.length;
  return value.shape?.length;
}

/** Integer attribute or the ONNX default. */
export function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attr(name);
  return a ? node.attrInt(name) : fallback;
}

/** The node producing `value` when it has op `op` (ai.onnx), else undefined. */
export function producedBy(value: Value | null | undefined, op: string): Node | undefined {
  const p = value?.producer;
  return p && p.op === op && p.domain === '' ? p : undefined;
}
