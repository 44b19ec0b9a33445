/**
 * Facts rules share across the matches of one `applyRules` run, e.g. one causal-mask proof for the mask every
 * layer reads, instead of one per layer and again in each rewrite. The run owns it (a new one per run; a
 * `matchRule`/`explain` call without one gets a fresh, unshared memo), so nothing outlives the model it was
 * computed on.
 *
 * What may be stored: a fact about values as functions of the graph inputs (what a mask evaluates to, whether
 * cos/sin form a table). Rewrites preserve values, so such a fact stays true while the run rewrites around it;
 * structural facts (uses, producers) change with rewrites and must not be memoised here.
 */
export class RunMemo {
  private readonly root = new Map<unknown, unknown>();

  /**
   * The value stored under `path` (compared element by element by identity: Values, nodes, strings, numbers),
   * computing and storing it on the first request.
   */
  get<T>(path: readonly unknown[], compute: () => T): T {
    let level = this.root;
    for (let i = 0; i < path.length - 1; i++) {
      let next = level.get(path[i]) as Map<unknown, unknown> | undefined;
      if (!next) level.set(path[i], (next = new Map()));
      level = next;
    }
    const last = path[path.length - 1];
    if (level.has(last)) return level.get(last) as T;
    const value = compute();
    level.set(last, value);
    return value;
  }
}
