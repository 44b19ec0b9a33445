import { Attribute, DataType, Graph, Node, tensorType, verify } from '../../../src/ir';
import { TopologicalSort } from '../../../src/passes/common/topological-sort';
import { floatInput, newModel } from '../helpers';

describe('topological_sort', () => {
  it('orders a scrambled graph and its subgraph, in place', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const a = new Node({ op: 'Neg', name: 'a', inputs: [x] });
    const b = new Node({ op: 'Relu', name: 'b', inputs: [a.output] });
    const body = new Graph('then', g);
    const bodyFirst = new Node({ op: 'Neg', name: 'inner1', inputs: [b.output] });
    const bodySecond = new Node({ op: 'Relu', name: 'inner2', inputs: [bodyFirst.output] });
    body.append(bodySecond);
    body.append(bodyFirst);
    body.addOutput(bodySecond.output);
    const elseBody = new Graph('else', g);
    elseBody.addOutput(x);
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    // The If uses b only from inside its body: that still orders it after b.
    const ifNode = new Node({ op: 'If', name: 'if', inputs: [cond], attributes: [Attribute.graph('then_branch', body), Attribute.graph('else_branch', elseBody)] });
    g.append(ifNode);
    g.append(b);
    g.append(a);
    g.addOutput(ifNode.output);
    expect(verify(m).length).toBeGreaterThan(0);

    const r = new TopologicalSort().run(m);
    expect(r.model).toBe(m);
    expect(r.changes).toBe(2);
    expect(g.nodes.toArray().map((n) => n.name)).toEqual(['a', 'b', 'if']);
    expect(body.nodes.toArray().map((n) => n.name)).toEqual(['inner1', 'inner2']);
    expect(verify(m)).toEqual([]);
    expect(new TopologicalSort().run(m).modified).toBe(false);
  });
});
