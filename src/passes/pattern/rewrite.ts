import { Builder } from '../../ir/builder';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { topologicalOrder } from '../../ir/toposort';
import { Value } from '../../ir/value';
import { PatternError } from './errors';
import type { MatchSuccess } from './matcher';
import { RULE_TAG, Rule, ruleContext } from './rule';
import type { RunMemo } from './run-memo';

export interface RewriteOutcome {
  /** Nodes the rule created (tagged with RULE_TAG). */
  readonly created: readonly Node[];
  /** Matched nodes removed because nothing uses them any more. */
  readonly removed: readonly Node[];
  /** False when the rewrite would only swap Identity nodes feeding graph outputs (no progress; graph untouched). */
  readonly applied: boolean;
}

/**
 * Runs the rule's rewrite on a match and splices the result in: new nodes go before the last matched root,
 * the matched outputs' uses (graph outputs too, keeping their names) move to the new values, and matched
 * nodes left without uses are removed. The caller has already run `check`.
 */
export function applyMatch<B>(rule: Rule<B>, m: MatchSuccess<B>, model?: Model, memo?: RunMemo): RewriteOutcome {
  const graph = m.graph;
  const roots = m.outputs.map((o) => o.producer).filter((p): p is Node => p !== null && p.graph === graph);
  const before = lastInOrder(graph, roots) ?? m.root;
  const builder = new Builder(graph, before, new Map([[RULE_TAG, rule.name]]));
  const ctx = ruleContext(m, model, memo);

  let results: Value[];
  try {
    const r = rule.rewrite(builder, m.bindings, ctx);
    results = r instanceof Value ? [r] : [...r];
    if (results.length !== m.outputs.length) {
      throw new PatternError('PATTERN_REWRITE_ARITY', `rule '${rule.name}' returned ${results.length} value(s) for ${m.outputs.length} pattern output(s)`, rule.name);
    }
    results.forEach((v, i) => {
      if (!(v instanceof Value) || !graph.isInScope(v)) {
        throw new PatternError('PATTERN_REWRITE_SCOPE', `rule '${rule.name}' returned a value for output ${i} that is not in graph '${graph.name}'`, rule.name);
      }
    });
  } catch (e) {
    // Nothing uses the new nodes yet, so they can go; the graph is as before.
    if (builder.created.length) graph.remove(builder.created);
    throw e;
  }

  const created = new Set<Node>(builder.created);
  const needsIdentity = m.outputs.filter((old, i) => old !== results[i] && old.isGraphOutput && !createdBy(results[i], created)).length;
  if (builder.created.length === 0 && needsIdentity > 0 && m.nodes.length <= needsIdentity && m.nodes.every((n) => n.op === 'Identity' && n.domain === '')) {
    // e.g. Identity(x) → x where the Identity names a graph output: the result would be the same graph.
    return { created: [], removed: [], applied: false };
  }
  const renames: [Value, Value][] = [];
  m.outputs.forEach((old, i) => {
    let next = results[i];
    if (next === old) return;
    if (old.isGraphOutput) {
      // The graph output keeps its name: it goes to a value this rewrite made, so renaming harms nobody.
      if (!createdBy(next, created)) {
        next = builder.op('Identity', [next], {}, { outputTypes: [old.type ?? next.type] });
        created.add(next.producer as Node);
      }
      renames.push([next, old]);
    }
    if (!next.type && old.type) next.type = old.type;
    old.replaceAllUsesWith(next, { replaceGraphOutputs: true });
  });

  const removed = removeUnused(graph, [...m.nodes, ...m.constants]);
  for (const [next, old] of renames) {
    const name = old.name;
    if (old.producer?.graph) old.name = graph.names.fresh(`${name}_replaced`); // old node survived; free the name
    next.name = name;
  }
  if (m.outputs.length > 1 && !inOrder(graph, builder.created)) graph.nodes.reorder(topologicalOrder(graph));
  return { created: builder.created, removed, applied: true };
}

/** A value this rewrite made that no graph output holds yet (so it may take a graph output's name). */
function createdBy(v: Value, created: ReadonlySet<Node>): boolean {
  return v.producer !== null && created.has(v.producer) && !v.isGraphOutput;
}

/** Removes the largest subset of `candidates` (in `graph`) whose outputs are used only inside the subset. */
function removeUnused(graph: Graph, candidates: readonly Node[]): Node[] {
  const set = new Set(candidates.filter((n) => n.graph === graph));
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of set) {
      const live = n.outputs.some((o) => o.isGraphOutput || o.uses().some((u) => !set.has(u.node)));
      if (live) {
        set.delete(n);
        changed = true;
      }
    }
  }
  if (set.size) graph.remove(set);
  return [...set];
}

function lastInOrder(graph: Graph, nodes: readonly Node[]): Node | undefined {
  if (nodes.length <= 1) return nodes[0];
  const want = new Set(nodes);
  let last: Node | undefined;
  for (const n of graph.nodes) if (want.has(n)) last = n;
  return last;
}

/** Whether every use of the created nodes' outputs comes after them (only multi-root rewrites can break it). */
function inOrder(graph: Graph, created: readonly Node[]): boolean {
  const position = new Map<Node, number>();
  let i = 0;
  for (const n of graph.nodes) position.set(n, i++);
  return created.every((c) => {
    const at = position.get(c) ?? -1;
    return c.outputs.every((o) => o.uses().every((u) => (position.get(u.node) ?? Infinity) > at));
  });
}
