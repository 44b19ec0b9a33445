import type { Attribute } from '../../ir/attribute';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { AttrCapture, AttrMatcher, AttrSpec, AttrSpecValue, toAttrMatcher } from './attr';
import { ConstantInfo } from './constant';
import { PatternError } from './errors';

// ---- binding types ------------------------------------------------------------------------------------
/** `A | B` → `A & B`. */
export type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** Flattens an intersection for readable hover types. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** What a binding name may hold: a value (variables, constants), an attribute (captures) or a node (`as`). */
export type Bound = Value | Attribute | Node;
/** No bindings. */
export type NoBindings = { readonly [K in never]: never };

/** The bindings a pattern produces, as a record type (e.g. `{ q: Value; k: Value; axis: Attribute }`). */
export type BindingsOf<P> = P extends ValuePattern<infer B> ? B : NoBindings;

/** What may stand for a node input: a pattern, a number (a scalar constant close to it) or null (omitted). */
export type PatternArg = ValuePattern<object> | number | null;
type ArgBindings<A> = A extends ValuePattern<infer B> ? B : NoBindings;
/** Bindings of all args, merged. */
export type MergeArgs<Ps extends readonly unknown[]> = Simplify<UnionToIntersection<ArgBindings<Ps[number]> | NoBindings>>;
type FirstArg<Ps extends readonly unknown[]> = Ps extends readonly [infer F, ...unknown[]] ? ArgBindings<F> : NoBindings;
type CaptureOf<S> = S extends AttrCapture<infer N> ? { [K in N]: Attribute } : NoBindings;
/** Bindings made by attribute captures in an attribute spec. */
export type AttrBindings<A> = Simplify<UnionToIntersection<{ [K in keyof A]: CaptureOf<A[K]> }[keyof A] | NoBindings>>;
type NodeBinding<N extends string> = { [K in N]: Node };

// ---- pattern IR ---------------------------------------------------------------------------------------
/**
 * A pattern for one value. `B` is phantom: the record of names the pattern binds, so a rule's `rewrite`
 * sees `bindings.q` typed as a Value. Patterns are immutable and may be shared between rules.
 */
export abstract class ValuePattern<B extends object = NoBindings> {
  declare readonly __bindings?: B;
  abstract readonly kind: 'var' | 'constant' | 'none' | 'output' | 'optional' | 'oneOf';
  abstract describe(): string;
  toString(): string {
    return this.describe();
  }
}

/** Binds any value to `name` (a wildcard when `name` is undefined), optionally constrained by `inner`. */
export class VarPattern<B extends object = NoBindings> extends ValuePattern<B> {
  readonly kind = 'var';
  constructor(readonly name: string | undefined, readonly inner: ValuePattern<object> | undefined) {
    super();
  }
  describe(): string {
    const self = this.name === undefined ? '_' : `%${this.name}`;
    return this.inner ? `${self}=${this.inner.describe()}` : self;
  }
}

/** A constant predicate sees all numbers (`constant`) or the single number (`scalar`). */
export type ConstantPredicate = (values: number[], info: ConstantInfo) => boolean;
export type ScalarPredicate = (value: number, info: ConstantInfo) => boolean;

/** An initializer or `Constant` output whose numbers satisfy an optional predicate. */
export class ConstantPattern extends ValuePattern<NoBindings> {
  readonly kind = 'constant';
  constructor(
    readonly scalar: boolean,
    readonly predicate: ConstantPredicate | undefined,
    readonly predicateText: string | undefined,
  ) {
    super();
  }
  describe(): string {
    const base = this.scalar ? 'scalar' : 'constant';
    return this.predicateText ? `${base}(${this.predicateText})` : base;
  }
}

/** An omitted optional input (ONNX empty name). */
export class NonePattern extends ValuePattern<NoBindings> {
  readonly kind = 'none';
  describe(): string {
    return 'none';
  }
}

/** Output `index` of a node matching `node`. `B0` is the bindings of input 0 (what `optional` keeps). */
export class NodeOutputPattern<B extends object = NoBindings, B0 extends object = NoBindings> extends ValuePattern<B> {
  declare readonly __firstInput?: B0;
  readonly kind = 'output';
  constructor(readonly node: NodePattern, readonly index: number) {
    super();
  }
  describe(): string {
    const d = this.node.describe();
    return this.node.outputCount > 1 ? `${d}[${this.index}]` : d;
  }
}

/** Either the inner node's output, or (the node skipped) whatever its input 0 pattern matches. */
export class OptionalPattern<B extends object = NoBindings> extends ValuePattern<B> {
  readonly kind = 'optional';
  constructor(readonly inner: NodeOutputPattern<object, object>) {
    super();
    if (inner.node.inputs.length === 0) throw new PatternError('PATTERN_OPTIONAL', `optional(${inner.node.op}) needs a node with an input to fall through to`);
  }
  /** What the value must match when the optional node is absent. */
  get passthrough(): ValuePattern<object> {
    return this.inner.node.inputs[0];
  }
  describe(): string {
    return `${this.inner.describe()}?`;
  }
}

/** The first alternative that matches (all are tried on backtracking). */
export class OneOfPattern<B extends object = NoBindings> extends ValuePattern<B> {
  readonly kind = 'oneOf';
  constructor(readonly alternatives: readonly ValuePattern<object>[]) {
    super();
    if (alternatives.length === 0) throw new PatternError('PATTERN_ONEOF', 'oneOf() needs at least one alternative');
  }
  describe(): string {
    return `oneOf(${this.alternatives.map((a) => a.describe()).join(' | ')})`;
  }
}

export interface NodePatternOptions<N extends string = never> {
  /** Operator domain ('' = ai.onnx). */
  domain?: string;
  /** Binds the matched node under this name. */
  as?: N;
  /** Let the node have inputs beyond those in the pattern (default false: extra inputs must be omitted). */
  allowOtherInputs?: boolean;
}

/** A node: op, domain, input patterns and attribute matchers. Other attributes are allowed. */
export class NodePattern {
  constructor(
    readonly op: string,
    readonly domain: string,
    readonly inputs: readonly ValuePattern<object>[],
    readonly attributes: ReadonlyMap<string, AttrMatcher<string>>,
    readonly outputCount: number,
    readonly bindAs: string | undefined,
    readonly allowOtherInputs: boolean,
  ) {}

  get qualifiedOp(): string {
    return this.domain ? `${this.domain}::${this.op}` : this.op;
  }

  describe(): string {
    const attrs = [...this.attributes].map(([k, m]) => `${k}=${m.describe()}`);
    const args = [...this.inputs.map((i) => i.describe()), ...attrs];
    return `${this.qualifiedOp}(${args.join(', ')})`;
  }
}

// ---- constructors -------------------------------------------------------------------------------------
/** A variable: binds any value to `name`; with `inner`, the value must also match `inner`. */
export function v<N extends string>(name: N): VarPattern<{ [K in N]: Value }>;
export function v<N extends string, B extends object>(name: N, inner: ValuePattern<B>): VarPattern<Simplify<B & { [K in N]: Value }>>;
export function v(name: string, inner?: ValuePattern<object>): VarPattern<object> {
  if (!name) throw new PatternError('PATTERN_NAME', 'a variable needs a name (use anyValue() for a wildcard)');
  return new VarPattern(name, inner);
}

/** Any present value, bound to nothing. */
export function anyValue(): VarPattern<NoBindings> {
  return new VarPattern(undefined, undefined);
}

/** An omitted optional input. */
export function none(): NonePattern {
  return new NonePattern();
}

/** An initializer or Constant-node value, optionally with a predicate on all its numbers. */
export function constant(predicate?: ConstantPredicate, description?: string): ConstantPattern {
  return new ConstantPattern(false, predicate, description ?? (predicate ? 'predicate' : undefined));
}

/** A one-element constant (any rank), optionally with a predicate on its number. */
export function scalar(predicate?: ScalarPredicate, description?: string): ConstantPattern {
  const p: ConstantPredicate | undefined = predicate && ((values, info) => predicate(values[0], info));
  return new ConstantPattern(true, p, description ?? (predicate ? 'predicate' : undefined));
}

/** A scalar constant within a relative tolerance of `target` (what a number literal input means). */
export function scalarNear(target: number, relTol = 1e-5): ConstantPattern {
  return scalar((x) => Math.abs(x - target) <= relTol * Math.max(1, Math.abs(target)), `≈${target}`);
}

/** The node is optional: matches `op(x, …)` or `x` itself. Names bound only inside the node may be absent. */
export function optional<B extends object, B0 extends object>(p: NodeOutputPattern<B, B0>): OptionalPattern<Simplify<B0 & Partial<B>>> {
  return new OptionalPattern(p);
}

/** Alternatives (e.g. several exporter forms). Names not bound by every alternative may be absent. */
export function oneOf<const Ps extends readonly ValuePattern<object>[]>(...alternatives: Ps): OneOfPattern<Simplify<
  Pick<UnionToIntersection<BindingsOf<Ps[number]>>, keyof BindingsOf<Ps[number]> & keyof UnionToIntersection<BindingsOf<Ps[number]>>>
  & Partial<UnionToIntersection<BindingsOf<Ps[number]>>>>> {
  return new OneOfPattern(alternatives);
}

/** Single-output op application: `op.Transpose(k, { perm: [0, 1, 3, 2] })`. */
export interface OpFn {
  <const Ps extends readonly PatternArg[]>(...inputs: Ps): NodeOutputPattern<MergeArgs<Ps>, FirstArg<Ps>>;
  <const Ps extends readonly PatternArg[], const A extends AttrSpec>(...args: [...Ps, A]): NodeOutputPattern<Simplify<MergeArgs<Ps> & AttrBindings<A>>, FirstArg<Ps>>;
}

/** Explicit node form; `outputs: n > 1` returns one pattern per output (e.g. Split). */
export interface NodeFn {
  <const Ps extends readonly PatternArg[], const A extends AttrSpec = NoBindings, N extends string = never>(
    op: string, inputs: Ps, attrs?: A, options?: NodePatternOptions<N> & { outputs?: 1 },
  ): NodeOutputPattern<Simplify<MergeArgs<Ps> & AttrBindings<A> & NodeBinding<N>>, FirstArg<Ps>>;
  <const Ps extends readonly PatternArg[], const A extends AttrSpec = NoBindings, N extends string = never>(
    op: string, inputs: Ps, attrs: A | undefined, options: NodePatternOptions<N> & { outputs: number },
  ): NodeOutputPattern<Simplify<MergeArgs<Ps> & AttrBindings<A> & NodeBinding<N>>, FirstArg<Ps>>[];
}

/** `op.MatMul(a, b)` for any op name, plus `op.node(...)` for domains, several outputs and node bindings. */
export type PatternOps = { readonly node: NodeFn } & { readonly [op: string]: OpFn };

/** Untyped core of `op.node` (the typed overloads live on NodeFn). */
export function nodePattern(
  op: string,
  inputs: readonly PatternArg[],
  attrs: AttrSpec = {},
  options: NodePatternOptions<string> & { outputs?: number } = {},
): NodeOutputPattern<object, object>[] {
  const count = options.outputs ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new PatternError('PATTERN_OUTPUTS', `node pattern ${op} needs at least one output, got ${count}`);
  const matchers = new Map<string, AttrMatcher<string>>();
  for (const [name, spec] of Object.entries(attrs)) matchers.set(name, toAttrMatcher(spec as AttrSpecValue));
  const domain = options.domain === 'ai.onnx' ? '' : (options.domain ?? '');
  const np = new NodePattern(op, domain, inputs.map(toValuePattern), matchers, count, options.as, options.allowOtherInputs ?? false);
  return Array.from({ length: count }, (_, i) => new NodeOutputPattern<object, object>(np, i));
}

/** The pattern builder: `const op = patternOps(); op.Softmax(op.MatMul(q, k), { axis: -1 })`. */
export function patternOps(defaults: { domain?: string } = {}): PatternOps {
  const node = (op: string, inputs: readonly PatternArg[], attrs?: AttrSpec, options: NodePatternOptions<string> & { outputs?: number } = {}) => {
    const outs = nodePattern(op, inputs, attrs, { domain: defaults.domain, ...options });
    return options.outputs === undefined || options.outputs === 1 ? outs[0] : outs;
  };
  const target = { node } as unknown as PatternOps;
  return new Proxy(target, {
    get(t, prop) {
      if (prop === 'node') return node;
      // Not ops: symbols, and `then` (so a builder passed through `await` is not taken for a promise).
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args: unknown[]) => {
        const last = args[args.length - 1];
        const hasAttrs = args.length > 0 && isAttrSpec(last);
        const inputs = (hasAttrs ? args.slice(0, -1) : args) as PatternArg[];
        return nodePattern(prop, inputs, hasAttrs ? (last as AttrSpec) : {}, { domain: defaults.domain })[0];
      };
    },
  });
}

function isAttrSpec(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !(x instanceof ValuePattern) && !Array.isArray(x);
}

/** Normalises an input: numbers become near-equal scalar constants, null an omitted input. */
export function toValuePattern(arg: PatternArg): ValuePattern<object> {
  if (arg === null) return new NonePattern();
  if (typeof arg === 'number') return scalarNear(arg);
  if (arg instanceof ValuePattern) return arg;
  throw new PatternError('PATTERN_INPUT', `not a pattern input: ${String(arg)}`);
}

// ---- pattern inspection -------------------------------------------------------------------------------
/** Ops (qualified `domain::op`, or plain op for ai.onnx) a value pattern's producing node may have; null = any. */
export function rootOps(p: ValuePattern<object>): Set<string> | null {
  switch (p.kind) {
    case 'output': return new Set([(p as NodeOutputPattern<object, object>).node.qualifiedOp]);
    case 'optional': {
      const o = p as OptionalPattern<object>;
      const rest = rootOps(o.passthrough);
      return rest && new Set([o.inner.node.qualifiedOp, ...rest]);
    }
    case 'oneOf': {
      const all = new Set<string>();
      for (const alt of (p as OneOfPattern<object>).alternatives) {
        const r = rootOps(alt);
        if (!r) return null;
        r.forEach((x) => all.add(x));
      }
      return all;
    }
    case 'var': {
      const inner = (p as VarPattern<object>).inner;
      return inner ? rootOps(inner) : null;
    }
    default: return null;
  }
}

/** Distinct node patterns reachable from `roots` (across all alternatives). */
export function patternNodes(roots: readonly ValuePattern<object>[]): NodePattern[] {
  const seen = new Set<NodePattern>();
  const stack = [...roots];
  const visited = new Set<ValuePattern<object>>();
  while (stack.length) {
    const p = stack.pop() as ValuePattern<object>;
    if (visited.has(p)) continue;
    visited.add(p);
    if (p instanceof NodeOutputPattern) {
      seen.add(p.node);
      stack.push(...p.node.inputs);
    } else if (p instanceof OptionalPattern) stack.push(p.inner);
    else if (p instanceof OneOfPattern) stack.push(...p.alternatives);
    else if (p instanceof VarPattern && p.inner) stack.push(p.inner);
  }
  return [...seen];
}
