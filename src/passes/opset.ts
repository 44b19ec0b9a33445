import type { Model } from '../ir/model';

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
