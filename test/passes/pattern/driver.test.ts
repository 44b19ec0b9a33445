import { Builder, Graph, tensorType, DataType, verify } from '../../../src/ir';
import { applyRules, defineRule, matchRule, PatternError, patternOps, RULE_TAG, RunMemo, v } from '../../../src/passes/pattern';
import { draw, input, maxAbsDiff, newModel, output, runOrt } from './graphs';

const op = patternOps();
const dropIdentity = defineRule({ name: 'drop_identity', pattern: op.Identity(v('x')), rewrite: (_b, m) => m.x });
const negNeg = defineRule({ name: 'neg_neg', pattern: op.Neg(op.Neg(v('x'))), rewrite: (_b, m) => m.x });

describe('applyRules', () => {
  it('runs greedily to a fixed point and counts per rule', () => {
    const model = newModel();
    const g = model.graph;
    const b = draw(g);
    let x = input(g, 'x', [2]);
    for (let i = 0; i < 3; i++) x = b.op('Identity', [x]);
    output(g, b.op('Relu', [x]), 'y');
    const r = applyRules(model, [negNeg, dropIdentity]);
    expect(r).toEqual({ changes: 3, counts: { neg_neg: 0, drop_identity: 3 }, iterations: 2, converged: true });
    expect([...g.nodes].map((n) => n.op)).toEqual(['Relu']);
    expect(g.nodes.first?.inputs[0]).toBe(g.inputs[0]);
    expect(verify(model)).toEqual([]);
  });

  it('leaves an Identity that names a graph output alone instead of looping', () => {
    const model = newModel();
    const g = model.graph;
    output(g, draw(g).op('Identity', [input(g, 'x', [2])]), 'y');
    const r = applyRules(model, [dropIdentity]);
    expect(r).toMatchObject({ changes: 0, converged: true, iterations: 1 });
    expect(g.nodes.size).toBe(1);
  });

  it('survives removals around the node being visited (pairs of a Neg chain) and stays numerically equal', async () => {
    const model = newModel();
    const g = model.graph;
    const b = draw(g);
    let x = input(g, 'x', [3]);
    for (let i = 0; i < 7; i++) x = b.op('Neg', [x]);
    output(g, x, 'y');
    const feeds = { x: { data: Float32Array.of(1, -2, 3), dims: [3] } };
    const before = await runOrt(model, feeds);
    const r = applyRules(model, [negNeg]);
    expect(r.counts.neg_neg).toBe(3);
    expect([...g.nodes].map((n) => n.op)).toEqual(['Neg']);
    expect(g.outputs[0].name).toBe('y');
    expect(verify(model)).toEqual([]);
    expect(maxAbsDiff(before.y, (await runOrt(model, feeds)).y)).toBe(0);
  });

  it('tries rules in order: the first that matches a node wins', () => {
    const first = defineRule({ name: 'first', pattern: op.Relu(v('x')), rewrite: (b, m) => b.op('Sigmoid', [m.x]) });
    const second = defineRule({ name: 'second', pattern: op.Relu(v('x')), rewrite: (b, m) => b.op('Tanh', [m.x]) });
    const model = newModel();
    const g = model.graph;
    output(g, draw(g).op('Relu', [input(g, 'x', [2])]), 'y');
    const r = applyRules(model, [first, second]);
    expect(r.counts).toEqual({ first: 1, second: 0 });
    expect(g.nodes.first?.op).toBe('Sigmoid');
    expect(g.nodes.first?.metadata.get(RULE_TAG)).toBe('first');
  });

  it('rewrites inside subgraphs (If branches) that use outer values', () => {
    const model = newModel();
    const g = model.graph;
    const x = input(g, 'x', [2]);
    const cond = g.addInput({ name: 'c', type: tensorType(DataType.BOOL, []) });
    const thenG = new Graph('then', g);
    const tb = new Builder(thenG);
    thenG.addOutput(tb.op('Relu', [tb.op('Neg', [tb.op('Neg', [x])])]));
    const elseG = new Graph('else', g);
    elseG.addOutput(new Builder(elseG).op('Identity', [x]));
    output(g, draw(g).op('If', [cond], { then_branch: thenG, else_branch: elseG }), 'y');
    const r = applyRules(model, [negNeg, dropIdentity]);
    expect(r.counts).toEqual({ neg_neg: 1, drop_identity: 0 }); // the else Identity is a subgraph output
    expect([...thenG.nodes].map((n) => n.op)).toEqual(['Relu']);
    expect(thenG.nodes.first?.inputs[0]).toBe(x);
    expect(verify(model)).toEqual([]);
  });

  it('stops after maxIterations when rules never settle, and says so', () => {
    const churn = defineRule({ name: 'churn', pattern: op.Relu(v('x')), rewrite: (b, m) => b.op('Relu', [m.x]) });
    const model = newModel();
    const g = model.graph;
    output(g, draw(g).op('Relu', [input(g, 'x', [2])]), 'y');
    const log: string[] = [];
    const r = applyRules(model, [churn], { maxIterations: 3, log: (s) => log.push(s) });
    expect(r).toEqual({ changes: 3, counts: { churn: 3 }, iterations: 3, converged: false });
    expect(log).toHaveLength(3);
    expect(log[0]).toMatch(/^churn: rewrote 1 node\(s\) at .*Relu/);
    expect(g.outputs[0].name).toBe('y');
    expect(verify(model)).toEqual([]);
  });

  it('gives every check and rewrite of one run the same memo, and a bare matchRule a fresh one', () => {
    const model = newModel();
    const g = model.graph;
    const b = draw(g);
    const x = input(g, 'x', [2]);
    // Three Identity nodes reading one value: the fact about x is computed once per run.
    for (let i = 0; i < 3; i++) output(g, b.op('Relu', [b.op('Identity', [x])]), `y${i}`);
    let computed = 0;
    const memos = new Set<RunMemo>();
    const fact = (memo: RunMemo, about: unknown) => memo.get(['test.fact', about], () => ++computed);
    const rule = defineRule({
      name: 'drop_identity_memo',
      pattern: op.Identity(v('x')),
      check: (m, ctx) => {
        memos.add(ctx.memo);
        return fact(ctx.memo, m.x) === 1;
      },
      rewrite: (_b, m, ctx) => {
        memos.add(ctx.memo);
        fact(ctx.memo, m.x);
        return m.x;
      },
    });
    expect(applyRules(model, [rule]).counts.drop_identity_memo).toBe(3);
    expect(computed).toBe(1);
    expect(memos.size).toBe(1);
    const relu = g.nodes.first as NonNullable<typeof g.nodes.first>;
    matchRule(defineRule({ name: 'relu', pattern: op.Relu(v('x')), check: (_m, ctx) => (memos.add(ctx.memo), true), rewrite: (_b, m) => m.x }), relu, model);
    expect(memos.size).toBe(2);
  });

  it('refuses two rules with one name', () => {
    expect(() => applyRules(newModel(), [negNeg, negNeg])).toThrow(PatternError);
  });
});
