import type { Dim } from '../../ir/type';

/**
 * Symbolic dimensions as canonical integer polynomials over symbol names: `Σ coef·monomial + constant`.
 * In practice they are affine (`seq+1`, `2*seq`, `seq-1`); products (`batch*seq`) appear when Reshape
 * flattens two symbolic dims, and keeping them exact is what lets the `-1` of a later Reshape be solved.
 *
 * The IR stores dims as `number | string | null`; a string is parsed here and printed back canonically
 * (`seq + 1` → `seq+1`), so two spellings of one expression compare equal. A string that is not an
 * expression (e.g. `floor(s0/2)`) is one opaque symbol.
 */
export class DimExpr {
  readonly constant: number;

  private constructor(
    /** Monomial key → non-zero coefficient. A key is the sorted symbol names joined by SEP. */
    private readonly terms: ReadonlyMap<string, number>,
    constant: number,
  ) {
    this.constant = constant + 0; // no -0: dims compare with Object.is in places
  }

  static of(value: number): DimExpr {
    return new DimExpr(new Map(), value);
  }

  static symbol(name: string): DimExpr {
    return new DimExpr(new Map([[name, 1]]), 0);
  }

  /**
   * The common spelling, without the recursive parser's intermediate expressions: a sum of products of
   * numbers, identifiers and {braced} names with no spaces, parentheses or unary minus inside a product
   * (`2*batch*seq`, `-seq+4`, what toString prints). Undefined for anything else (the parser decides); where
   * it answers, it answers what the parser would.
   */
  static parseSumOfProducts(text: string): DimExpr | undefined {
    const n = text.length;
    const terms = new Map<string, number>();
    let constant = 0;
    let pos = 0;
    let sign = 1;
    if (text.charCodeAt(0) === 45 /* - */) {
      sign = -1;
      pos = 1;
    }
    for (;;) {
      // One product: factor ('*' factor)*.
      let coef = sign;
      let names: string[] | undefined;
      for (;;) {
        if (pos >= n) return undefined;
        const c = text.charCodeAt(pos);
        if (c >= 48 && c <= 57) {
          const start = pos;
          while (pos < n && text.charCodeAt(pos) >= 48 && text.charCodeAt(pos) <= 57) pos++;
          coef *= Number(text.slice(start, pos));
        } else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) {
          const start = pos;
          for (pos++; pos < n; pos++) {
            const d = text.charCodeAt(pos);
            if (!((d >= 65 && d <= 90) || (d >= 97 && d <= 122) || d === 95 || (d >= 48 && d <= 57))) break;
          }
          (names ??= []).push(text.slice(start, pos));
        } else if (c === 123 /* { */) {
          const end = text.indexOf('}', pos);
          if (end < 0) return undefined;
          (names ??= []).push(text.slice(pos + 1, end));
          pos = end + 1;
        } else {
          return undefined;
        }
        if (pos < n && text.charCodeAt(pos) === 42 /* * */) pos++;
        else break;
      }
      if (!names) constant += coef;
      else if (coef !== 0) {
        const key = names.length === 1 ? names[0] : names.sort().join(SEP);
        const sum = (terms.get(key) ?? 0) + coef;
        if (sum === 0) terms.delete(key);
        else terms.set(key, sum);
      }
      if (pos >= n) return new DimExpr(terms, constant);
      const op = text.charCodeAt(pos);
      if (op === 43 /* + */) sign = 1;
      else if (op === 45 /* - */) sign = -1;
      else return undefined;
      pos++;
    }
  }

  /** The value when the expression has no symbols. */
  get value(): number | undefined {
    return this.terms.size === 0 ? this.constant : undefined;
  }
  get isConstant(): boolean {
    return this.terms.size === 0;
  }
  /** Symbol names appearing in the expression, sorted. */
  symbols(): string[] {
    const s = new Set<string>();
    for (const key of this.terms.keys()) for (const name of key.split(SEP)) s.add(name);
    return [...s].sort();
  }

  /**
   * A lower bound assuming every symbol is ≥ 1 (a dimension that exists and is not empty): the constant plus
   * each coefficient, when all coefficients are positive; undefined when a negative term makes it unbounded.
   */
  lowerBound(): number | undefined {
    let lb = this.constant;
    for (const c of this.terms.values()) {
      if (c < 0) return undefined;
      lb += c;
    }
    return lb;
  }

  /** The value under an assignment of symbols; undefined when a symbol is unassigned. */
  evaluate(env: ReadonlyMap<string, number>): number | undefined {
    let total = this.constant;
    for (const [k, c] of this.terms) {
      let term = c;
      for (const name of k.split(SEP)) {
        const v = env.get(name);
        if (v === undefined) return undefined;
        term *= v;
      }
      total += term;
    }
    return total;
  }

  add(other: DimExpr): DimExpr {
    // Term maps are never mutated after construction, so a constant shift can share them.
    if (other.terms.size === 0) return other.constant === 0 ? this : new DimExpr(this.terms, this.constant + other.constant);
    if (this.terms.size === 0 && this.constant === 0) return other;
    const terms = new Map(this.terms);
    for (const [k, c] of other.terms) {
      const sum = (terms.get(k) ?? 0) + c;
      if (sum === 0) terms.delete(k);
      else terms.set(k, sum);
    }
    return new DimExpr(terms, this.constant + other.constant);
  }

  neg(): DimExpr {
    return this.scale(-1);
  }

  sub(other: DimExpr): DimExpr {
    return this.add(other.neg());
  }

  scale(k: number): DimExpr {
    if (k === 0) return DimExpr.of(0);
    if (k === 1) return this;
    const terms = new Map<string, number>();
    for (const [m, c] of this.terms) terms.set(m, c * k);
    return new DimExpr(terms, this.constant * k);
  }

  mul(other: DimExpr): DimExpr {
    if (other.terms.size === 0) return this.scale(other.constant);
    if (this.terms.size === 0) return other.scale(this.constant);
    if (this.constant === 0 && other.constant === 0 && this.terms.size === 1 && other.terms.size === 1) {
      // c·m × d·n: one monomial (what the general loop below gives, without its intermediate sums).
      const [[a, ca]] = this.terms;
      const [[b, cb]] = other.terms;
      return new DimExpr(monomial([...a.split(SEP), ...b.split(SEP)], ca * cb), 0);
    }
    let out = DimExpr.of(this.constant * other.constant);
    const parts = (e: DimExpr): [string[], number][] => [...e.terms].map(([k, c]) => [k.split(SEP), c]);
    const mine = parts(this);
    const theirs = parts(other);
    for (const [m, c] of mine) out = out.add(new DimExpr(monomial(m, c * other.constant), 0));
    for (const [m, c] of theirs) out = out.add(new DimExpr(monomial(m, c * this.constant), 0));
    for (const [a, ca] of mine) for (const [b, cb] of theirs) out = out.add(new DimExpr(monomial([...a, ...b], ca * cb), 0));
    return out;
  }

  /**
   * Exact division: `this / other` when every term divides evenly (by a constant, or by a single monomial
   * such as `seq` in `4*seq`); null otherwise. Never rounds.
   */
  divExact(other: DimExpr): DimExpr | null {
    const k = other.value;
    if (k !== undefined) {
      if (k === 0) return null;
      if (this.constant % k !== 0) return null;
      const terms = new Map<string, number>();
      for (const [m, c] of this.terms) {
        if (c % k !== 0) return null;
        terms.set(m, c / k);
      }
      return new DimExpr(terms, this.constant / k);
    }
    // Divide by c·m (one monomial): every term of `this` must contain m and have a coefficient divisible by c.
    if (other.terms.size !== 1 || other.constant !== 0 || this.constant !== 0) return null;
    const [[key, coef]] = [...other.terms];
    const divisor = key.split(SEP);
    const terms = new Map<string, number>();
    let constant = 0;
    for (const [m, c] of this.terms) {
      if (c % coef !== 0) return null;
      const rest = m.split(SEP);
      for (const name of divisor) {
        const at = rest.indexOf(name);
        if (at < 0) return null;
        rest.splice(at, 1);
      }
      if (rest.length === 0) constant += c / coef;
      else terms.set(rest.join(SEP), c / coef);
    }
    return new DimExpr(terms, constant);
  }

  equals(other: DimExpr): boolean {
    if (this.constant !== other.constant || this.terms.size !== other.terms.size) return false;
    for (const [k, c] of this.terms) if (other.terms.get(k) !== c) return false;
    return true;
  }

  /** Canonical text: higher-degree terms first, then by name, constant last (`2*seq+1`, `-seq+4`). */
  toString(): string {
    const keys = [...this.terms.keys()].sort((a, b) => {
      const da = a.split(SEP).length;
      const db = b.split(SEP).length;
      return da !== db ? db - da : a < b ? -1 : a > b ? 1 : 0;
    });
    let out = '';
    for (const k of keys) {
      const c = this.terms.get(k) as number;
      const names = k.split(SEP).map(formatSymbol).join('*');
      const mag = Math.abs(c);
      const body = mag === 1 ? names : `${mag}*${names}`;
      out += c < 0 ? `-${body}` : out ? `+${body}` : body;
    }
    if (this.constant !== 0 || out === '') out += this.constant < 0 ? `${this.constant}` : out ? `+${this.constant}` : `${this.constant}`;
    return out;
  }

  /** The IR form: a number when constant, else the canonical string. */
  toDim(): number | string {
    return this.value ?? this.toString();
  }
}

const SEP = '\u0000';

function monomial(names: string[], coef: number): Map<string, number> {
  return coef === 0 ? new Map() : new Map([[[...names].sort().join(SEP), coef]]);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Identifiers print as is; other opaque names are braced so the text still parses back to one symbol. */
function formatSymbol(name: string): string {
  return IDENT.test(name) ? name : `{${name}}`;
}

/** Whether `s` is a plain identifier (what IDENT matches), without a regex: the common dim, parsed often. */
function isIdentifier(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!letter && !(i > 0 && c >= 48 && c <= 57)) return false;
  }
  return true;
}

/** Parses a dim (number, expression text, or null). Unparsable text is one opaque symbol. */
export function parseDim(d: Dim | DimExpr): DimExpr | null {
  if (d === null) return null;
  if (d instanceof DimExpr) return d;
  if (typeof d === 'number') return DimExpr.of(d);
  if (isIdentifier(d)) return DimExpr.symbol(d);
  const flat = DimExpr.parseSumOfProducts(d);
  if (flat) return flat;
  const parsed = new Parser(d).parse();
  return parsed ?? DimExpr.symbol(d);
}

/** The recursive-descent parser alone (null when the text is not an expression): the reference for the shortcuts. */
export function parseDimExpression(text: string): DimExpr | null {
  return new Parser(text).parse();
}

/** The canonical IR form of an expression (null stays null). */
export function formatDim(e: DimExpr | null): Dim {
  return e === null ? null : e.toDim();
}

/** Canonical IR form of a dim: numbers unchanged, strings reprinted (`seq + 1` → `seq+1`). */
export function canonicalDim(d: Dim): Dim {
  return typeof d === 'string' ? formatDim(parseDim(d)) : d;
}

function lift2(a: Dim, b: Dim, f: (x: DimExpr, y: DimExpr) => DimExpr | null): Dim {
  const x = parseDim(a);
  const y = parseDim(b);
  return x && y ? formatDim(f(x, y)) : null;
}

// The Dim-level helpers below take a shortcut when both dims are numbers (most dims of a real graph); the
// shortcut computes what the DimExpr path would (`+ 0` as DimExpr.of does: no -0).
export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b + 0;
  return lift2(a, b, (x, y) => x.add(y));
}
export function subDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b + 0;
  return lift2(a, b, (x, y) => x.sub(y));
}
export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b + 0;
  return lift2(a, b, (x, y) => x.mul(y));
}
export function scaleDim(a: Dim, k: number): Dim {
  if (typeof a === 'number') return a * k + 0;
  const x = parseDim(a);
  return x ? formatDim(x.scale(k)) : null;
}
/** Exact quotient, or null when it does not divide evenly (or is unknown). */
export function divDims(a: Dim, b: Dim): Dim {
  return lift2(a, b, (x, y) => x.divExact(y));
}

/** Product of dims (1 for none); null when any is unknown. */
export function productOfDims(dims: readonly Dim[]): Dim {
  let n = 1;
  let allNumbers = true;
  for (const d of dims) {
    if (typeof d !== 'number') {
      allNumbers = false;
      break;
    }
    n *= d;
  }
  if (allNumbers) return n + 0;
  let acc: DimExpr | null = DimExpr.of(1);
  for (const d of dims) {
    const e = parseDim(d);
    acc = acc && e ? acc.mul(e) : null;
  }
  return formatDim(acc);
}

/** True when the two dims are provably equal (same canonical expression). Unknown dims are never equal. */
export function dimsEqual(a: Dim, b: Dim): boolean {
  if (a === null || b === null) return false;
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return false;
  const x = parseDim(a);
  const y = parseDim(b);
  return x !== null && y !== null && x.equals(y);
}

/** Sign of `a - b` when it is a constant (−1, 0, 1); undefined when unknown or symbolic. */
export function compareDims(a: Dim, b: Dim): -1 | 0 | 1 | undefined {
  if (a === null || b === null) return undefined;
  if (a === b) return 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = parseDim(a);
  const y = parseDim(b);
  if (!x || !y) return undefined;
  const d = x.sub(y).value;
  return d === undefined ? undefined : d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** True when `a ≥ b` for every assignment of symbols ≥ 1 (see DimExpr.lowerBound). */
export function provablyAtLeast(a: Dim, b: Dim): boolean {
  const x = parseDim(a);
  const y = parseDim(b);
  if (!x || !y) return false;
  const lb = x.sub(y).lowerBound();
  return lb !== undefined && lb >= 0;
}

/** True when `a < b` for every assignment of symbols ≥ 1. */
export function provablyLess(a: Dim, b: Dim): boolean {
  return provablyAtLeast(b, addDims(a, 1));
}

/** True when the dims are provably different (their difference is a non-zero constant). */
export function dimsDiffer(a: Dim, b: Dim): boolean {
  const c = compareDims(a, b);
  return c !== undefined && c !== 0;
}

export function isStaticDim(d: Dim): d is number {
  return typeof d === 'number';
}

/** Value of a dim when it is a constant (numbers, and strings like `3` or `seq-seq+2`). */
export function staticValue(d: Dim): number | undefined {
  if (typeof d === 'number') return d;
  if (d === null || isIdentifier(d)) return undefined;
  return parseDim(d)?.value;
}

/** What `/\s/` matches, for the characters a dim can hold (ASCII whitespace, NBSP, the Unicode spaces). */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/.test(String.fromCharCode(c)));
}

/** Recursive-descent parser for `expr := term (('+'|'-') term)*`, `term := factor ('*' factor)*`. */
class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): DimExpr | null {
    try {
      const e = this.expr();
      this.skip();
      return this.pos === this.text.length ? e : null;
    } catch {
      return null;
    }
  }

  private skip(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }
  private peek(): string {
    this.skip();
    return this.text[this.pos] ?? '';
  }
  private expr(): DimExpr {
    let e = this.term();
    for (let c = this.peek(); c === '+' || c === '-'; c = this.peek()) {
      this.pos++;
      const t = this.term();
      e = c === '+' ? e.add(t) : e.sub(t);
    }
    return e;
  }
  private term(): DimExpr {
    let e = this.factor();
    while (this.peek() === '*') {
      this.pos++;
      e = e.mul(this.factor());
    }
    return e;
  }
  private factor(): DimExpr {
    const c = this.peek();
    if (c === '-') {
      this.pos++;
      return this.factor().neg();
    }
    if (c === '(') {
      this.pos++;
      const e = this.expr();
      if (this.peek() !== ')') throw new Error('expected )');
      this.pos++;
      return e;
    }
    if (c === '{') {
      const end = this.text.indexOf('}', this.pos);
      if (end < 0) throw new Error('expected }');
      const name = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return DimExpr.symbol(name);
    }
    const rest = this.text.slice(this.pos);
    const num = /^\d+/.exec(rest);
    if (num) {
      this.pos += num[0].length;
      return DimExpr.of(Number(num[0]));
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (id) {
      this.pos += id[0].length;
      return DimExpr.symbol(id[0]);
    }
    throw new Error('unexpected character');
  }
}
