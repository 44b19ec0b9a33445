import fc from 'fast-check';
import { Attribute, Graph, Node, Value, verify } from '../../../src/ir';
import { applyRules, defineRule, match, patternOps, RULE_TAG, scalar, scalarOf, v, ValuePattern } from '../../../src/passes/pattern';
import { draw, input, maxAbsDiff, newModel, output, randomData, runOrt, sdpaModel } from './graphs';

type Tree = { leaf: number } | { op: 'Add' | 'Mul'; l: Tree; r: Tree };
const LEAVES = 4;

const trees = fc.letrec<{ tree: Tree; node: Tree; leaf: Tree }>((tie) => ({
  leaf: fc.record({ leaf: fc.integer({ min: 0, max: LEAVES - 1 }) }),
  node: fc.record({ op: fc.constantFrom<'Add' | 'Mul'>('Add', 'Mul'), l: tie('tree'), r: tie('tree') }),
  tree: fc.oneof({ maxDepth: 4, depthIdentifier: 'tree' }, tie('leaf'), tie('node')),
})).node;

const op = patternOps();

function toPattern(t: Tree): ValuePattern<object> {
  return 'leaf' in t ? v(`x${t.leaf}`) : op[t.op](toPattern(t.l), toPattern(t.r));
}

/** Draws the tree into a graph, swapping the inputs of internal node i when swaps[i] (and flipping op at `flip`). */
function toGraph(t: Tree, swaps: boolean[], flip = -1): { g: Graph; root: Node } {
  const model = newModel();
  const g = model.graph;
  const xs = Array.from({ length: LEAVES }, (_, i) => input(g, `x${i}`, [1]));
  const b = draw(g);
  let i = 0;
  const build = (n: Tree): Value => {
    if ('leaf' in n) return xs[n.leaf];
    const l = build(n.l);
    const r = build(n.r);
    const k = i++;
    const opName = k === flip ? (n.op === 'Add' ? 'Mul' : 'Add') : n.op;
    return b.op(opName, swaps[k % swaps.length] ? [r, l] : [l, r]);
  };
  const out = output(g, build(t), 'y');
  return { g, root: out.producer as Node };
}

function internalCount(t: Tree): number {
  return 'leaf' in t ? 0 : 1 + internalCount(t.l) + internalCount(t.r);
}

function evalTree(t: Tree, leaf: (i: number) => number): number {
  if ('leaf' in t) return leaf(t.leaf);
  const a = evalTree(t.l, leaf);
  const c = evalTree(t.r, leaf);
  return t.op === 'Add' ? a + c : a * c;
}

function evalGraph(v0: Value, env: Map<Value, number>): number {
  const known = env.get(v0);
  if (known !== undefined) return known;
  const p = v0.producer as Node;
  const a = evalGraph(p.inputs[0] as Value, env);
  const c = evalGraph(p.inputs[1] as Value, env);
  return p.op === 'Add' ? a + c : a * c;
}

describe('properties', () => {
  it('random commutations of Add/Mul inputs still match, and the bindings compute the same value', () => {
    fc.assert(
      fc.property(trees, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: LEAVES, maxLength: LEAVES }),
        (tree, swaps, nums) => {
          const { g, root } = toGraph(tree, swaps);
          const r = match(toPattern(tree), root);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          expect(r.nodes).toHaveLength(internalCount(tree));
          const env = new Map(g.inputs.map((x, i) => [x, nums[i]] as [Value, number]));
          const bound = r.bindings as Record<string, Value>;
          const viaBindings = evalTree(tree, (i) => env.get(bound[`x${i}`]) as number);
          expect(Object.is(viaBindings, evalGraph(root.output, env)) || viaBindings === evalGraph(root.output, env)).toBe(true);
        }),
      { numRuns: 200 },
    );
  });

  it('changing one op of the graph (Add ↔ Mul) never matches', () => {
    fc.assert(
      fc.property(trees, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.nat(), (tree, swaps, at) => {
        const { root } = toGraph(tree, swaps, at % internalCount(tree));
        const r = match(toPattern(tree), root);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.node ?? r.value).toBeDefined(); // it says where it stopped
      }),
      { numRuns: 200 },
    );
  });

  it('the SDPA rule fires on every exporter variant and keeps the numbers (onnxruntime)', async () => {
    const s = v('s', scalar());
    const rule = defineRule({
      name: 'sdpa_prop',
      pattern: op.MatMul(op.Softmax(op.MatMul(op.Mul(v('q'), s), op.Mul(op.Transpose(v('k'), { perm: [0, 1, 3, 2] }), s)), { axis: -1 }), v('v')),
      check: (m) => (scalarOf(m.s) ?? 0) > 0,
      rewrite: (b, m) => b.op('Attention', [m.q, m.k, m.v], { scale: Attribute.float('scale', (scalarOf(m.s) as number) ** 2) }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 1, max: 3 }), S: fc.integer({ min: 1, max: 6 }), D: fc.constantFrom(2, 4, 8, 16) }),
        fc.record({ scaleFirstQ: fc.boolean(), scaleFirstK: fc.boolean(), constantNode: fc.boolean() }),
        async (dims, form) => {
          const model = sdpaModel(dims, form);
          const shape = [dims.B, dims.H, dims.S, dims.D];
          const n = shape.reduce((a, b) => a * b, 1);
          const feeds = Object.fromEntries(['q', 'k', 'v'].map((name, i) => [name, { data: randomData(n, 11 + i), dims: shape }]));
          const before = await runOrt(model, feeds);
          const r = applyRules(model, [rule]);
          expect(r.counts.sdpa_prop).toBe(1);
          expect([...model.graph.nodes].map((x) => x.op)).toEqual(['Attention']); // the Constant node went too
          expect(model.graph.nodes.first?.metadata.get(RULE_TAG)).toBe('sdpa_prop');
          expect(verify(model)).toEqual([]);
          const after = await runOrt(model, feeds);
          expect(maxAbsDiff(before.out, after.out)).toBeLessThan(1e-5);
        }),
      { numRuns: 12 },
    );
  });
});
