import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { FailureStage } from './matcher';
import { matchRule, Rule } from './rule';

/** One candidate root and how far the rule got there. */
export interface Explanation {
  readonly rule: string;
  /** The candidate root (its op is one of the rule's root ops). */
  readonly root: Node;
  readonly graph: Graph;
  /** 'matched': the rule would rewrite here; otherwise the stage that rejected the closest match. */
  readonly status: 'matched' | FailureStage;
  /** Pattern nodes matched (for 'matched' and 'check', the whole match). */
  readonly depth: number;
  /** Distinct node patterns in the rule (over all alternatives), to read `depth` against. */
  readonly patternSize: number;
  /** Why it failed (empty when matched). */
  readonly reason: string;
  /** Where it failed. */
  readonly node?: Node;
  readonly value?: Value | null;
}

export interface ExplainOptions {
  /** Structural matches to try per root while the check rejects them (default 16). */
  maxCandidatesPerNode?: number;
}

const STAGE_RANK: Record<Explanation['status'], number> = { matched: 3, check: 2, uses: 1, match: 0 };

/**
 * Tries `rule` at every node (main graph and subgraphs) whose op is one of its root ops, without changing
 * anything, and returns one explanation per candidate, closest first: matches, then check rejections, then
 * matches spoiled by outside uses, then structural failures by depth.
 */
export function explain(rule: Rule<object>, model: Model, options: ExplainOptions = {}): Explanation[] {
  const perNode = options.maxCandidatesPerNode ?? 16;
  const out: Explanation[] = [];
  for (const graph of model.graph.allGraphs()) {
    for (const root of graph.nodes) {
      if (rule.rootOps.has(root.qualifiedOp)) out.push(explainAt(rule, root, graph, model, perNode));
    }
  }
  const order = new Map(out.map((e, i) => [e, i]));
  return out.sort((a, b) => STAGE_RANK[b.status] - STAGE_RANK[a.status] || b.depth - a.depth || (order.get(a) ?? 0) - (order.get(b) ?? 0));
}

function explainAt(rule: Rule<object>, root: Node, graph: Graph, model: Model, perNode: number): Explanation {
  const base = { rule: rule.name, root, graph, patternSize: rule.patternSize };
  const r = matchRule(rule, root, model, { maxCandidates: perNode });
  if (r.ok) return { ...base, status: 'matched', depth: r.nodes.length, reason: '' };
  return { ...base, status: r.stage, depth: r.depth, reason: r.reason, node: r.node, value: r.value };
}

export interface FormatOptions {
  /** Candidates shown (default 5). */
  limit?: number;
}

/**
 * Readable text for `onnx-lower lower … --explain RULE`:
 *
 *     rule 'sdpa': 2 candidate root(s) (Softmax), 0 match(es)
 *     #1 'Softmax_7' (Softmax) in graph 'main_graph' — mismatch after 3/5 pattern nodes
 *        stopped at 'Div_4' (Div), value 'scale': expected a constant, found 'x' from 'Sqrt_2' (Sqrt)
 */
export function formatExplanation(rule: Rule<object>, explanations: readonly Explanation[], options: FormatOptions = {}): string {
  const limit = options.limit ?? 5;
  const ops = [...rule.rootOps].join(', ');
  const matched = explanations.filter((e) => e.status === 'matched').length;
  const lines = [`rule '${rule.name}': ${explanations.length} candidate root(s) (${ops}), ${matched} match(es)`];
  if (!explanations.length) lines.push(`  no node has op ${ops}`);
  explanations.slice(0, limit).forEach((e, i) => {
    const where = `#${i + 1} ${e.root.describe()} in graph '${e.graph.name}'`;
    if (e.status === 'matched') {
      lines.push(`${where} — matches (${e.depth} node(s)), would be rewritten`);
      return;
    }
    const what = e.status === 'check' ? 'rejected by check' : e.status === 'uses' ? 'matched but an intermediate escapes' : 'mismatch';
    lines.push(`${where} — ${what} after ${e.depth}/${e.patternSize} pattern node(s)`);
    const at = [e.node ? e.node.describe() : undefined, e.value === null ? 'an omitted input' : e.value ? `value '${e.value.name}'` : undefined]
      .filter((x) => x !== undefined).join(', ');
    lines.push(`   ${at ? `stopped at ${at}: ` : ''}${e.reason}`);
  });
  if (explanations.length > limit) lines.push(`… ${explanations.length - limit} more candidate(s)`);
  return lines.join('\n');
}
