import { Attribute, AttrType, tensor, verify } from '../../../src/ir';
import {
  anyValue, attr, constant, match, matchAll, oneOf, optional, patternOps, scalar, v,
} from '../../../src/passes/pattern';
import { draw, input, newModel, output, scalarInit, sdpaModel } from './graphs';

const op = patternOps();
const dims = { B: 1, H: 2, S: 3, D: 4 };

/** Softmax(MatMul(Mul(q, s), Mul(Transpose(k), s))) with one shared scalar scale. */
function sdpaCore() {
  const s = v('s', scalar());
  const kt = op.Transpose(v('k'), { perm: [0, 1, 3, 2] });
  return op.Softmax(op.MatMul(op.Mul(v('q'), s), op.Mul(kt, s)), { axis: -1 });
}

function softmaxOf(model: ReturnType<typeof sdpaModel>) {
  const n = [...model.graph.nodes].find((x) => x.op === 'Softmax');
  if (!n) throw new Error('no Softmax');
  return n;
}

describe('matcher: SDPA core', () => {
  it('matches and binds q, k and the shared scale', () => {
    const model = sdpaModel(dims);
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.bindings.q.name).toBe('q');
    expect(r.bindings.k.name).toBe('k');
    expect(r.bindings.s.name).toBe('scale');
    expect(r.nodes.map((n) => n.op)).toEqual(['Softmax', 'MatMul', 'Mul', 'Mul', 'Transpose']);
    expect(r.outputs).toEqual([softmaxOf(model).output]);
  });

  it.each([
    [false, true],
    [true, false],
    [true, true],
  ])('matches commuted Mul inputs (scale first on q: %s, on k: %s) without rule variants', (scaleFirstQ, scaleFirstK) => {
    const model = sdpaModel(dims, { scaleFirstQ, scaleFirstK });
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(true);
    if (r.ok) expect([r.bindings.q.name, r.bindings.k.name, r.bindings.s.name]).toEqual(['q', 'k', 'scale']);
  });

  it('matches a scale held by a Constant node and reports that node as a shared constant', () => {
    const model = sdpaModel(dims, { constantNode: true });
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.constants.map((n) => n.op)).toEqual(['Constant']);
      expect(r.nodes.some((n) => n.op === 'Constant')).toBe(false);
    }
  });

  it('requires a variable used twice to bind the same value', () => {
    const model = sdpaModel(dims, { otherKScale: true });
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(/%s is already bound to 'scale', found 'scale_k'/);
    expect(r.value?.name).toBe('scale_k');
    expect(r.stage).toBe('match');
  });

  it('names the node where an attribute mismatch stopped matching, with the depth reached', () => {
    const model = sdpaModel(dims, { perm: [0, 2, 1, 3] });
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.node?.op).toBe('Transpose');
    expect(r.reason).toContain("attribute 'perm'");
    expect(r.reason).toContain('[0, 2, 1, 3]');
    expect(r.reason).toContain('[0, 1, 3, 2]');
    expect(r.depth).toBe(4); // Softmax, MatMul, Mul(q), Mul(k) matched before the Transpose
  });

  it('names the op found where another was expected', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const x = input(g, 'x', [2]);
    const d = b.op('Div', [x, scalarInit(g, 'c', 2)]);
    output(g, b.op('Softmax', [d], { axis: -1 }), 'y');
    const r = match(op.Softmax(op.Mul(v('x'), scalar())), g.outputs[0].producer!);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(/expected Mul, found '.*' \(Div\)/);
    expect(r.node).toBe(d.producer);
    expect(r.value).toBe(d);
    expect(r.depth).toBe(1);
  });

  it('refuses a match whose intermediate is used outside it, unless the rule allows sharing', () => {
    const model = sdpaModel(dims);
    const g = model.graph;
    const mm = [...g.nodes].find((n) => n.op === 'MatMul')!;
    output(g, draw(g).op('Relu', [mm.output]), 'leak');
    const r = match(sdpaCore(), softmaxOf(model));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.stage).toBe('uses');
    expect(r.reason).toMatch(/intermediate value '.*' of .*MatMul.* is also used by .*Relu/);
    expect(match(sdpaCore(), softmaxOf(model), { allowSharedIntermediates: true }).ok).toBe(true);
  });

  it('refuses an intermediate that is a graph output', () => {
    const model = sdpaModel(dims);
    const g = model.graph;
    const kt = [...g.nodes].find((n) => n.op === 'Transpose')!;
    g.addOutput(kt.output);
    const r = match(sdpaCore(), softmaxOf(model));
    expect(!r.ok && r.stage === 'uses' && /is a graph output/.test(r.reason)).toBe(true);
  });
});

describe('matcher: constants and attributes', () => {
  function scaled(form: 'init' | 'constant' | 'input-with-default', value = 0.5) {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const x = input(g, 'x', [2]);
    let c;
    if (form === 'init') c = scalarInit(g, 'c', value);
    else if (form === 'constant') c = b.op('Constant', [], { value_float: Attribute.float('value_float', value) });
    else {
      c = input(g, 'c', []);
      g.setInitializerOf(c, tensor.float32([], [value]));
    }
    output(g, b.op('Mul', [x, c]), 'y');
    return g.outputs[0].producer!;
  }

  it('matches initializers and Constant nodes (value_float too), but not overridable inputs', () => {
    const p = op.Mul(v('x'), v('c', scalar()));
    expect(match(p, scaled('init')).ok).toBe(true);
    expect(match(p, scaled('constant')).ok).toBe(true);
    const r = match(p, scaled('input-with-default'));
    expect(!r.ok && /expected scalar, found graph input 'c'/.test(r.reason)).toBe(true);
  });

  it('applies predicates on the numbers and reports rejected values', () => {
    const positive = op.Mul(v('x'), scalar((x) => x > 0, 'x > 0'));
    expect(match(positive, scaled('init', 0.5)).ok).toBe(true);
    const r = match(positive, scaled('init', -2));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe("constant 'c' = -2 rejected by x > 0");
    expect(match(op.Mul(v('x'), 0.5), scaled('init', 0.5)).ok).toBe(true); // number literal = scalar near it
    expect(match(op.Mul(v('x'), 0.25), scaled('init', 0.5)).ok).toBe(false);
  });

  it('distinguishes constant() from scalar() by element count', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const w = g.addInitializer('w', tensor.float32([2], [1, 2]));
    output(g, b.op('Add', [input(g, 'x', [2]), w]), 'y');
    const root = g.outputs[0].producer!;
    expect(match(op.Add(v('x'), constant((xs) => xs.length === 2 && xs[1] === 2)), root).ok).toBe(true);
    const r = match(op.Add(v('x'), scalar()), root);
    expect(!r.ok && /scalar constant, 'w' has shape \[2\]/.test(r.reason)).toBe(true);
  });

  function softmax(attrs: Record<string, number | number[]>) {
    const m = newModel();
    const g = m.graph;
    output(g, draw(g).op('Softmax', [input(g, 'x', [2])], attrs), 'y');
    return g.outputs[0].producer!;
  }

  it('supports exact, any, oneOf, pred, default and capture attribute matchers', () => {
    expect(match(op.Softmax(v('x'), { axis: -1 }), softmax({ axis: -1 })).ok).toBe(true);
    expect(match(op.Softmax(v('x'), { axis: -1 }), softmax({ axis: 1 })).ok).toBe(false);
    expect(match(op.Softmax(v('x'), { axis: attr.any() }), softmax({ axis: 3 })).ok).toBe(true);
    expect(match(op.Softmax(v('x'), { axis: attr.any() }), softmax({})).ok).toBe(false);
    expect(match(op.Softmax(v('x'), { axis: attr.oneOf(-1, 3) }), softmax({ axis: 3 })).ok).toBe(true);
    expect(match(op.Softmax(v('x'), { axis: attr.pred((a) => Number(a) < 0, 'negative') }), softmax({ axis: 2 })).ok).toBe(false);
    expect(match(op.Softmax(v('x'), { axis: attr.eq(-1, { default: -1 }) }), softmax({})).ok).toBe(true);
    expect(match(op.Softmax(v('x'), { axis: attr.absent() }), softmax({ axis: 1 })).ok).toBe(false);
    expect(match(op.Softmax(v('x'), { axis: attr.optional(-1) }), softmax({})).ok).toBe(true);
    const r = match(op.Softmax(v('x'), { axis: attr.capture('axis', attr.oneOf(-1, 1)) }), softmax({ axis: 1 }));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.bindings.axis.data).toEqual({ type: AttrType.INT, value: 1 });
      expect(r.bindings.x.name).toBe('x');
    }
  });

  it('requires a capture name used on two nodes to see equal attributes', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const t = b.op('Transpose', [input(g, 'x', [2, 3])], { perm: [1, 0] });
    output(g, b.op('Transpose', [t], { perm: [1, 0] }), 'y');
    const root = g.outputs[0].producer!;
    const same = op.Transpose(op.Transpose(v('x'), { perm: attr.capture('p') }), { perm: attr.capture('p') });
    expect(match(same, root).ok).toBe(true);
    (t.producer!).setAttr(Attribute.ints('perm', [0, 1]));
    const r = match(same, root);
    expect(!r.ok && /capture 'p' is already bound/.test(r.reason)).toBe(true);
  });

  it('binds nodes with `as` and rejects extra inputs unless allowed', () => {
    const m = newModel();
    const g = m.graph;
    const x = input(g, 'x', [2, 3]);
    const clip = draw(g).op('Clip', [x, scalarInit(g, 'lo', 0), scalarInit(g, 'hi', 6)]);
    output(g, clip, 'y');
    const root = clip.producer!;
    const r1 = match(op.node('Clip', [v('x')]), root);
    expect(!r1.ok && /has input 1 \('lo'\), the pattern has 1 input/.test(r1.reason)).toBe(true);
    const r2 = match(op.node('Clip', [v('x')], {}, { as: 'clip', allowOtherInputs: true }), root);
    expect(r2.ok && r2.bindings.clip === root).toBe(true);
    expect(match(op.Clip(v('x'), anyValue(), scalar((hi) => hi === 6)), root).ok).toBe(true);
  });

  it('matches omitted optional inputs with null', () => {
    const m = newModel();
    const g = m.graph;
    const x = input(g, 'x', [2, 3]);
    const clip = draw(g).op('Clip', [x, null, scalarInit(g, 'hi', 6)]);
    output(g, clip, 'y');
    expect(match(op.Clip(v('x'), null, scalar()), clip.producer!).ok).toBe(true);
    const r = match(op.Clip(v('x'), scalar(), scalar()), clip.producer!);
    expect(!r.ok && /the input is omitted/.test(r.reason) && r.value === null).toBe(true);
  });
});

describe('matcher: optional, alternatives and GELU forms', () => {
  /** Erf GELU as exporters write it: x * 0.5 * (1 + erf(x / sqrt 2)), in a few association orders. */
  function erfGelu(form: 'div' | 'mul', cast: boolean, swap: boolean) {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    let x = input(g, 'x', [4]);
    if (cast) x = b.op('Cast', [x], { to: 1 });
    const scaled = form === 'div' ? b.op('Div', [x, scalarInit(g, 'sqrt2', Math.SQRT2)]) : b.op('Mul', [x, scalarInit(g, 'inv_sqrt2', Math.SQRT1_2)]);
    const e = b.op('Erf', [scaled]);
    const one = b.op('Add', swap ? [scalarInit(g, 'one', 1), e] : [e, scalarInit(g, 'one', 1)]);
    const half = b.op('Mul', swap ? [scalarInit(g, 'half', 0.5), x] : [x, scalarInit(g, 'half', 0.5)]);
    output(g, b.op('Mul', swap ? [one, half] : [half, one]), 'y');
    expect(verify(m)).toEqual([]);
    return { root: g.outputs[0].producer!, input: g.inputs[0] };
  }

  const x = v('x');
  const inner = oneOf(op.Div(x, Math.SQRT2), op.Mul(x, Math.SQRT1_2));
  const gelu = op.Mul(op.Mul(x, 0.5), op.Add(op.Erf(inner), 1));

  it.each([
    ['div', false], ['div', true], ['mul', false], ['mul', true],
  ] as const)('one rule matches the %s form (swapped: %s)', (form, swap) => {
    const { root, input: xin } = erfGelu(form, false, swap);
    const r = match(gelu, root);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.bindings.x).toBe(xin);
  });

  it('optional(Cast) matches with and without the Cast', () => {
    const p = op.Mul(op.Mul(v('x'), 0.5), op.Add(op.Erf(op.Div(v('x'), Math.SQRT2)), 1));
    const withCast = optional(op.Cast(v('raw'), { to: attr.capture('to') }));
    const pc = op.Mul(op.Mul(v('x', withCast), 0.5), op.Add(op.Erf(op.Div(v('x'), Math.SQRT2)), 1));
    const a = erfGelu('div', true, false);
    const b = erfGelu('div', false, false);
    expect(match(p, a.root).ok).toBe(true); // x binds the Cast output
    const ra = match(pc, a.root);
    expect(ra.ok).toBe(true);
    if (ra.ok) {
      expect(ra.bindings.raw).toBe(a.input);
      expect(ra.bindings.to).toBeDefined();
      expect(ra.nodes.some((n) => n.op === 'Cast')).toBe(true);
    }
    const rb = match(pc, b.root);
    expect(rb.ok).toBe(true);
    if (rb.ok) {
      expect(rb.bindings.raw).toBe(b.input); // the Cast was skipped: raw is the value itself
      expect(rb.bindings.to).toBeUndefined();
    }
  });

  it('tanh GELU with number literals matches in any commutation', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const xin = input(g, 'x', [4]);
    const cube = b.op('Pow', [xin, scalarInit(g, 'three', 3)]);
    const inner1 = b.op('Add', [b.op('Mul', [scalarInit(g, 'k', 0.044715), cube]), xin]);
    const t = b.op('Tanh', [b.op('Mul', [inner1, scalarInit(g, 'c', Math.sqrt(2 / Math.PI))])]);
    output(g, b.op('Mul', [b.op('Add', [t, scalarInit(g, 'one', 1)]), b.op('Mul', [xin, scalarInit(g, 'half', 0.5)])]), 'y');
    const X = v('x');
    const pattern = op.Mul(op.Mul(0.5, X), op.Add(1, op.Tanh(op.Mul(Math.sqrt(2 / Math.PI), op.Add(X, op.Mul(0.044715, op.Pow(X, 3)))))));
    const r = match(pattern, g.outputs[0].producer!);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.nodes).toHaveLength(8);
  });

  it('gives up with a named failure when the search budget runs out', () => {
    const model = sdpaModel(dims);
    const r = match(sdpaCore(), softmaxOf(model), { budget: 3 });
    expect(!r.ok && /search budget of 3 steps exhausted/.test(r.reason)).toBe(true);
    expect(match(sdpaCore(), softmaxOf(model)).ok).toBe(true);
  });

  it('enumerates every match lazily (both orders of a symmetric Add)', () => {
    const m = newModel();
    const g = m.graph;
    const a = input(g, 'a', [2]);
    const bb = input(g, 'b', [2]);
    output(g, draw(g).op('Add', [a, bb]), 'y');
    const all = [...matchAll(op.Add(v('l'), v('r')), g.outputs[0].producer!)];
    expect(all.map((r) => [r.bindings.l.name, r.bindings.r.name])).toEqual([['a', 'b'], ['b', 'a']]);
  });
});

describe('matcher: multi-output patterns', () => {
  it('matches the outputs of one Split node', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const split = b.node('Split', [input(g, 'x', [4])], { axis: 0 }, { outputs: 2 });
    output(g, b.op('Relu', [split.outputs[0]]), 'y0');
    output(g, b.op('Sigmoid', [split.outputs[1]]), 'y1');
    const [lo, hi] = op.node('Split', [v('x')], { axis: attr.any() }, { outputs: 2 });
    const r = match([op.Relu(lo), op.Sigmoid(hi)], g.outputs[0].producer!);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.outputs).toEqual([g.outputs[0], g.outputs[1]]);
      expect(r.nodes.filter((n) => n.op === 'Split')).toHaveLength(1);
    }
    // The same pattern rooted at the wrong output index does not match.
    const swapped = match([op.Relu(hi), op.Sigmoid(lo)], g.outputs[0].producer!);
    expect(!swapped.ok && /expected output 1 of Split/.test(swapped.reason)).toBe(true);
  });

  it('matches two roots sharing an input, each root a distinct node', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const x = input(g, 'x', [2, 4]);
    const w1 = g.addInitializer('w1', tensor.float32([4, 3], new Array(12).fill(1)));
    const w2 = g.addInitializer('w2', tensor.float32([4, 3], new Array(12).fill(2)));
    const y1 = b.op('MatMul', [x, w1]);
    const y2 = b.op('MatMul', [x, w2]);
    output(g, y1, 'y1');
    output(g, y2, 'y2');
    const r = match([op.MatMul(v('x'), v('w1', constant())), op.MatMul(v('x'), v('w2', constant()))], y1.producer!);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.bindings.w1.name).toBe('w1');
      expect(r.bindings.w2.name).toBe('w2');
      expect(r.outputs).toEqual([y1, y2]);
    }
  });

  it('refuses roots when a match input depends on another root (the fusion would be its own ancestor)', () => {
    const m = newModel();
    const g = m.graph;
    const b = draw(g);
    const a = input(g, 'a', [2]);
    const y1 = b.op('Neg', [a]);
    const t = b.op('Relu', [y1]);
    const y2 = b.op('Neg', [t]);
    output(g, y1, 'y1');
    output(g, y2, 'y2');
    // Neg(p)=y1 and Neg(q)=y2 with q = Relu(y1): q depends on the first root.
    const r = match([op.Neg(v('p')), op.Neg(v('q'))], y1.producer!);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.stage).toBe('uses');
    expect(r.reason).toMatch(/depends on matched node .*Neg.*cycle/);
    // Without the dependency the same pattern matches.
    y2.producer!.replaceInput(0, input(g, 'c', [2]));
    expect(match([op.Neg(v('p')), op.Neg(v('q'))], y1.producer!).ok).toBe(true);
  });
});
