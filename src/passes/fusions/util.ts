// Small helpers shared by the fusion passes (opset, static shapes, metadata keys).
import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';

/** Node metadata a bookkeeping fusion (silu_gate, skip_add) writes on the nodes it groups. */
export const FUSION_KEY = 'onnx_lower.fusion';
/** Node metadata naming the group (the name of the group's root node). */
export const FUSION_GROUP_KEY = 'onnx_lower.fusion_group';

/** Floating-point element types (the types every fused op here accepts). */
export const FLOAT_TYPES: ReadonlySet<DataType> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/** Default-domain ops whose meaning or signature changed between opset 18 and 23 (a plain raise breaks them). */
const CHANGED_SINCE_18: ReadonlySet<string> = new Set(['DFT', 'GridSample', 'GroupNormalization']);

/**
 * Why the model's default-domain opset cannot simply be raised to `min`, or undefined when it can (or is
 * already there). Below 18 ops such as ReduceMean and Split changed signature, so only 18+ is raised.
 */
export function opsetRaiseBlocker(model: Model, min: number): string | undefined {
  const before = model.opset('');
  if (before !== undefined && before >= min) return undefined;
  if (before === undefined || before < 18) return `the model is at opset ${before ?? 'none'}; raising it to ${min} needs a version converter below opset 18 (ReduceMean axes, Split, … changed at 18)`;
  const graphs = [...model.graph.allGraphs(), ...model.functions.flatMap((f) => f.body.allGraphs())];
  for (const g of graphs) {
    for (const n of g.nodes) {
      if (n.domain === '' && CHANGED_SINCE_18.has(n.op)) return `raising opset ${before} → ${min} would change the meaning of ${n.describe()}`;
    }
  }
  return undefined;
}

/**
 * Runs `rewrite` with the default-domain opset raised to at least `min` (as sdpa_canonicalize does), and puts
 * the old opset back when nothing changed, so a pass that fuses nothing leaves the model as it was. When the
 * opset cannot be raised safely (see opsetRaiseBlocker) nothing runs and `skipped` is returned.
 */
export function withOpsetAtLeast<R extends { changes: number }>(model: Model, min: number, rewrite: () => R, skipped: (reason: string) => R): R {
  const blocker = opsetRaiseBlocker(model, min);
  if (blocker) return skipped(blocker);
  const before = model.opset('');
  if (before === undefined || before < min) model.opsetImports.set('', min);
  const result = rewrite();
  if (result.changes === 0 && (before === undefined || before < min)) {
    if (before === undefined) model.opsetImports.delete('');
    else model.opsetImports.set('', before);
  }
  return result;
}

/** An applyRules-shaped result for a pass that did not run its rules (every count 0). */
export function notApplied(rules: readonly { name: string }[]): { changes: number; counts: Record<string, number>; iterations: number; converged: boolean } {
  return { changes: 0, counts: Object.fromEntries(rules.map((r) => [r.name, 0])), iterations: 0, converged: true };
}

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
