import { Attribute, DataType, Graph, tensor, tensorType, assertValid } from '../../../src/ir';
import { UnusedInitializers } from '../../../src/passes/common/unused-initializers';
import { defaultRegistry } from '../../../src/passes/registry';
import { floatInput, newModel } from '../helpers';

describe('unused_initializers', () => {
  it('drops initializers nobody uses, keeps used ones, graph inputs and outputs', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const used = g.addInitializer('used', tensor.float32([4], [1, 2, 3, 4]));
    g.addInitializer('unused', tensor.float32([4], [0, 0, 0, 0]));
    const asOutput = g.addInitializer('as_output', tensor.float32([1], [7]));
    const withDefault = g.addInput({ name: 'with_default', type: tensorType(DataType.FLOAT, [4]) });
    g.setInitializerOf(withDefault, tensor.float32([4], [1, 1, 1, 1]));
    const inBody = g.addInitializer('in_body', tensor.float32([4], [5, 5, 5, 5]));
    const body = new Graph('then', g);
    body.addInitializer('body_unused', tensor.float32([1], [3]));
    body.addOutput(body.add({ op: 'Add', inputs: [x, inBody] }).output);
    const elseBody = new Graph('else', g);
    elseBody.addOutput(elseBody.add({ op: 'Neg', inputs: [x] }).output);
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    g.addOutput(g.add({ op: 'Add', inputs: [x, used] }).output);
    g.addOutput(g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', body), Attribute.graph('else_branch', elseBody)] }).output);
    g.addOutput(asOutput);

    const r = new UnusedInitializers().run(m);
    assertValid(m);
    expect(r.changes).toBe(2);
    expect([...g.initializers.keys()].sort()).toEqual(['as_output', 'in_body', 'used', 'with_default']);
    expect(body.initializers.size).toBe(0);
    expect(g.names.has('unused')).toBe(false);
    expect(new UnusedInitializers().run(m).modified).toBe(false);
  });

  it('is registered after dce and cse', () => {
    expect(defaultRegistry.get('unused_initializers').after).toEqual(['dce', 'cse']);
  });
});
