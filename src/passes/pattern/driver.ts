import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import { PatternError } from './errors';
import { applyMatch } from './rewrite';
import { matchRule, Rule } from './rule';
import { RunMemo } from './run-memo';

export interface ApplyRulesOptions {
  /** Sweeps over the model before giving up on a fixed point (default 10). */
  maxIterations?: number;
  /** Structural matches tried per (node, rule) while the rule's check keeps rejecting them (default 16). */
  maxCandidatesPerNode?: number;
  /** Called once per applied rewrite (for `--verbose` logs). */
  log?: (message: string) => void;
}

export interface ApplyRulesResult {
  /** Rewrites applied. */
  changes: number;
  /** Rewrites per rule name (every rule present, 0 when it never fired). */
  counts: Record<string, number>;
  /** Sweeps run. */
  iterations: number;
  /** True when the last sweep changed nothing (a fixed point was reached). */
  converged: boolean;
}

/**
 * Applies rules greedily until nothing changes: each sweep visits every node of the main graph and its
 * subgraphs in order and applies the first rule (in `rules` order) that matches there and passes its check.
 * Nodes created in a sweep are visited in the next one.
 */
export function applyRules(model: Model, rules: readonly Rule<object>[], options: ApplyRulesOptions = {}): ApplyRulesResult {
  const maxIterations = options.maxIterations ?? 10;
  const counts: Record<string, number> = {};
  for (const r of rules) {
    if (Object.prototype.hasOwnProperty.call(counts, r.name)) throw new PatternError('PATTERN_RULE_DUPLICATE', `two rules are named '${r.name}'`, r.name);
    counts[r.name] = 0;
  }
  const byOp = new Map<string, Rule<object>[]>();
  for (const r of rules) for (const op of r.rootOps) byOp.set(op, [...(byOp.get(op) ?? []), r]);

  // One memo for the run: checks and rewrites of every match share value facts (e.g. one mask proof for all layers).
  const memo = new RunMemo();
  let changes = 0;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    let sweepChanges = 0;
    for (const g of liveGraphs(model.graph)) {
      for (const node of g.nodes) {
        if (node.graph !== g) continue; // removed by an earlier rewrite in this sweep
        for (const rule of byOp.get(node.qualifiedOp) ?? []) {
          const m = matchRule(rule, node, model, { maxCandidates: options.maxCandidatesPerNode, memo });
          if (!m.ok) continue;
          const outcome = applyMatch(rule, m, model, memo);
          if (!outcome.applied) continue;
          options.log?.(`${rule.name}: rewrote ${m.nodes.length} node(s) at ${node.describe()} into ${outcome.created.length}`);
          counts[rule.name]++;
          sweepChanges++;
          break;
        }
      }
    }
    changes += sweepChanges;
    if (sweepChanges === 0) {
      converged = true;
      break;
    }
  }
  return { changes, counts, iterations, converged };
}

/** The main graph and its subgraphs, each listed while its holder is still in a graph. */
function* liveGraphs(main: Graph): Iterable<Graph> {
  const stack: Graph[] = [main];
  while (stack.length) {
    const g = stack.pop() as Graph;
    yield g;
    for (const n of g.nodes) {
      const subs = n.subgraphs();
      for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i]);
    }
  }
}
