import { Attribute, Graph, Model, Node, Value, assertValid } from '../../../src/ir';
import { DeadCodeElimination, eliminateDeadCode } from '../../../src/passes/common/dce';
import { defaultRegistry } from '../../../src/passes/registry';
import { floatInput, newModel, opSequence } from '../helpers';

function run(model: Model) {
  const result = new DeadCodeElimination().run(model);
  assertValid(model);
  return result;
}

describe('dce', () => {
  it('is registered by importing its module', () => {
    expect(defaultRegistry.get('dce').factory()).toBeInstanceOf(DeadCodeElimination);
  });

  it('removes dead chains and keeps what reaches a graph output', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const live = g.add({ op: 'Neg', name: 'live', inputs: [x] }).output;
    const dead1 = g.add({ op: 'Relu', name: 'dead1', inputs: [live] }).output;
    const dead2 = g.add({ op: 'Add', name: 'dead2', inputs: [dead1, x] }).output;
    g.add({ op: 'Mul', name: 'dead3', inputs: [dead2, dead2] });
    const out = g.add({ op: 'Relu', name: 'out', inputs: [live] }).output;
    g.addOutput(out);

    const r = run(m);
    expect(r.modified).toBe(true);
    expect(r.changes).toBe(3);
    expect(r.counts).toEqual({ removed_nodes: 3 });
    expect(g.nodes.toArray().map((n) => n.name)).toEqual(['live', 'out']);
    expect(live.useCount).toBe(1);
    expect(x.useCount).toBe(1);
  });

  it('reports no change on a graph without dead code', () => {
    const m = newModel();
    const g = m.graph;
    g.addOutput(g.add({ op: 'Neg', inputs: [floatInput(g, 'x')] }).output);
    expect(run(m).modified).toBe(false);
    expect(g.nodes.size).toBe(1);
  });

  it('keeps a multi-output node when one output is used', () => {
    const m = newModel();
    const g = m.graph;
    const split = g.add({ op: 'Split', name: 'split', inputs: [floatInput(g, 'x')], outputs: 2 });
    g.addOutput(split.outputs[1]);
    expect(run(m).modified).toBe(false);
    expect(opSequence(m)).toEqual(['Split']);
  });

  it('handles a 50k-node dead chain without recursion', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    let v: Value = x;
    for (let i = 0; i < 50_000; i++) v = g.add({ op: 'Neg', inputs: [v] }).output;
    g.addOutput(g.add({ op: 'Relu', name: 'keep', inputs: [x] }).output);
    expect(eliminateDeadCode(m)).toBe(50_000);
    expect(opSequence(m)).toEqual(['Relu']);
  });

  it('cleans subgraphs and frees outer values used only by a removed If', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const cond = g.addInput({ name: 'cond' });
    const outerOnlyForIf = g.add({ op: 'Neg', name: 'outer_neg', inputs: [x] }).output;

    const thenG = new Graph('then', g);
    const used = thenG.add({ op: 'Relu', name: 'then_relu', inputs: [outerOnlyForIf] }).output;
    thenG.add({ op: 'Neg', name: 'then_dead', inputs: [used] });
    thenG.addOutput(used);
    const elseG = new Graph('else', g);
    elseG.addOutput(elseG.add({ op: 'Identity', name: 'else_id', inputs: [x] }).output);
    g.add({ op: 'If', name: 'if', inputs: [cond], attributes: [Attribute.graph('then_branch', thenG), Attribute.graph('else_branch', elseG)] });
    g.addOutput(g.add({ op: 'Relu', name: 'main', inputs: [x] }).output);

    // First, a live If: only the dead node inside the then-branch goes.
    const ifNode = g.nodes.toArray().find((n) => n.op === 'If') as Node;
    g.addOutput(ifNode.output);
    let r = run(m);
    expect(r.changes).toBe(1);
    expect(thenG.nodes.toArray().map((n) => n.name)).toEqual(['then_relu']);

    // Then the If dies: its bodies and the outer producer only they used go too.
    g.setOutputs([g.outputs[0]]);
    r = run(m);
    expect(r.changes).toBe(4); // If, then_relu, else_id, outer_neg
    expect(g.nodes.toArray().map((n) => n.name)).toEqual(['main']);
    expect(x.useCount).toBe(1);
  });

  it('removes dead nodes of every op, including custom domains', () => {
    const m = newModel();
    m.opsetImports.set('com.example', 1);
    const g = m.graph;
    const x = floatInput(g, 'x');
    g.add({ op: 'Print', domain: 'com.example', inputs: [x] });
    g.add({ op: 'RandomNormalLike', inputs: [x] });
    g.addOutput(x);
    expect(run(m).changes).toBe(2);
    expect(g.nodes.size).toBe(0);
  });
});
