import { dataTypeName } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Value } from '../../ir/value';
import { OPS_INTRODUCED_AFTER_22, TYPES_INTRODUCED } from './support-matrix';

/**
 * Lowers the model's ai.onnx opset import to `max` when nothing in it needs more: no op introduced after
 * `max` (support-matrix OPS_INTRODUCED_AFTER_22) and no element type introduced after it. Returns what
 * blocks the change (empty when it was made or not needed).
 */
export function lowerOpsetImport(model: Model, max: number): string[] {
  const current = model.opset('');
  if (current === undefined || current <= max) return [];
  const blockers: string[] = [];
  const seenTypes = new Set<number>();
  const noteType = (v: Value | null) => {
    const dt = v?.dtype;
    if (dt === undefined || seenTypes.has(dt)) return;
    seenTypes.add(dt);
    const since = TYPES_INTRODUCED.get(dt);
    if (since !== undefined && since > max) blockers.push(`element type ${dataTypeName(dt)} ('${v?.name}') needs opset ${since}`);
  };
  const graphs = [...model.graph.allGraphs(), ...model.functions.flatMap((f) => f.body.allGraphs())];
  for (const g of graphs) {
    for (const v of g.inputs) noteType(v);
    for (const v of g.initializers.values()) noteType(v);
    for (const n of g.nodes) {
      if (n.domain !== '') continue;
      const since = OPS_INTRODUCED_AFTER_22[n.op];
      if (since !== undefined && since > max) blockers.push(`node ${n.describe()} needs opset ${since}`);
      for (const o of n.outputs) noteType(o);
    }
  }
  if (blockers.length === 0) model.opsetImports.set('', max);
  return blockers;
}
