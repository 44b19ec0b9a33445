// The pattern-rewriting engine: typed pattern builder, matcher, rules, greedy driver and explain.
export { PatternError } from './errors';
export { constantOf, constantNumbers, scalarOf } from './constant';
export type { ConstantInfo } from './constant';
export { attr, AttrMatcher, AttrCapture, attributeEquals } from './attr';
export type { AttrSpec, AttrSpecValue, AttrLiteralSpec } from './attr';
export {
  patternOps, v, anyValue, none, constant, scalar, scalarNear, optional, oneOf, nodePattern, rootOps, patternNodes,
  ValuePattern, VarPattern, ConstantPattern, NonePattern, NodeOutputPattern, NodePattern, OptionalPattern, OneOfPattern,
} from './builder';
export type {
  PatternOps, OpFn, NodeFn, NodePatternOptions, PatternArg, BindingsOf, Bound, NoBindings, ConstantPredicate, ScalarPredicate,
} from './builder';
export { match, matchAll, COMMUTATIVE_OPS, FailureTracker } from './matcher';
export type { MatchResult, MatchSuccess, MatchFailure, MatchOptions, FailureStage, RulePattern, RuleBindings } from './matcher';
export { defineRule, failure, Failure, RULE_TAG, matchRule, ruleContext } from './rule';
export type { Rule, RuleSpec, RuleContext, MatchRuleOptions } from './rule';
export { applyMatch } from './rewrite';
export { RunMemo } from './run-memo';
export type { RewriteOutcome } from './rewrite';
export { applyRules } from './driver';
export type { ApplyRulesOptions, ApplyRulesResult } from './driver';
export { explain, formatExplanation } from './explain';
export type { Explanation, ExplainOptions, FormatOptions } from './explain';
