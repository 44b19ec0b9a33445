import { Attribute, DataType, Graph, Model, tensor, tensorType, assertValid } from '../../../src/ir';
import { CommonSubexpressionElimination } from '../../../src/passes/common/cse';
import { defaultRegistry } from '../../../src/passes/registry';
import { floatInput, newModel, opSequence } from '../helpers';

function run(model: Model) {
  const result = new CommonSubexpressionElimination().run(model);
  assertValid(model);
  return result;
}

describe('cse', () => {
  it('is registered, after identity_cleanup', () => {
    const def = defaultRegistry.get('cse');
    expect(def.factory()).toBeInstanceOf(CommonSubexpressionElimination);
    expect(def.after).toContain('identity_cleanup');
  });

  it('merges duplicates transitively and rewires their uses', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const y = floatInput(g, 'y');
    const a1 = g.add({ op: 'Add', name: 'a1', inputs: [x, y] }).output;
    const a2 = g.add({ op: 'Add', name: 'a2', inputs: [x, y] }).output;
    const n1 = g.add({ op: 'Neg', name: 'n1', inputs: [a1] }).output;
    const n2 = g.add({ op: 'Neg', name: 'n2', inputs: [a2] }).output;
    const sum = g.add({ op: 'Mul', name: 'mul', inputs: [n1, n2] }).output;
    g.addOutput(sum);

    const r = run(m);
    expect(r.changes).toBe(2);
    expect(r.counts).toEqual({ merged_nodes: 2, redirected_duplicates: 0 });
    expect(g.nodes.toArray().map((n) => n.name)).toEqual(['a1', 'n1', 'mul']);
    const mul = g.nodes.last!;
    expect(mul.inputs[0]).toBe(n1);
    expect(mul.inputs[1]).toBe(n1);
    expect(run(m).modified).toBe(false);
  });

  it('does not merge different inputs, input order, attributes or ops', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x', [2, 3]);
    const y = floatInput(g, 'y', [2, 3]);
    const outs = [
      g.add({ op: 'Sub', inputs: [x, y] }).output,
      g.add({ op: 'Sub', inputs: [y, x] }).output,
      g.add({ op: 'Add', inputs: [x, y] }).output,
      g.add({ op: 'Softmax', inputs: [x], attributes: [Attribute.int('axis', 0)] }).output,
      g.add({ op: 'Softmax', inputs: [x], attributes: [Attribute.int('axis', 1)] }).output,
      g.add({ op: 'Softmax', inputs: [x] }).output,
      g.add({ op: 'LeakyRelu', inputs: [x], attributes: [Attribute.float('alpha', 0)] }).output,
      g.add({ op: 'LeakyRelu', inputs: [x], attributes: [Attribute.float('alpha', -0)] }).output,
    ];
    for (const o of outs) g.addOutput(o);
    expect(run(m).modified).toBe(false);
    expect(g.nodes.size).toBe(8);
  });

  it('compares attributes structurally and tensors by bytes', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x', [2, 3]);
    const c = (vals: number[]) => g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.float32([2], vals))] }).output;
    const c1 = c([1, 2]);
    const c2 = c([1, 2]); // equal bytes, another Tensor object
    const c3 = c([1, 3]);
    const t1 = g.add({ op: 'Transpose', inputs: [x], attributes: [Attribute.ints('perm', [1, 0])] }).output;
    const t2 = g.add({ op: 'Transpose', inputs: [x], attributes: [Attribute.ints('perm', [BigInt(1), BigInt(0)])] }).output;
    g.add({ op: 'Concat', name: 'cat', inputs: [c1, c2, c3, t1, t2], attributes: [Attribute.int('axis', 0)] });
    g.addOutput(g.nodes.last!.output);

    const r = run(m);
    expect(r.counts!.merged_nodes).toBe(2);
    const cat = g.nodes.last!;
    expect(cat.inputs[1]).toBe(cat.inputs[0]);
    expect(cat.inputs[2]).not.toBe(cat.inputs[0]);
    expect(cat.inputs[4]).toBe(cat.inputs[3]);
  });

  it('never merges random ops, training Dropout or nodes with subgraphs', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const yes = g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.bool([], [1]))] }).output;
    const ratio = g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.float32([], [0.5]))] }).output;
    const body = () => {
      const b = new Graph('body', g);
      b.addOutput(b.add({ op: 'Neg', inputs: [x] }).output);
      return b;
    };
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const kept = [
      g.add({ op: 'RandomNormalLike', inputs: [x] }), g.add({ op: 'RandomNormalLike', inputs: [x] }),
      g.add({ op: 'Multinomial', inputs: [x] }), g.add({ op: 'Multinomial', inputs: [x] }),
      g.add({ op: 'Dropout', inputs: [x, ratio, yes] }), g.add({ op: 'Dropout', inputs: [x, ratio, yes] }),
      g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', body()), Attribute.graph('else_branch', body())] }),
      g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', body()), Attribute.graph('else_branch', body())] }),
    ];
    for (const n of kept) g.addOutput(n.outputs[0]);
    // Inference Dropouts are deterministic and do merge.
    const d1 = g.add({ op: 'Dropout', name: 'd1', inputs: [x] }).output;
    const d2 = g.add({ op: 'Dropout', name: 'd2', inputs: [x] }).output;
    g.addOutput(g.add({ op: 'Add', inputs: [d1, d2] }).output);

    const r = run(m);
    expect(r.counts).toEqual({ merged_nodes: 1, redirected_duplicates: 0 });
    for (const n of kept) expect(n.graph).toBe(g);
    expect(opSequence(m).filter((op) => op === 'Dropout')).toHaveLength(3);
  });

  it('merges inside subgraphs', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const body = new Graph('then', g);
    const a = body.add({ op: 'Neg', inputs: [x] }).output;
    const b = body.add({ op: 'Neg', inputs: [x] }).output;
    body.addOutput(body.add({ op: 'Add', inputs: [a, b] }).output);
    const elseBody = new Graph('else', g);
    elseBody.addOutput(elseBody.add({ op: 'Relu', inputs: [x] }).output);
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    g.addOutput(g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', body), Attribute.graph('else_branch', elseBody)] }).output);
    expect(run(m).changes).toBe(1);
    expect(body.nodes.toArray().map((n) => n.op)).toEqual(['Neg', 'Add']);
  });

  it('keeps the graph output name when the duplicate is a graph output', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const inner = g.add({ op: 'Neg', name: 'n1', inputs: [x], outputs: ['inner'] }).output;
    g.add({ op: 'Relu', name: 'consumer', inputs: [inner], outputs: ['r'] });
    g.addOutput(g.nodes.last!.output);
    g.addOutput(g.add({ op: 'Neg', name: 'n2', inputs: [x], outputs: ['logits'] }).output);

    expect(run(m).counts!.merged_nodes).toBe(1);
    expect(g.outputs.map((o) => o.name)).toEqual(['r', 'logits']);
    expect(g.nodes.toArray().map((n) => n.name)).toEqual(['n1', 'consumer']);
    expect(g.outputs[1].producer!.name).toBe('n1');
    expect(g.nodes.toArray()[1].inputs[0]).toBe(g.outputs[1]);
  });

  it('keeps both nodes when both duplicates are graph outputs, moving other uses', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const o1 = g.add({ op: 'Neg', name: 'n1', inputs: [x], outputs: ['out1'] }).output;
    const o2 = g.add({ op: 'Neg', name: 'n2', inputs: [x], outputs: ['out2'] }).output;
    const r = g.add({ op: 'Relu', name: 'r', inputs: [o2], outputs: ['out3'] }).output;
    g.addOutput(o1);
    g.addOutput(o2);
    g.addOutput(r);

    const res = run(m);
    expect(res.counts).toEqual({ merged_nodes: 0, redirected_duplicates: 1 });
    expect(g.outputs.map((o) => o.name)).toEqual(['out1', 'out2', 'out3']);
    expect(g.nodes.size).toBe(3);
    expect(g.nodes.last!.inputs[0]).toBe(o1);
    expect(o2.hasUses()).toBe(false);
    expect(run(m).modified).toBe(false);
  });
});
