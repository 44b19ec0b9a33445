import type { Model } from '../ir/model';
import { eliminateDeadCode } from './common/dce';
import { withOpsetAtLeast } from './opset';
import type { Pass, PassContext, PassResult } from './pass';
import { applyRules, ApplyRulesResult } from './pattern/driver';
import type { Rule } from './pattern/rule';

/**
 * A pass that applies a set of rewrite rules to a fixed point: the shape most fusions share. Subclasses give the
 * rules and, when their rewrites emit newer ops, the opset they need (raised only if something is rewritten, and
 * never where a raise would change the meaning of existing ops).
 */
export abstract class RuleSetPass implements Pass {
  readonly inPlace = true;
  /** The rules (also what `lower --explain` shows). */
  abstract readonly rules: readonly Rule<object>[];
  /** Default-domain opset the rewrites need; undefined = any. */
  protected readonly minOpset: number | undefined = undefined;
  /** Remove what the rewrites left dead (the replaced subgraphs' producers). */
  protected readonly removeDead: boolean = false;

  /** The rules for this run (override when options shape them). */
  protected rulesFor(_ctx: PassContext): readonly Rule<object>[] {
    return this.rules;
  }

  /** Hook after a run that rewrote something (e.g. to record metadata). */
  protected afterRewrite(_model: Model, _ctx: PassContext): void {}

  run(model: Model, ctx: PassContext): PassResult {
    const rules = this.rulesFor(ctx);
    const apply = (): ApplyRulesResult => applyRules(model, rules, { log: ctx.log });
    const result = this.minOpset === undefined ? apply() : withOpsetAtLeast(model, this.minOpset, apply, (why) => {
      ctx.log(`skipped: ${why}`);
      return { changes: 0, counts: Object.fromEntries(rules.map((r) => [r.name, 0])), iterations: 0, converged: true };
    });
    const removed = this.removeDead && result.changes ? eliminateDeadCode(model) : 0;
    if (result.changes) this.afterRewrite(model, ctx);
    return { model, modified: result.changes > 0, changes: result.changes + removed, counts: result.counts };
  }
}
