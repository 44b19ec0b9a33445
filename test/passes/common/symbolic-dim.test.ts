import * as fc from 'fast-check';
import {
  addDims, canonicalDim, compareDims, DimExpr, dimsDiffer, dimsEqual, divDims, formatDim, mulDims, parseDim, productOfDims,
  parseDimExpression, provablyAtLeast, provablyLess, scaleDim, staticValue, subDims,
} from '../../../src/passes/common/symbolic-dim';

describe('symbolic dims', () => {
  test('parse and print canonically', () => {
    expect(canonicalDim('seq + 1')).toBe('seq+1');
    expect(canonicalDim('1 + seq')).toBe('seq+1');
    expect(canonicalDim('2 * seq')).toBe('2*seq');
    expect(canonicalDim('seq*2 - 1')).toBe('2*seq-1');
    expect(canonicalDim('seq - seq + 3')).toBe(3);
    expect(canonicalDim('4 - seq')).toBe('-seq+4');
    expect(canonicalDim('seq*batch + batch*seq')).toBe('2*batch*seq');
    expect(canonicalDim('(seq + 1) * 2')).toBe('2*seq+2');
    expect(canonicalDim(7)).toBe(7);
    expect(canonicalDim(null)).toBeNull();
    expect(parseDim(null)).toBeNull();
  });

  test('text that is not an expression is one opaque symbol and survives a round trip', () => {
    const odd = 'floor(s0/2)';
    expect(canonicalDim(odd)).toBe(`{${odd}}`);
    expect(canonicalDim(canonicalDim(odd))).toBe(`{${odd}}`);
    expect(addDims(odd, 1)).toBe(`{${odd}}+1`);
    expect(subDims(addDims(odd, 1), 1)).toBe(`{${odd}}`);
    expect(dimsEqual(odd, `{${odd}}`)).toBe(true);
    expect(canonicalDim('batch_size')).toBe('batch_size');
  });

  test('arithmetic', () => {
    expect(addDims('seq', 1)).toBe('seq+1');
    expect(addDims('seq', 'seq')).toBe('2*seq');
    expect(subDims('seq+1', 'seq')).toBe(1);
    expect(subDims('seq', 1)).toBe('seq-1');
    expect(scaleDim('seq+1', 2)).toBe('2*seq+2');
    expect(scaleDim('seq', 0)).toBe(0);
    expect(mulDims('seq', 64)).toBe('64*seq');
    expect(mulDims('seq', 'batch')).toBe('batch*seq');
    expect(mulDims('seq+1', 'seq-1')).toBe('seq*seq-1');
    expect(productOfDims([1, 'seq', 64])).toBe('64*seq');
    expect(productOfDims([])).toBe(1);
    expect(productOfDims([2, null])).toBeNull();
    expect(addDims('seq', null)).toBeNull();
  });

  test('exact division only', () => {
    expect(divDims('64*seq', 64)).toBe('seq');
    expect(divDims('64*seq', 16)).toBe('4*seq');
    expect(divDims('4*seq+8', 4)).toBe('seq+2');
    expect(divDims('4*seq+2', 4)).toBeNull();
    expect(divDims('64*seq', 'seq')).toBe(64);
    expect(divDims('batch*seq*16', '4*seq')).toBe('4*batch');
    expect(divDims('seq*seq+seq', 'seq')).toBe('seq+1');
    expect(divDims('seq+1', 'seq')).toBeNull();
    expect(divDims(12, 4)).toBe(3);
    expect(divDims(12, 5)).toBeNull();
    expect(divDims('seq', 0)).toBeNull();
  });

  test('equality and comparison', () => {
    expect(dimsEqual('seq + 1', 'seq+1')).toBe(true);
    expect(dimsEqual('seq', 'len')).toBe(false);
    expect(dimsEqual(null, null)).toBe(false);
    expect(compareDims('seq+1', 'seq')).toBe(1);
    expect(compareDims('seq', 'seq')).toBe(0);
    expect(compareDims('seq', 'len')).toBeUndefined();
    expect(compareDims(3, 5)).toBe(-1);
    expect(dimsDiffer('seq', 'seq-1')).toBe(true);
    expect(dimsDiffer('seq', 4)).toBe(false);
    expect(staticValue('seq-seq+2')).toBe(2);
    expect(staticValue('seq')).toBeUndefined();
  });

  test('provable order assuming every symbol is at least 1', () => {
    expect(provablyAtLeast('seq', 1)).toBe(true);
    expect(provablyAtLeast('seq', 2)).toBe(false);
    expect(provablyAtLeast('seq+1', 'seq')).toBe(true);
    expect(provablyAtLeast('seq-1', 0)).toBe(true);
    expect(provablyAtLeast('seq-3', 0)).toBe(false);
    expect(provablyAtLeast('2*seq', 'seq')).toBe(true);
    expect(provablyAtLeast('a', 'b')).toBe(false);
    expect(provablyLess('seq', 'seq+1')).toBe(true);
    expect(provablyLess(0, 'seq')).toBe(true);
    expect(provablyLess(1, 'seq')).toBe(false);
    expect(provablyAtLeast(null, 0)).toBe(false);
  });

  test('evaluate under an assignment', () => {
    const e = parseDim('2*seq*batch + seq - 3') as DimExpr;
    expect(e.evaluate(new Map([['seq', 5], ['batch', 2]]))).toBe(22);
    expect(e.evaluate(new Map([['seq', 5]]))).toBeUndefined();
    expect(e.symbols()).toEqual(['batch', 'seq']);
  });

  const symbols = ['a', 'b', 'seq'];
  const exprArb: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom(...symbols),
      fc.integer({ min: 0, max: 9 }).map(String),
      fc.tuple(tie('e'), fc.constantFrom('+', '-', '*'), tie('e')).map(([x, op, y]) => `(${x}) ${op} (${y})`),
    ),
  })).e;
  const envArb = fc.record({ a: fc.integer({ min: -20, max: 20 }), b: fc.integer({ min: -20, max: 20 }), seq: fc.integer({ min: -20, max: 20 }) });

  /** Evaluates the test's own expression text with JS arithmetic (the oracle). */
  function oracle(text: string, env: Record<string, number>): number {
    // `+ 0` turns JS's -0 into 0: dims have no negative zero.
    return (Function(...symbols, `return ${text};`)(...symbols.map((s) => env[s])) as number) + 0;
  }

  test('property: canonical forms evaluate like the expression text, and reparse to themselves', () => {
    fc.assert(fc.property(exprArb, envArb, (text, env) => {
      const e = parseDim(text) as DimExpr;
      const m = new Map(Object.entries(env));
      expect(e.evaluate(m)).toBe(oracle(text, env));
      const printed = formatDim(e);
      const again = parseDim(printed) as DimExpr;
      expect(again.equals(e)).toBe(true);
      expect(formatDim(again)).toEqual(printed);
    }), { numRuns: 300 });
  });

  test('property: the sum-of-products shortcut and the numeric/identifier fast paths answer what the parser does', () => {
    const token = fc.constantFrom('a', 'b', 'seq', 'batch_2', '{floor(s0/2)}', '{}', '0', '1', '7', '12', '+', '-', '*', '(', ')', ' ', '--', '2seq', '.', '}');
    const textArb = fc.oneof(fc.array(token, { maxLength: 9 }).map((t) => t.join('')), exprArb.map((t) => t.replace(/[() ]/g, '')));
    const dimArb = fc.oneof(textArb, fc.integer({ min: -9, max: 9 }), fc.constant(null));
    fc.assert(fc.property(textArb, (text) => {
      const flat = DimExpr.parseSumOfProducts(text);
      const slow = parseDimExpression(text);
      if (flat) {
        expect(slow).not.toBeNull();
        expect(flat.equals(slow as DimExpr)).toBe(true);
        expect(flat.toString()).toBe((slow as DimExpr).toString());
      }
      const parsed = parseDim(text) as DimExpr;
      expect(parsed.toString()).toBe((slow ?? DimExpr.symbol(text)).toString());
    }), { numRuns: 2000 });
    // The Dim-level shortcuts (numbers, equal operands) against the DimExpr path they skip.
    fc.assert(fc.property(dimArb, dimArb, (x, y) => {
      const px = parseDim(x);
      const py = parseDim(y);
      const viaExpr = (f: (a: DimExpr, b: DimExpr) => DimExpr | null) => (px && py ? formatDim(f(px, py)) : null);
      expect(addDims(x, y)).toEqual(viaExpr((a, b) => a.add(b)));
      expect(subDims(x, y)).toEqual(viaExpr((a, b) => a.sub(b)));
      expect(mulDims(x, y)).toEqual(viaExpr((a, b) => a.mul(b)));
      expect(productOfDims([x, y])).toEqual(viaExpr((a, b) => DimExpr.of(1).mul(a).mul(b)));
      expect(dimsEqual(x, y)).toBe(px !== null && py !== null && px.equals(py));
      const d = px && py ? px.sub(py).value : undefined;
      expect(compareDims(x, y)).toBe(d === undefined ? undefined : d < 0 ? -1 : d > 0 ? 1 : 0);
      expect(staticValue(x)).toBe(px?.value);
      if (px) expect(scaleDim(x, 3)).toEqual(formatDim(px.scale(3)));
    }), { numRuns: 1000 });
  });

  test('property: add/sub/mul agree with arithmetic, and exact division inverts multiplication', () => {
    fc.assert(fc.property(exprArb, exprArb, envArb, fc.integer({ min: 1, max: 6 }), (x, y, env, k) => {
      const m = new Map(Object.entries(env));
      const ev = (d: ReturnType<typeof addDims>) => (parseDim(d) as DimExpr).evaluate(m);
      const vx = oracle(x, env);
      const vy = oracle(y, env);
      expect(ev(addDims(x, y))).toBe(vx + vy + 0);
      expect(ev(subDims(x, y))).toBe(vx - vy + 0);
      expect(ev(mulDims(x, y))).toBe(vx * vy + 0);
      expect(ev(divDims(scaleDim(x, k), k))).toBe(vx);
      expect(dimsEqual(subDims(addDims(x, y), y), x)).toBe(true);
    }), { numRuns: 300 });
  });
});
