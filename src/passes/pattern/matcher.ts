import { Attribute } from '../../ir/attribute';
import type { Graph } from '../../ir/graph';
import type { Node } from '../../ir/node';
import { Value } from '../../ir/value';
import { AttrCapture, sameAttribute } from './attr';
import {
  BindingsOf, Bound, ConstantPattern, NodeOutputPattern, NodePattern, OneOfPattern, OptionalPattern, ValuePattern,
  VarPattern, rootOps,
} from './builder';
import { constantOf } from './constant';
import { PatternError } from './errors';

/** Ops whose inputs may be permuted (ai.onnx domain). Matching tries every order, so rules need no variants. */
export const COMMUTATIVE_OPS: ReadonlySet<string> = new Set(['Add', 'Mul', 'And', 'Or', 'Xor', 'Equal', 'Max', 'Min', 'Sum', 'Mean', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor']);
/** Variadic commutative nodes beyond this many inputs are matched in the given order only (n! orders). */
const MAX_PERMUTED_INPUTS = 5;
/** Bound on node visits per search, so pathological patterns fail instead of hanging. */
const DEFAULT_BUDGET = 200_000;

/** A pattern with one output (a value pattern) or several (several roots or a multi-output node). */
export type RulePattern = ValuePattern<object> | readonly ValuePattern<object>[];
/** The bindings of a rule pattern: the merge of all its outputs' bindings. */
export type RuleBindings<P> = P extends readonly (infer E)[] ? MergeOf<BindingsOf<E>> : BindingsOf<P>;
type MergeOf<U> = { [K in keyof UnionToI<U>]: UnionToI<U>[K] };
type UnionToI<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Where a search stopped: 'match' (structure), 'uses' (a matched intermediate escapes), 'check' (rule's check). */
export type FailureStage = 'match' | 'uses' | 'check';

export interface MatchSuccess<B> {
  readonly ok: true;
  readonly bindings: B;
  /** Matched nodes (not counting Constant producers), root first, in match order. */
  readonly nodes: readonly Node[];
  /** `Constant` nodes whose outputs matched `constant()`/`scalar()` (shared freely, removed only if unused). */
  readonly constants: readonly Node[];
  /** The value matched by each pattern output, in pattern order. */
  readonly outputs: readonly Value[];
  readonly root: Node;
  readonly graph: Graph;
}

export interface MatchFailure {
  readonly ok: false;
  readonly stage: FailureStage;
  /** What was expected and what was found. */
  readonly reason: string;
  /** The node where matching stopped, when there is one. */
  readonly node?: Node;
  /** The value where matching stopped (null: an omitted input). */
  readonly value?: Value | null;
  /** Pattern nodes matched before stopping; larger is closer (ranks partial matches). */
  readonly depth: number;
}

export type MatchResult<B> = MatchSuccess<B> | MatchFailure;

export interface MatchOptions {
  /** Accept matches whose intermediate values are used outside the match (the rewrite then keeps them). */
  allowSharedIntermediates?: boolean;
  /** Maximum node visits per search (default 200000). */
  budget?: number;
}

/** Keeps the deepest failure seen while backtracking; shared by one search. */
export class FailureTracker {
  best: MatchFailure | undefined;
  visits = 0;
  constructor(readonly budget = DEFAULT_BUDGET) {}

  /** Set once the budget ran out; the budget failure then stands, as the search was cut short. */
  exhausted = false;

  note(failure: MatchFailure): void {
    if (this.exhausted) return;
    const b = this.best;
    if (!b || rank(failure) > rank(b)) this.best = failure;
  }

  exhaust(failure: MatchFailure): void {
    if (this.exhausted) return;
    this.best = failure;
    this.exhausted = true;
  }
}

function rank(f: MatchFailure): number {
  const stage = f.stage === 'check' ? 2 : f.stage === 'uses' ? 1 : 0;
  return stage * 1e6 + f.depth;
}

interface State {
  readonly bindings: ReadonlyMap<string, Bound>;
  readonly nodeMap: ReadonlyMap<NodePattern, Node>;
  readonly nodes: readonly Node[];
  readonly constants: readonly Node[];
}

const EMPTY: State = { bindings: new Map(), nodeMap: new Map(), nodes: [], constants: [] };

/** First match of `pattern` rooted at `root`, or the deepest failure. */
export function match<const P extends RulePattern>(pattern: P, root: Node, options: MatchOptions = {}): MatchResult<RuleBindings<P>> {
  const tracker = new FailureTracker(options.budget);
  for (const m of matchAll(pattern, root, options, tracker)) return m;
  return tracker.best ?? { ok: false, stage: 'match', reason: `no pattern output can be rooted at ${root.describe()}`, node: root, depth: 0 };
}

/**
 * Every match of `pattern` rooted at `root` (its first output is produced by `root`), lazily, in
 * backtracking order: commutative input orders, optional nodes present before absent, alternatives in order.
 * Failures are recorded in `tracker`.
 */
export function* matchAll<const P extends RulePattern>(
  pattern: P, root: Node, options: MatchOptions = {}, tracker = new FailureTracker(options.budget),
): Generator<MatchSuccess<RuleBindings<P>>> {
  const outputs: readonly ValuePattern<object>[] = isPatternList(pattern) ? pattern : [pattern];
  if (outputs.length === 0) throw new PatternError('PATTERN_EMPTY', 'a rule pattern needs at least one output');
  const graph = root.graph;
  if (!graph) return;
  const m = new Matcher(graph, tracker);
  for (const out of root.outputs) {
    for (const s of m.value(outputs[0], out, EMPTY)) {
      if (!s.nodeMap.size || s.nodes[0] !== root) {
        tracker.note({ ok: false, stage: 'match', reason: `the pattern matched ${out} without using ${root.describe()}`, node: root, depth: s.nodes.length });
        continue;
      }
      for (const full of m.rest(outputs, 1, [out], s)) {
        const values = full.values;
        const st = full.state;
        const escape = options.allowSharedIntermediates ? undefined : escapingUse(st.nodes, values);
        const spoiled = escape ?? (outputs.length > 1 ? cycleThroughMatch(st.nodes) : undefined);
        if (spoiled) {
          tracker.note({ ...spoiled, ok: false, stage: 'uses', depth: st.nodes.length });
          continue;
        }
        yield {
          ok: true, bindings: Object.fromEntries(st.bindings) as RuleBindings<P>, nodes: st.nodes, constants: st.constants,
          outputs: values, root, graph,
        };
      }
    }
  }
}

function isPatternList(p: RulePattern): p is readonly ValuePattern<object>[] {
  return Array.isArray(p);
}

class Matcher {
  constructor(readonly graph: Graph, readonly tracker: FailureTracker) {}

  private fail(st: State, reason: string, at: { node?: Node; value?: Value | null }): void {
    this.tracker.note({ ok: false, stage: 'match', reason, ...at, depth: st.nodes.length });
  }

  /** Matches the remaining pattern outputs (after the first), each anchored at a candidate value. */
  *rest(outputs: readonly ValuePattern<object>[], i: number, values: Value[], st: State): Generator<{ state: State; values: Value[] }> {
    if (i === outputs.length) {
      yield { state: st, values };
      return;
    }
    const p = outputs[i];
    for (const cand of this.candidates(p, st)) {
      for (const s of this.value(p, cand, st)) yield* this.rest(outputs, i + 1, [...values, cand], s);
    }
  }

  /** Values a secondary pattern output could be: a mapped node's output, a bound variable, or by op. */
  private candidates(p: ValuePattern<object>, st: State): Value[] {
    if (p instanceof NodeOutputPattern) {
      const mapped = st.nodeMap.get(p.node);
      if (mapped) return mapped.outputs[p.index] ? [mapped.outputs[p.index]] : [];
    }
    if (p instanceof VarPattern && p.name !== undefined) {
      const b = st.bindings.get(p.name);
      if (b) return isValue(b) ? [b] : [];
    }
    const ops = rootOps(p);
    if (!ops) throw new PatternError('PATTERN_ANCHOR', `pattern output ${p.describe()} is not a node pattern and is not bound by the first output, so it cannot be found`);
    const out: Value[] = [];
    for (const n of this.graph.nodes) if (ops.has(n.qualifiedOp)) out.push(...n.outputs);
    return out;
  }

  *value(p: ValuePattern<object>, value: Value | null, st: State): Generator<State> {
    if (++this.tracker.visits > this.tracker.budget) {
      this.tracker.exhaust({ ok: false, stage: 'match', reason: `search budget of ${this.tracker.budget} steps exhausted`, value, depth: st.nodes.length });
      return;
    }
    if (p instanceof VarPattern) return yield* this.variable(p, value, st);
    if (p instanceof ConstantPattern) return yield* this.constant(p, value, st);
    if (p instanceof NodeOutputPattern) return yield* this.output(p, value, st);
    if (p instanceof OptionalPattern) {
      yield* this.output(p.inner, value, st);
      yield* this.value(p.passthrough, value, st);
      return;
    }
    if (p instanceof OneOfPattern) {
      for (const alt of p.alternatives) yield* this.value(alt, value, st);
      return;
    }
    // NonePattern
    if (value === null) yield st;
    else this.fail(st, `expected an omitted input, found ${describeValue(value)}`, { value });
  }

  private *variable(p: VarPattern<object>, value: Value | null, st: State): Generator<State> {
    const label = p.name === undefined ? 'a value' : `a value for %${p.name}`;
    if (value === null) return this.fail(st, `expected ${label}, the input is omitted`, { value });
    const bound = p.name === undefined ? undefined : st.bindings.get(p.name);
    if (bound !== undefined && bound !== value) {
      return this.fail(st, `%${p.name} is already bound to ${isValue(bound) ? `'${bound.name}'` : 'a non-value'}, found '${value.name}'`, { value, node: value.producer ?? undefined });
    }
    const inner = p.inner ? this.value(p.inner, value, st) : [st];
    for (const s of inner) yield p.name === undefined || bound ? s : withBinding(s, p.name, value);
  }

  private *constant(p: ConstantPattern, value: Value | null, st: State): Generator<State> {
    if (value === null) return this.fail(st, `expected ${p.describe()}, the input is omitted`, { value });
    const c = constantOf(value);
    if (!c) return this.fail(st, `expected ${p.describe()}, found ${describeValue(value)}`, { value, node: value.producer ?? undefined });
    if (p.scalar && c.numElements !== 1) return this.fail(st, `expected a scalar constant, '${value.name}' has shape [${c.dims.join(', ')}]`, { value });
    if (p.predicate) {
      const nums = c.numbers();
      if (!p.predicate(nums, c)) return this.fail(st, `constant '${value.name}' = ${formatNumbers(nums)} rejected by ${p.predicateText}`, { value });
    }
    const prod = c.producer;
    yield prod && !st.constants.includes(prod) ? { ...st, constants: [...st.constants, prod] } : st;
  }

  private *output(p: NodeOutputPattern<object, object>, value: Value | null, st: State): Generator<State> {
    const np = p.node;
    if (value === null) return this.fail(st, `expected ${np.qualifiedOp}, the input is omitted`, { value });
    const prod = value.producer;
    if (!prod) return this.fail(st, `expected ${np.qualifiedOp}, found ${describeValue(value)}`, { value });
    if (prod.graph !== this.graph) return this.fail(st, `expected ${np.qualifiedOp}, '${value.name}' comes from an enclosing graph`, { value, node: prod });
    if (value.outputIndex !== p.index) {
      return this.fail(st, `expected output ${p.index} of ${np.qualifiedOp}, '${value.name}' is output ${value.outputIndex} of ${prod.describe()}`, { value, node: prod });
    }
    yield* this.node(np, prod, value, st);
  }

  private *node(np: NodePattern, node: Node, via: Value, st: State): Generator<State> {
    const mapped = st.nodeMap.get(np);
    if (mapped) {
      if (mapped === node) yield st;
      else this.fail(st, `pattern node ${np.qualifiedOp} already matched ${mapped.describe()}, here it meets ${node.describe()}`, { node, value: via });
      return;
    }
    if (node.op !== np.op || node.domain !== np.domain) return this.fail(st, `expected ${np.qualifiedOp}, found ${node.describe()}`, { node, value: via });
    // Distinct pattern nodes stand for distinct graph nodes (else two roots could both claim one node).
    if (st.nodes.includes(node)) return this.fail(st, `${node.describe()} is already matched by another pattern node`, { node, value: via });
    if (node.outputs.length < np.outputCount) return this.fail(st, `expected ${np.outputCount} outputs, ${node.describe()} has ${node.outputs.length}`, { node });
    let bindings = st.bindings;
    for (const [name, m] of np.attributes) {
      const a = node.attributes.get(name);
      const why = m.test(a);
      if (why !== undefined) return this.fail(st, `attribute '${name}' of ${node.describe()}: ${why}`, { node });
      if (m instanceof AttrCapture && a) {
        const prev = bindings.get(m.name);
        if (prev !== undefined && !(isAttribute(prev) && sameAttribute(prev, a))) {
          return this.fail(st, `capture '${m.name}' is already bound to a different attribute than '${name}' of ${node.describe()}`, { node });
        }
        if (prev === undefined) bindings = new Map(bindings).set(m.name, a);
      }
    }
    if (!np.allowOtherInputs) {
      for (let i = np.inputs.length; i < node.inputs.length; i++) {
        if (node.inputs[i]) return this.fail(st, `${node.describe()} has input ${i} ('${node.inputs[i]?.name}'), the pattern has ${np.inputs.length} input(s)`, { node, value: node.inputs[i] });
      }
    }
    if (np.bindAs !== undefined) {
      const prev = bindings.get(np.bindAs);
      if (prev !== undefined && prev !== node) return this.fail(st, `'${np.bindAs}' is already bound, found ${node.describe()}`, { node });
      bindings = new Map(bindings).set(np.bindAs, node);
    }
    const entered: State = {
      bindings, nodeMap: new Map(st.nodeMap).set(np, node), nodes: [...st.nodes, node], constants: st.constants,
    };
    const n = np.inputs.length;
    const permute = np.domain === '' && COMMUTATIVE_OPS.has(np.op) && n >= 2 && n <= MAX_PERMUTED_INPUTS;
    for (const order of permute ? PERMUTATIONS[n] : [identity(n)]) {
      yield* this.inputs(np, node, order, 0, entered);
    }
  }

  /** Matches pattern input order[k] against node input k, for k from `k` on. */
  private *inputs(np: NodePattern, node: Node, order: readonly number[], k: number, st: State): Generator<State> {
    if (k === order.length) {
      yield st;
      return;
    }
    for (const s of this.value(np.inputs[order[k]], node.inputs[k] ?? null, st)) yield* this.inputs(np, node, order, k + 1, s);
  }
}

function withBinding(st: State, name: string, value: Bound): State {
  return { ...st, bindings: new Map(st.bindings).set(name, value) };
}

/**
 * An output of a matched node, other than a pattern output, that is a graph output or feeds a node outside
 * the match: rewriting would have to keep that node, duplicating work.
 */
function escapingUse(nodes: readonly Node[], outputs: readonly Value[]): Omit<MatchFailure, 'ok' | 'stage' | 'depth'> | undefined {
  const inMatch = new Set(nodes);
  for (const n of nodes) {
    for (const out of n.outputs) {
      if (outputs.includes(out)) continue;
      if (out.isGraphOutput) return { reason: `intermediate value '${out.name}' of ${n.describe()} is a graph output`, node: n, value: out };
      for (const u of out.uses()) {
        if (!inMatch.has(u.node)) return { reason: `intermediate value '${out.name}' of ${n.describe()} is also used by ${u.node.describe()} outside the match`, node: u.node, value: out };
      }
    }
  }
  return undefined;
}

/**
 * With several roots, an input of the match may itself depend on a matched node (root A feeds X, X feeds
 * root B's subtree): a fused replacement would then be its own ancestor.
 */
function cycleThroughMatch(nodes: readonly Node[]): Omit<MatchFailure, 'ok' | 'stage' | 'depth'> | undefined {
  const inMatch = new Set(nodes);
  const seen = new Set<Node>();
  for (const n of nodes) {
    for (const input of n.inputs) {
      const start = input?.producer;
      if (!start || inMatch.has(start)) continue;
      const stack = [start];
      while (stack.length) {
        const x = stack.pop() as Node;
        if (seen.has(x)) continue;
        seen.add(x);
        for (const i of x.inputs) {
          const p = i?.producer;
          if (!p || p.graph !== n.graph) continue;
          if (inMatch.has(p)) return { reason: `input '${input?.name}' of ${n.describe()} depends on matched node ${p.describe()}; rewriting would create a cycle`, node: x, value: input };
          stack.push(p);
        }
      }
    }
  }
  return undefined;
}

function isValue(b: Bound): b is Value {
  return b instanceof Value;
}
function isAttribute(b: Bound): b is Attribute {
  return b instanceof Attribute;
}

function describeValue(v: Value): string {
  const p = v.producer;
  if (p) return `'${v.name}' from ${p.describe()}`;
  if (v.isGraphInput) return `graph input '${v.name}'`;
  if (v.isInitializer) return `initializer '${v.name}'`;
  return `value '${v.name}'`;
}

function formatNumbers(nums: readonly number[]): string {
  const shown = nums.slice(0, 6).map((x) => String(Math.round(x * 1e6) / 1e6));
  return nums.length === 1 ? shown[0] : `[${shown.join(', ')}${nums.length > 6 ? ', …' : ''}]`;
}

function identity(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** All orders of 0..n-1, identity first. */
function orders(n: number): readonly (readonly number[])[] {
  const out: number[][] = [];
  const rec = (prefix: number[], rest: number[]) => {
    if (!rest.length) out.push(prefix);
    rest.forEach((x, i) => rec([...prefix, x], [...rest.slice(0, i), ...rest.slice(i + 1)]));
  };
  rec([], identity(n));
  return out;
}

/** Orders for 0..MAX_PERMUTED_INPUTS inputs, computed once (a frozen table, not mutable state). */
const PERMUTATIONS: readonly (readonly (readonly number[])[])[] = Object.freeze(
  Array.from({ length: MAX_PERMUTED_INPUTS + 1 }, (_, n) => Object.freeze(orders(n))),
);
