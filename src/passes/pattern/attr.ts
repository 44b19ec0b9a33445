import { Attribute, AttrType, IntValue } from '../../ir/attribute';

/** Literal attribute values a pattern may compare against. */
export type AttrLiteralSpec = number | bigint | string | readonly (number | bigint)[] | readonly string[];

/**
 * A test on one node attribute (`undefined` when the node lacks it). `test` returns undefined on success or
 * the reason it failed. `N` is the binding name when the matcher captures the attribute.
 */
export abstract class AttrMatcher<N extends string = never> {
  /** Phantom: the capture name, for typing bindings. */
  declare readonly __capture?: N;
  abstract test(attribute: Attribute | undefined): string | undefined;
  abstract describe(): string;
}

/** An attribute matcher that also records the node's attribute under `name` in the bindings. */
export class AttrCapture<N extends string> extends AttrMatcher<N> {
  constructor(readonly name: N, readonly inner: AttrMatcher<string> | undefined) {
    super();
  }
  test(a: Attribute | undefined): string | undefined {
    if (!a) return `attribute is missing (captured as '${this.name}')`;
    return this.inner?.test(a);
  }
  describe(): string {
    return `${this.inner ? this.inner.describe() : 'any'} as '${this.name}'`;
  }
}

/** What may stand for an attribute in a pattern: a literal (exact match) or a matcher. */
export type AttrSpecValue = AttrLiteralSpec | AttrMatcher<string>;
export type AttrSpec = { readonly [name: string]: AttrSpecValue };

class FnMatcher extends AttrMatcher {
  constructor(private readonly fn: (a: Attribute | undefined) => string | undefined, private readonly text: string) {
    super();
  }
  test(a: Attribute | undefined): string | undefined {
    return this.fn(a);
  }
  describe(): string {
    return this.text;
  }
}

/** Attribute matchers: `{ perm: [0, 2, 1, 3] }` is exact; these cover the rest. */
export const attr = {
  /** The attribute is present, with any value. */
  any(): AttrMatcher {
    return new FnMatcher((a) => (a ? undefined : 'attribute is missing'), 'any');
  },
  /** The attribute is absent. */
  absent(): AttrMatcher {
    return new FnMatcher((a) => (a ? `expected no attribute, found ${formatAttribute(a)}` : undefined), 'absent');
  },
  /** Equal to `value`; when `default` is given, an absent attribute counts as that value (ONNX defaults). */
  eq(value: AttrLiteralSpec, options: { default?: AttrLiteralSpec } = {}): AttrMatcher {
    const text = options.default === undefined ? formatLiteral(value) : `${formatLiteral(value)} (default ${formatLiteral(options.default)})`;
    return new FnMatcher((a) => {
      if (!a) {
        if (options.default !== undefined && literalEquals(options.default, value)) return undefined;
        return `attribute is missing, expected ${formatLiteral(value)}`;
      }
      return attributeEquals(a, value) ? undefined : `found ${formatAttribute(a)}, expected ${formatLiteral(value)}`;
    }, text);
  },
  /** Equal to one of `values`. */
  oneOf(...values: AttrLiteralSpec[]): AttrMatcher {
    const text = `one of ${values.map(formatLiteral).join(' | ')}`;
    return new FnMatcher((a) => {
      if (!a) return `attribute is missing, expected ${text}`;
      return values.some((v) => attributeEquals(a, v)) ? undefined : `found ${formatAttribute(a)}, expected ${text}`;
    }, text);
  },
  /** Present and accepted by `fn` (which sees the decoded value and the attribute). */
  pred(fn: (value: Attribute['value'], attribute: Attribute) => boolean, description = 'predicate'): AttrMatcher {
    return new FnMatcher((a) => {
      if (!a) return `attribute is missing (${description})`;
      return fn(a.value, a) ? undefined : `found ${formatAttribute(a)}, rejected by ${description}`;
    }, description);
  },
  /** Absent, or matching `inner`. */
  optional(inner: AttrSpecValue): AttrMatcher {
    const m = toAttrMatcher(inner);
    return new FnMatcher((a) => (a ? m.test(a) : undefined), `optional ${m.describe()}`);
  },
  /** Captures the attribute into the bindings under `name` (it must be present, and match `inner` if given). */
  capture<N extends string>(name: N, inner?: AttrSpecValue): AttrCapture<N> {
    return new AttrCapture(name, inner === undefined ? undefined : toAttrMatcher(inner));
  },
};

/** A literal becomes an exact matcher; a matcher stays as it is. */
export function toAttrMatcher(spec: AttrSpecValue): AttrMatcher<string> {
  return spec instanceof AttrMatcher ? spec : attr.eq(spec);
}

/** Does the attribute hold `lit`? Integers compare exactly (bigint-safe), floats with a float32 tolerance. */
export function attributeEquals(a: Attribute, lit: AttrLiteralSpec): boolean {
  const d = a.data;
  if (typeof lit === 'number' || typeof lit === 'bigint') {
    if (d.type === AttrType.INT) return intEquals(d.value, lit);
    if (d.type === AttrType.FLOAT) return floatClose(d.value, Number(lit));
    return false;
  }
  if (typeof lit === 'string') return d.type === AttrType.STRING && d.value === lit;
  if (d.type === AttrType.INTS) return d.value.length === lit.length && d.value.every((x, i) => typeof lit[i] !== 'string' && intEquals(x, lit[i] as number | bigint));
  if (d.type === AttrType.FLOATS) return d.value.length === lit.length && d.value.every((x, i) => typeof lit[i] !== 'string' && floatClose(x, Number(lit[i])));
  if (d.type === AttrType.STRINGS) return d.value.length === lit.length && d.value.every((x, i) => x === lit[i]);
  return false;
}

/** Same type and same value (used when one capture name is bound on two nodes). Graphs/tensors by identity. */
export function sameAttribute(a: Attribute, b: Attribute): boolean {
  if (a.type !== b.type) return false;
  const x = a.value;
  const y = b.value;
  if (Array.isArray(x) && Array.isArray(y)) {
    return x.length === y.length && x.every((e, i) => (isInt(e) && isInt(y[i]) ? intEquals(e, y[i]) : e === y[i]));
  }
  if (isInt(x) && isInt(y)) return intEquals(x, y);
  return x === y;
}

export function formatAttribute(a: Attribute): string {
  const v = a.value;
  if (Array.isArray(v)) return `[${v.map((e) => (typeof e === 'object' ? '…' : String(e))).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return `<${AttrType[a.type]}>`;
}

function formatLiteral(v: AttrLiteralSpec): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((e) => (typeof e === 'string' ? JSON.stringify(e) : String(e))).join(', ')}]`;
  return String(v);
}

function literalEquals(a: AttrLiteralSpec, b: AttrLiteralSpec): boolean {
  return formatLiteral(a) === formatLiteral(b);
}

function isInt(v: unknown): v is IntValue {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

function intEquals(a: IntValue, b: number | bigint): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof b === 'number' && !Number.isInteger(b)) return false;
  return BigInt(a) === BigInt(b);
}

function floatClose(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}
