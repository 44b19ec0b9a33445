/** Subgraphs that use outer values (If/Loop bodies), scope checks, and deep clones. */
import { Attribute, cloneGraph, cloneModel, DataType, Graph, Model, Node, tensor, tensorType, Value, verify } from '../../src/ir';
import { decodeModel, encodeModel } from '../../src/ir/serde';
import { dumpModel } from '../helpers/model-dump';
import { loadExport } from '../helpers/models';
import { floatInput, ifNode, newModel, useKeys } from './ir-util';

/** main: x → Neg(a) → If(cond){then: Neg(a); else: Identity(x)} → Loop(trip, cond){body uses a and x} */
function nested(): { m: Model; g: Graph; x: Value; a: Value; iff: Node; loop: Node; body: Graph } {
  const m = newModel();
  const g = m.graph;
  const x = floatInput(g, 'x');
  const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
  const trip = g.addInitializer('trip', tensor.int64([], [3]));
  const a = g.add({ op: 'Neg', name: 'neg', inputs: [x], outputs: ['a'] }).output;
  const { node: iff } = ifNode(g, cond, [a, x]);
  const body = new Graph('loop_body', g);
  body.addInput({ name: 'iter', type: tensorType(DataType.INT64, []) });
  const bodyCond = body.addInput({ name: 'body_cond', type: tensorType(DataType.BOOL, []) });
  const carried = body.addInput({ name: 'carried', type: tensorType(DataType.FLOAT, [4]) });
  const sum = body.add({ op: 'Add', name: 'body_add', inputs: [carried, a], outputs: ['body_sum'] });
  const scaled = body.add({ op: 'Mul', name: 'body_mul', inputs: [sum.output, x], outputs: ['body_out'] });
  body.addOutput(bodyCond);
  body.addOutput(scaled.output);
  const loop = g.add({ op: 'Loop', name: 'loop', inputs: [trip, cond, iff.output], outputs: ['loop_out'], attributes: [Attribute.graph('body', body)] });
  g.addOutput(loop.output);
  return { m, g, x, a, iff, loop, body };
}

describe('subgraphs use outer values', () => {
  test('the IR links inner uses to the outer Value objects, before and after a round trip', () => {
    const { m, a, x } = nested();
    expect(verify(m)).toEqual([]);
    expect(useKeys(a)).toEqual(['body_add:1', 'if_then_neg:0']);
    expect(useKeys(x)).toEqual(['body_mul:1', 'if_else_id:0', 'neg:0']);

    const back = decodeModel(encodeModel(m));
    expect(verify(back)).toEqual([]);
    expect(dumpModel(back)).toEqual(dumpModel(m));
    const outerA = back.graph.names.lookup('a')!;
    const bodyAdd = [...back.graph.allNodes()].find((n) => n.name === 'body_add')!;
    expect(bodyAdd.inputs[1]).toBe(outerA);
    expect(bodyAdd.graph).not.toBe(back.graph);
    expect(bodyAdd.graph?.outer).toBe(back.graph);
  });

  test('verify catches out-of-scope and out-of-order uses, naming them', () => {
    const { m, g, iff, loop, body } = nested();
    const [thenG, elseG] = iff.subgraphs();
    // else-branch uses a value defined in the then-branch: sibling scope.
    elseG.nodes.first!.replaceInput(0, thenG.outputs[0]);
    // main graph uses a value defined inside the loop body.
    g.add({ op: 'Relu', name: 'peek', inputs: [body.nodes.first!.output] });
    // the loop body uses an outer value produced after the Loop node.
    const late = g.add({ op: 'Neg', name: 'late', inputs: [g.inputs[0]], outputs: ['late_v'] });
    body.nodes.first!.replaceInput(1, late.output);
    const problems = verify(m).join('\n');
    expect(problems).toMatch(/node 'if_else_id' \(Identity\) input 0 uses 'if_t', which is out of scope/);
    expect(problems).toMatch(/node 'peek' \(Relu\) input 0 uses 'body_sum', which is out of scope/);
    expect(problems).toMatch(/node 'body_add' \(Add\) input 1 uses 'late_v' before it is produced by 'late'/);
    expect(loop.graph).toBe(g);
  });

  test('a subgraph built for no outer graph is reported (its names are not checked against the model)', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const a = g.add({ op: 'Neg', name: 'neg', inputs: [x], outputs: ['a'] });
    const loose = new Graph('loose_then'); // no outer: a separate name authority
    loose.addOutput(loose.add({ op: 'Relu', name: 'inner', inputs: [a.output], outputs: ['a'] }).output);
    const iff = g.add({ op: 'If', name: 'if', inputs: [cond], attributes: [Attribute.graph('then_branch', loose), Attribute.graph('else_branch', loose)] });
    g.addOutput(iff.output);
    const problems = verify(m).join('\n');
    expect(problems).toMatch(/subgraph 'loose_then' of node 'if' \(If\) was made for no outer graph/);
    expect(problems).toMatch(/value 'a' is defined twice/);
    expect(problems).toMatch(/subgraph 'loose_then' is held by two attributes/);
  });
});

describe('clone', () => {
  test('cloneModel is deep and independent; outer references in subgraphs point at the copies', () => {
    const { m } = nested();
    const before = dumpModel(m);
    const c = cloneModel(m);
    expect(dumpModel(c)).toEqual(before);
    expect(verify(c)).toEqual([]);

    const originals = new Set<unknown>();
    for (const g of m.graph.allGraphs()) {
      originals.add(g);
      for (const v of [...g.inputs, ...g.initializers.values()]) originals.add(v);
      for (const n of g.nodes) {
        originals.add(n);
        for (const o of n.outputs) originals.add(o);
      }
    }
    for (const g of c.graph.allGraphs()) {
      expect(originals.has(g)).toBe(false);
      for (const n of g.nodes) {
        expect(originals.has(n)).toBe(false);
        for (const v of n.inputs) if (v) expect(originals.has(v)).toBe(false);
        for (const o of n.outputs) expect(originals.has(o)).toBe(false);
      }
    }
    const bodyAdd = [...c.graph.allNodes()].find((n) => n.name === 'body_add')!;
    expect(bodyAdd.inputs[1]).toBe(c.graph.names.lookup('a'));

    // Mutating the copy leaves the original alone (uses included).
    const cx = c.graph.inputs[0];
    const ca = c.graph.names.lookup('a')!;
    ca.replaceAllUsesWith(cx);
    c.graph.remove(ca.producer!);
    cx.name = 'x_renamed';
    expect(verify(c)).toEqual([]);
    expect(dumpModel(m)).toEqual(before);
    expect(useKeys(m.graph.names.lookup('a')!)).toEqual(['body_add:1', 'if_then_neg:0']);
  });

  test('a subgraph copied into the same model gets fresh names and keeps pointing at outer values', () => {
    const { m, g, iff, a, body } = nested();
    const thenG = iff.subgraphs()[0];
    const copy = cloneGraph(thenG, g);
    expect(copy.outer).toBe(g);
    expect(copy.nodes.first!.inputs[0]).toBe(a); // outer value not in the map: the original
    expect(copy.outputs[0]).not.toBe(thenG.outputs[0]);
    expect(copy.outputs[0].name).not.toBe(thenG.outputs[0].name);
    const cond2 = g.addInput({ name: 'cond2', type: tensorType(DataType.BOOL, []) });
    const iff2 = g.add({ op: 'If', name: 'if2', inputs: [cond2], attributes: [Attribute.graph('then_branch', copy), Attribute.graph('else_branch', cloneGraph(iff.subgraphs()[1], g))] });
    g.addOutput(iff2.output);
    expect(verify(m)).toEqual([]);
    expect(useKeys(a)).toEqual(['body_add:1', 'if_then_neg:0', 'if_then_neg:0'].sort());
    // A Loop body has inputs of its own: a second Loop over a copied body (an unrolling pass does this).
    const body2 = cloneGraph(body, g);
    expect(body2.inputs.map((v) => v.name)).not.toEqual(body.inputs.map((v) => v.name));
    const loop2 = g.add({ op: 'Loop', name: 'loop2', inputs: [g.initializers.get('trip')!, cond2, iff2.output], attributes: [Attribute.graph('body', body2)] });
    g.addOutput(loop2.output);
    const back = decodeModel(encodeModel(m));
    expect(verify(back)).toEqual([]);
  });

  test('a fixture clones to an equal model that encodes to the same bytes', () => {
    const m = loadExport('qwen2', 18);
    const c = cloneModel(m);
    expect(dumpModel(c)).toEqual(dumpModel(m));
    expect(Buffer.compare(Buffer.from(encodeModel(c)), Buffer.from(encodeModel(m)))).toBe(0);
  });
});
