import { Node, tensor, verify } from '../../../src/ir';
import { defineRule, explain, failure, formatExplanation, patternOps, scalar, scalarOf, v } from '../../../src/passes/pattern';
import { draw, input, newModel, output, scalarInit } from './graphs';

const op = patternOps();
const sdpa = defineRule({
  name: 'sdpa',
  pattern: (() => {
    const s = v('s', scalar());
    return op.Softmax(op.MatMul(op.Mul(v('q'), s), op.Mul(op.Transpose(v('k'), { perm: [0, 1, 3, 2] }), s)), { axis: -1 });
  })(),
  check: (b) => ((scalarOf(b.s) ?? 0) > 0 ? true : failure('scale must be positive', b.s)),
  rewrite: (b, m) => b.op('Identity', [m.q]),
});

/** One graph with four Softmax candidates: a match, a wrong perm, a negative scale, a bare Softmax. */
function candidates() {
  const model = newModel();
  const g = model.graph;
  const b = draw(g);
  const q = input(g, 'q', [1, 2, 3, 4]);
  const k = input(g, 'k', [1, 2, 3, 4]);
  const s = scalarInit(g, 'scale', 0.7);
  const neg = g.addInitializer('neg_scale', tensor.float32([], [-0.7]));
  const core = (name: string, perm: number[], scale = s) => {
    const kt = b.op('Transpose', [k], { perm }, { name: `${name}_transpose` });
    const mm = b.op('MatMul', [b.op('Mul', [q, scale]), b.op('Mul', [kt, scale])]);
    return output(g, b.op('Softmax', [mm], { axis: -1 }, { name: `${name}_softmax` }), `${name}_out`);
  };
  core('bad_perm', [0, 2, 1, 3]);
  core('good', [0, 1, 3, 2]);
  output(g, b.op('Softmax', [q], { axis: -1 }, { name: 'bare_softmax' }), 'bare_out');
  core('neg', [0, 1, 3, 2], neg);
  expect(verify(model)).toEqual([]);
  return model;
}

describe('explain', () => {
  it('reports every candidate root, closest first, with where and why it failed', () => {
    const model = candidates();
    const nodesBefore = [...model.graph.nodes];
    const ex = explain(sdpa, model);
    expect([...model.graph.nodes]).toEqual(nodesBefore); // explain changes nothing
    expect(ex.map((e) => [e.root.name, e.status, e.depth])).toEqual([
      ['good_softmax', 'matched', 5],
      ['neg_softmax', 'check', 5],
      ['bad_perm_softmax', 'match', 4],
      ['bare_softmax', 'match', 1],
    ]);
    expect(ex[1].reason).toBe('scale must be positive');
    expect(ex[1].value?.name).toBe('neg_scale');
    expect(ex[2].node?.name).toBe('bad_perm_transpose');
    expect(ex[2].reason).toMatch(/attribute 'perm'.*found \[0, 2, 1, 3\], expected \[0, 1, 3, 2\]/);
    expect(ex[3].reason).toMatch(/expected MatMul, found graph input 'q'/);
    expect(ex.every((e) => e.patternSize === 5)).toBe(true);
  });

  it('formats a readable report', () => {
    const model = candidates();
    const text = formatExplanation(sdpa, explain(sdpa, model), { limit: 3 });
    const lines = text.split('\n');
    expect(lines[0]).toBe("rule 'sdpa': 4 candidate root(s) (Softmax), 1 match(es)");
    expect(lines[1]).toBe("#1 'good_softmax' (Softmax) in graph 'main' — matches (5 node(s)), would be rewritten");
    expect(lines[2]).toBe("#2 'neg_softmax' (Softmax) in graph 'main' — rejected by check after 5/5 pattern node(s)");
    expect(lines[3]).toBe("   stopped at value 'neg_scale': scale must be positive");
    expect(lines[4]).toBe("#3 'bad_perm_softmax' (Softmax) in graph 'main' — mismatch after 4/5 pattern node(s)");
    expect(lines[5]).toMatch(/^ {3}stopped at 'bad_perm_transpose' \(Transpose\): attribute 'perm' of .*: found \[0, 2, 1, 3\], expected \[0, 1, 3, 2\]$/);
    expect(lines[6]).toBe('… 1 more candidate(s)');
  });

  it('says when no node has the root op', () => {
    const model = newModel();
    output(model.graph, draw(model.graph).op('Relu', [input(model.graph, 'x', [1])]), 'y');
    const ex = explain(sdpa, model);
    expect(ex).toEqual([]);
    expect(formatExplanation(sdpa, ex)).toBe("rule 'sdpa': 0 candidate root(s) (Softmax), 0 match(es)\n  no node has op Softmax");
  });

  it('reports an escaping intermediate as its own stage', () => {
    const model = candidates();
    const g = model.graph;
    const good = [...g.nodes].find((n) => n.name === 'good_softmax') as Node;
    const mm = good.inputs[0]?.producer as Node;
    output(g, draw(g).op('Relu', [mm.output]), 'leak');
    const e = explain(sdpa, model).find((x) => x.root === good);
    expect(e?.status).toBe('uses');
    expect(e?.reason).toMatch(/also used by .*Relu/);
  });
});
