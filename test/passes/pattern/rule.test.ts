import { Attribute, Builder, DataType, Graph, Node, RawTensor, tensor, tensorType, Value, verify } from '../../../src/ir';
import {
  applyMatch, constant, defineRule, failure, match, matchAll, matchRule, PatternError, patternOps, Rule, RULE_TAG, ruleContext,
  scalar, scalarOf, v,
} from '../../../src/passes/pattern';
import { draw, input, maxAbsDiff, newModel, output, randomData, runOrt, scalarInit, sdpaModel } from './graphs';

const op = patternOps();
const dims = { B: 1, H: 2, S: 5, D: 8 };
const shape = [dims.B, dims.H, dims.S, dims.D];
const n = shape.reduce((a, b) => a * b, 1);
const feeds = { q: { data: randomData(n, 1), dims: shape }, k: { data: randomData(n, 2), dims: shape }, v: { data: randomData(n, 3), dims: shape } };

/** MatMul(Softmax(MatMul(Mul(q, s), Mul(Transpose(k), s))), v) → Attention(q, k, v, scale = s²). */
const sdpaPattern = (() => {
  const s = v('s', scalar());
  const scores = op.MatMul(op.Mul(v('q'), s), op.Mul(op.Transpose(v('k'), { perm: [0, 1, 3, 2] }), s));
  return op.MatMul(op.Softmax(scores, { axis: -1 }), v('v'));
})();
const sdpaRule = defineRule({
  name: 'test_sdpa',
  pattern: sdpaPattern,
  check(b) {
    const s = scalarOf(b.s);
    return s !== undefined && s > 0 ? true : failure('the scale must be a positive constant', b.s);
  },
  rewrite(builder, b) {
    const s = scalarOf(b.s) as number; // recomputed: rules keep no state between check and rewrite
    return builder.op('Attention', [b.q, b.k, b.v], { scale: Attribute.float('scale', s * s) });
  },
});

function apply<B>(rule: Rule<B>, root: Node) {
  const m = matchRule(rule, root);
  if (!m.ok) throw new Error(m.reason);
  return applyMatch(rule, m);
}

function last(model: { graph: { nodes: { last: Node | undefined } } }): Node {
  return model.graph.nodes.last as Node;
}

describe('rules: rewrite', () => {
  it('replaces the SDPA subgraph by a tagged Attention node, keeps the output name, verifies, and is numerically equal', async () => {
    const model = sdpaModel(dims, { scaleFirstK: true });
    const before = await runOrt(model, feeds);
    const outcome = apply(sdpaRule, last(model));
    expect(outcome.applied).toBe(true);
    expect(outcome.removed.map((x) => x.op).sort()).toEqual(['MatMul', 'MatMul', 'Mul', 'Mul', 'Softmax', 'Transpose']);
    const g = model.graph;
    expect([...g.nodes].map((x) => x.op)).toEqual(['Attention']);
    const att = g.nodes.first as Node;
    expect(att.metadata.get(RULE_TAG)).toBe('test_sdpa');
    expect(att.attrFloat('scale')).toBeCloseTo(1 / Math.sqrt(dims.D), 6);
    expect(g.outputs.map((o) => o.name)).toEqual(['out']);
    expect(g.outputs[0].producer).toBe(att);
    expect(verify(model)).toEqual([]);
    const after = await runOrt(model, feeds);
    expect(maxAbsDiff(before.out, after.out)).toBeLessThan(1e-5);
  });

  it('keeps a matched node whose output is still used elsewhere when sharing is allowed', () => {
    const shared = defineRule({
      name: 'shared',
      pattern: op.Relu(op.Neg(v('x'))),
      allowSharedIntermediates: true,
      rewrite: (b, m) => b.op('Relu', [b.op('Neg', [m.x])]),
    });
    const model = newModel();
    const g = model.graph;
    const b = draw(g);
    const neg = b.op('Neg', [input(g, 'x', [2])]);
    output(g, b.op('Relu', [neg]), 'y');
    output(g, b.op('Exp', [neg]), 'z');
    const outcome = apply(shared, g.outputs[0].producer!);
    expect(outcome.removed.map((x) => x.op)).toEqual(['Relu']);
    expect(neg.producer?.graph).toBe(g);
    expect(verify(model)).toEqual([]);
  });

  it('inserts a tagged Identity when a graph output would be renamed onto an input', async () => {
    const mulByOne = defineRule({ name: 'mul_one', pattern: op.Mul(v('x'), 1), rewrite: (_b, m) => m.x });
    const model = newModel();
    const g = model.graph;
    output(g, draw(g).op('Mul', [input(g, 'x', [3]), scalarInit(g, 'one', 1)]), 'y');
    apply(mulByOne, g.outputs[0].producer!);
    const nodes = [...g.nodes];
    expect(nodes.map((x) => x.op)).toEqual(['Identity']);
    expect(nodes[0].metadata.get(RULE_TAG)).toBe('mul_one');
    expect(g.outputs[0].name).toBe('y');
    expect(g.inputs[0].name).toBe('x');
    expect(verify(model)).toEqual([]);
    const x = Float32Array.of(1, 2, 3);
    expect(Array.from((await runOrt(model, { x: { data: x, dims: [3] } })).y)).toEqual([1, 2, 3]);
  });

  it('rewrites uses inside subgraphs that read the matched value', () => {
    const rule = defineRule({ name: 'neg_neg', pattern: op.Neg(op.Neg(v('x'))), rewrite: (b, m) => b.op('Identity', [m.x]) });
    const model = newModel();
    const g = model.graph;
    const b = draw(g);
    const x = input(g, 'x', [2]);
    const nn = b.op('Neg', [b.op('Neg', [x])]);
    const cond = g.addInput({ name: 'c', type: tensorType(DataType.BOOL, []) });
    const thenG = new Graph('then', g);
    const t = new Builder(thenG).op('Relu', [nn]);
    thenG.addOutput(t);
    const elseG = new Graph('else', g);
    elseG.addOutput(new Builder(elseG).op('Exp', [nn]));
    output(g, b.op('If', [cond], { then_branch: thenG, else_branch: elseG }), 'y');
    apply(rule, nn.producer!);
    expect(t.producer!.inputs[0]?.producer?.op).toBe('Identity');
    expect(verify(model)).toEqual([]);
  });

  it('refuses a rewrite returning the wrong number of values and leaves the graph as it was', () => {
    const bad = defineRule({
      name: 'bad', pattern: op.Neg(v('x')),
      rewrite: (b, m): Value[] => [b.op('Neg', [m.x]), b.op('Neg', [m.x])],
    });
    const model = newModel();
    const g = model.graph;
    output(g, draw(g).op('Neg', [input(g, 'x', [2])]), 'y');
    const root = g.outputs[0].producer!;
    expect(() => apply(bad, root)).toThrow(PatternError);
    expect([...g.nodes]).toEqual([root]);
    expect(verify(model)).toEqual([]);
  });

  it('a check failure names its subject and blocks the rewrite', () => {
    const model = sdpaModel(dims);
    const scale = model.graph.initializers.get('scale')!;
    const neg = sdpaModel(dims);
    neg.graph.setInitializerOf(neg.graph.initializers.get('scale')!, tensor.float32([], [-0.5]));
    const m = match(sdpaPattern, last(neg));
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    const verdict = sdpaRule.check(m.bindings, ruleContext(m, neg));
    expect(verdict).not.toBe(true);
    if (verdict !== true && verdict) {
      expect(verdict.reason).toMatch(/positive/);
      expect((verdict.subject as Value).name).toBe('scale');
    }
    expect(scale.name).toBe('scale');
    const r = matchRule(sdpaRule, last(neg));
    expect(!r.ok && r.stage === 'check' && r.value?.name === 'scale').toBe(true);
    expect(() => apply(sdpaRule, last(neg))).toThrow(/positive/);
    expect([...neg.graph.nodes]).toHaveLength(6);
  });
});

describe('rules: multi-output rewrite', () => {
  /** [MatMul(x, w1), MatMul(x, w2)] → Split(MatMul(x, Concat(w1, w2)), 2): one GEMM instead of two. */
  const fuseGemms = defineRule({
    name: 'fuse_shared_matmul',
    pattern: [op.MatMul(v('x'), v('w1', constant())), op.MatMul(v('x'), v('w2', constant()))],
    check(b) {
      const a = b.w1.shape;
      const c = b.w2.shape;
      return a?.length === 2 && c?.length === 2 && a[0] === c[0] && typeof a[1] === 'number' && typeof c[1] === 'number'
        ? true : failure('weights must be 2-D with equal rows', b.w2);
    },
    rewrite(b, m) {
      const n1 = m.w1.shape![1] as number;
      const n2 = m.w2.shape![1] as number;
      const w = b.op('Concat', [m.w1, m.w2], { axis: 1 });
      const y = b.op('MatMul', [m.x, w]);
      const split = b.node('Split', [y, b.constant('split_sizes', tensor.int64([2], [n1, n2]))], { axis: -1 }, { outputs: 2 });
      return [split.outputs[0], split.outputs[1]];
    },
  });

  it('replaces both roots, keeps both output names and computes the same values', async () => {
    const model = newModel(18);
    const g = model.graph;
    const b = draw(g);
    const x = input(g, 'x', [3, 4]);
    const w1 = g.addInitializer('w1', RawTensor.fromArray(DataType.FLOAT, [4, 2], randomData(8, 7)));
    const w2 = g.addInitializer('w2', RawTensor.fromArray(DataType.FLOAT, [4, 3], randomData(12, 8)));
    const y1 = b.op('MatMul', [x, w1]);
    const between = b.op('Relu', [y1]); // used between the two roots
    const y2 = b.op('MatMul', [x, w2]);
    output(g, between, 'r');
    output(g, y2, 'y2');
    output(g, y1, 'y1');
    const xf = { x: { data: randomData(12, 9), dims: [3, 4] } };
    const before = await runOrt(model, xf);
    const all = [...matchAll(fuseGemms.outputs, y1.producer!)];
    expect(all).toHaveLength(1);
    applyMatch(fuseGemms, all[0]);
    expect(verify(model)).toEqual([]); // Relu reads the Split output, so the graph was re-sorted
    expect([...g.nodes].filter((nd) => nd.op === 'MatMul')).toHaveLength(1);
    expect(g.outputs.map((o) => o.name)).toEqual(['r', 'y2', 'y1']);
    for (const nd of g.nodes) if (nd.op !== 'Relu') expect(nd.metadata.get(RULE_TAG)).toBe('fuse_shared_matmul');
    const after = await runOrt(model, xf);
    for (const k of ['r', 'y1', 'y2']) expect(maxAbsDiff(before[k], after[k])).toBeLessThan(1e-6);
  });
});
