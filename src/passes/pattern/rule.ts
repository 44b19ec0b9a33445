import type { Builder } from '../../ir/builder';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { ValuePattern, patternNodes, rootOps } from './builder';
import { PatternError } from './errors';
import { FailureTracker, MatchResult, MatchSuccess, matchAll, RuleBindings, RulePattern } from './matcher';
import { RunMemo } from './run-memo';

/** Metadata key every node a rule creates carries, with the rule's name as value. */
export const RULE_TAG = 'onnx_lower.rule';

/** A rejected match, naming the value or node that made the check fail. */
export class Failure {
  constructor(readonly reason: string, readonly subject?: Value | Node) {}
}

/** `return failure('scale is not a constant', bindings.scale)` from a check. */
export function failure(reason: string, subject?: Value | Node): Failure {
  return new Failure(reason, subject);
}

/** What a check and a rewrite may look at besides the bindings (read-only). */
export interface RuleContext {
  readonly graph: Graph;
  readonly model: Model | undefined;
  /** The node the first pattern output is rooted at. */
  readonly root: Node;
  /** Every matched node (without shared Constant producers). */
  readonly nodes: readonly Node[];
  /** The values matched by the pattern outputs, in order. */
  readonly outputs: readonly Value[];
  /** Value facts shared by every check and rewrite of one `applyRules` run (see RunMemo for what may go in). */
  readonly memo: RunMemo;
}

export interface RuleSpec<P extends RulePattern> {
  name: string;
  description?: string;
  pattern: P;
  /** Extra conditions on a structural match. Rules keep no state: compute again in `rewrite` if needed. */
  check?(bindings: RuleBindings<P>, ctx: RuleContext): true | false | Failure;
  /** Builds the replacement through `builder` (inserted before the root, nodes tagged); one value per pattern output. */
  rewrite(builder: Builder, bindings: RuleBindings<P>, ctx: RuleContext): Value | readonly Value[];
  /** Accept matches whose intermediates are used elsewhere (they are then kept; default false). */
  allowSharedIntermediates?: boolean;
}

/** A rewrite rule, ready for `applyRules`, `explain` and `matchRule`. */
export interface Rule<B = object> {
  readonly name: string;
  readonly description: string;
  /** The pattern outputs (one for single-root patterns). */
  readonly outputs: readonly ValuePattern<object>[];
  /** Qualified ops (`domain::op`, plain for ai.onnx) the first output's producing node may have. */
  readonly rootOps: ReadonlySet<string>;
  /** Number of distinct node patterns (over all alternatives), to report match depth against. */
  readonly patternSize: number;
  readonly allowSharedIntermediates: boolean;
  check(bindings: B, ctx: RuleContext): true | false | Failure;
  rewrite(builder: Builder, bindings: B, ctx: RuleContext): Value | readonly Value[];
}

/** Builds a rule; its bindings are typed by the pattern's variable names. */
export function defineRule<const P extends RulePattern>(spec: RuleSpec<P>): Rule<RuleBindings<P>> {
  if (!spec.name) throw new PatternError('PATTERN_RULE_NAME', 'a rule needs a name');
  const outputs: readonly ValuePattern<object>[] = Array.isArray(spec.pattern) ? spec.pattern : [spec.pattern as ValuePattern<object>];
  if (outputs.length === 0) throw new PatternError('PATTERN_EMPTY', `rule '${spec.name}' has a pattern without outputs`, spec.name);
  const ops = rootOps(outputs[0]);
  if (!ops) throw new PatternError('PATTERN_ROOT', `rule '${spec.name}': the first pattern output ${outputs[0].describe()} must be produced by a node pattern`, spec.name);
  const check = spec.check;
  return {
    name: spec.name,
    description: spec.description ?? '',
    outputs,
    rootOps: ops,
    patternSize: patternNodes(outputs).length,
    allowSharedIntermediates: spec.allowSharedIntermediates ?? false,
    check: (b, ctx) => (check ? check(b, ctx) : true),
    rewrite: (builder, b, ctx) => spec.rewrite(builder, b, ctx),
  };
}

/** The read-only view of a match that `check` and `rewrite` receive. */
export function ruleContext(m: MatchSuccess<unknown>, model: Model | undefined, memo: RunMemo = new RunMemo()): RuleContext {
  return { graph: m.graph, model, root: m.root, nodes: m.nodes, outputs: m.outputs, memo };
}

export interface MatchRuleOptions {
  /** Structural matches tried while the check rejects them (default 16). */
  maxCandidates?: number;
  /** The run's memo (applyRules passes its own); a fresh one per call when absent. */
  memo?: RunMemo;
}

/**
 * The first match of `rule` rooted at `root` that passes its check; otherwise the closest failure: the first
 * check rejection (stage 'check') if any structural match was found, else the deepest structural failure.
 */
export function matchRule<B>(rule: Rule<B>, root: Node, model?: Model, options: MatchRuleOptions = {}): MatchResult<B> {
  const limit = options.maxCandidates ?? 16;
  const tracker = new FailureTracker();
  let rejected: MatchResult<B> | undefined;
  let tried = 0;
  const memo = options.memo ?? new RunMemo();
  const found = matchAll(rule.outputs, root, { allowSharedIntermediates: rule.allowSharedIntermediates }, tracker);
  for (const m of found as Iterable<MatchSuccess<B>>) {
    const verdict = rule.check(m.bindings, ruleContext(m, model, memo));
    if (verdict === true) return m;
    if (!rejected) {
      const subject = verdict ? verdict.subject : undefined;
      const at = subject === undefined ? {} : 'op' in subject ? { node: subject } : { value: subject, node: subject.producer ?? undefined };
      rejected = { ok: false, stage: 'check', reason: verdict ? verdict.reason : 'rejected by the check', depth: m.nodes.length, ...at };
    }
    if (++tried >= limit) break;
  }
  return rejected ?? tracker.best ?? { ok: false, stage: 'match', reason: 'no match', node: root, depth: 0 };
}
