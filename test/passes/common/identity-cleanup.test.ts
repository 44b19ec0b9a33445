import { Attribute, DataType, Graph, Model, Node, tensor, tensorType, Value, assertValid } from '../../../src/ir';
import { IdentityCleanup, isInferenceDropout } from '../../../src/passes/common/identity-cleanup';
import { defaultRegistry } from '../../../src/passes/registry';
import { floatInput, newModel, opSequence } from '../helpers';

function run(model: Model) {
  const result = new IdentityCleanup().run(model);
  assertValid(model);
  return result;
}

/** x:[shape] → Neg → op(…extra) → Relu → out; returns the model and the op node. */
function around(shape: (number | string)[], op: string, extra: (g: Graph) => (Value | null)[] = () => [], attrs: Attribute[] = []) {
  const m = newModel();
  const g = m.graph;
  const x = floatInput(g, 'x', shape);
  const n = g.add({ op: 'Neg', name: 'neg', inputs: [x], outputs: [{ name: 'n', type: tensorType(DataType.FLOAT, shape) }] }).output;
  const node = g.add({ op, name: 'target', inputs: [n, ...extra(g)], attributes: attrs });
  g.addOutput(g.add({ op: 'Relu', name: 'relu', inputs: [node.outputs[0]], outputs: ['out'] }).output);
  return { m, g, node, n };
}

const ints = (values: number[]) => (g: Graph) => [g.addInitializer('shape', tensor.int64([values.length], values))];
const constNode = (values: number[]) => (g: Graph) => [g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.int64([values.length], values))] }).output];

function removed(build: ReturnType<typeof around>): boolean {
  const r = run(build.m);
  const gone = build.node.graph === null;
  expect(r.modified).toBe(gone);
  if (gone) expect(build.g.nodes.last!.inputs[0]).toBe(build.n);
  return gone;
}

describe('identity_cleanup', () => {
  it('is registered', () => {
    expect(defaultRegistry.get('identity_cleanup').factory()).toBeInstanceOf(IdentityCleanup);
  });

  it('removes Identity chains, moving uses to the source', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    let v = g.add({ op: 'Neg', inputs: [x] }).output;
    const src = v;
    for (let i = 0; i < 3; i++) v = g.add({ op: 'Identity', inputs: [v] }).output;
    const relu = g.add({ op: 'Relu', inputs: [v] });
    g.addOutput(relu.output);
    const r = run(m);
    expect(r.changes).toBe(3);
    expect(r.counts).toEqual({ identity: 3 });
    expect(opSequence(m)).toEqual(['Neg', 'Relu']);
    expect(relu.inputs[0]).toBe(src);
  });

  it('keeps the graph output name by renaming the source value', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const n = g.add({ op: 'Neg', inputs: [x], outputs: ['hidden'] }).output;
    const id1 = g.add({ op: 'Identity', inputs: [n], outputs: ['mid'] }).output;
    g.add({ op: 'Relu', inputs: [id1], outputs: ['other'] });
    g.addOutput(g.nodes.last!.output);
    g.addOutput(g.add({ op: 'Identity', inputs: [id1], outputs: [{ name: 'logits', type: tensorType(DataType.FLOAT, [4]) }] }).output);

    run(m);
    expect(opSequence(m)).toEqual(['Neg', 'Relu']);
    expect(g.outputs.map((o) => o.name)).toEqual(['other', 'logits']);
    expect(g.outputs[1]).toBe(n);
    expect(n.type).toEqual(tensorType(DataType.FLOAT, [4]));
    expect(g.nodes.last!.inputs[0]).toBe(n);
  });

  it('keeps an Identity whose removal would change the interface', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const w = g.addInitializer('w', tensor.float32([4], [1, 2, 3, 4]));
    const n = g.add({ op: 'Neg', inputs: [x], outputs: ['n'] }).output;
    g.addOutput(g.add({ op: 'Identity', inputs: [x], outputs: ['from_input'] }).output);
    g.addOutput(g.add({ op: 'Identity', inputs: [w], outputs: ['from_init'] }).output);
    g.addOutput(n);
    g.addOutput(g.add({ op: 'Identity', inputs: [n], outputs: ['copy_of_output'] }).output);
    expect(run(m).modified).toBe(false);
    expect(g.outputs.map((o) => o.name)).toEqual(['from_input', 'from_init', 'n', 'copy_of_output']);
  });

  it('removes Cast/CastLike only to the known input type', () => {
    const to = (t: DataType) => [Attribute.int('to', t)];
    expect(removed(around([4], 'Cast', () => [], to(DataType.FLOAT)))).toBe(true);
    expect(removed(around([4], 'Cast', () => [], to(DataType.FLOAT16)))).toBe(false);
    // Unknown input type: nothing is known, nothing is removed.
    const unknown = around([4], 'Cast', () => [], to(DataType.FLOAT));
    unknown.n.type = undefined;
    expect(removed(unknown)).toBe(false);
    expect(removed(around([4], 'CastLike', (g) => [floatInput(g, 'like', [1])]))).toBe(true);
    expect(removed(around([4], 'CastLike', (g) => [g.addInput({ name: 'h', type: tensorType(DataType.FLOAT16, [1]) })]))).toBe(false);
  });

  it('removes Reshape to the identical shape', () => {
    expect(removed(around([2, 3], 'Reshape', ints([2, 3])))).toBe(true);
    expect(removed(around([2, 3], 'Reshape', constNode([2, 3])))).toBe(true);
    expect(removed(around([2, 3], 'Reshape', ints([0, -1])))).toBe(true);
    expect(removed(around(['batch', 3], 'Reshape', ints([0, 3])))).toBe(true);
    expect(removed(around(['batch', 3], 'Reshape', ints([-1, 3])))).toBe(true);
    expect(removed(around([2, 3], 'Reshape', ints([3, 2])))).toBe(false);
    expect(removed(around([2, 3], 'Reshape', ints([6])))).toBe(false);
    expect(removed(around([2, 3], 'Reshape', ints([-1, -1])))).toBe(false);
    expect(removed(around(['batch', 3], 'Reshape', ints([2, 3])))).toBe(false);
    // allowzero: 0 means a zero-sized dim, not "copy".
    expect(removed(around([2, 3], 'Reshape', ints([0, 3]), [Attribute.int('allowzero', 1)]))).toBe(false);
    // A shape fed at run time is not known.
    expect(removed(around([2, 3], 'Reshape', (g) => [g.addInput({ name: 's', type: tensorType(DataType.INT64, [2]) })]))).toBe(false);
  });

  it('does not trust an initializer that is also a graph input', () => {
    const b = around([2, 3], 'Reshape', (g) => {
      const s = g.addInput({ name: 's', type: tensorType(DataType.INT64, [2]) });
      g.setInitializerOf(s, tensor.int64([2], [2, 3]));
      return [s];
    });
    expect(removed(b)).toBe(false);
  });

  it('removes Expand that broadcasts nothing', () => {
    expect(removed(around([2, 3], 'Expand', ints([1])))).toBe(true);
    expect(removed(around([2, 3], 'Expand', ints([2, 3])))).toBe(true);
    expect(removed(around(['b', 3], 'Expand', ints([1, 3])))).toBe(true);
    expect(removed(around([2, 3], 'Expand', ints([]))) ).toBe(true);
    expect(removed(around([2, 3], 'Expand', ints([4, 2, 3])))).toBe(false);
    expect(removed(around([2, 1], 'Expand', ints([2, 3])))).toBe(false);
    expect(removed(around(['b', 3], 'Expand', ints([2, 3])))).toBe(false);
  });

  it('removes inference Dropout only', () => {
    expect(removed(around([4], 'Dropout'))).toBe(true);
    const boolConst = (v: boolean) => (g: Graph) => [null, g.add({ op: 'Constant', attributes: [Attribute.tensor('value', tensor.bool([], [v]))] }).output];
    expect(removed(around([4], 'Dropout', boolConst(false)))).toBe(true);
    expect(removed(around([4], 'Dropout', boolConst(true)))).toBe(false);
    expect(removed(around([4], 'Dropout', (g) => [null, g.addInput({ name: 'train', type: tensorType(DataType.BOOL, []) })]))).toBe(false);
    expect(removed(around([4], 'Dropout', () => [], [Attribute.int('is_test', 0)]))).toBe(false);
    // A used mask keeps the node.
    const withMask = around([4], 'Dropout');
    const mask = withMask.node.appendOutput({ name: 'mask' });
    withMask.g.addOutput(mask);
    expect(removed(withMask)).toBe(false);
  });

  it('isInferenceDropout reads the training_mode constant', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const t = g.addInitializer('t', tensor.bool([], [1]));
    expect(isInferenceDropout(g.add({ op: 'Dropout', inputs: [x, null, t] }))).toBe(false);
    expect(isInferenceDropout(g.add({ op: 'Dropout', inputs: [x] }))).toBe(true);
    expect(isInferenceDropout(g.add({ op: 'Relu', inputs: [x] }))).toBe(false);
  });

  it('cleans subgraphs, keeping the body output position', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const body = new Graph('then', g);
    const inner = body.add({ op: 'Neg', inputs: [x], outputs: ['inner'] }).output;
    body.addOutput(body.add({ op: 'Identity', inputs: [inner], outputs: ['then_out'] }).output);
    const elseBody = new Graph('else', g);
    elseBody.addOutput(elseBody.add({ op: 'Identity', inputs: [x], outputs: ['else_out'] }).output);
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const ifNode: Node = g.add({ op: 'If', inputs: [cond], attributes: [Attribute.graph('then_branch', body), Attribute.graph('else_branch', elseBody)] });
    g.addOutput(ifNode.output);
    expect(run(m).changes).toBe(1);
    expect(body.outputs[0]).toBe(inner);
    expect(inner.name).toBe('then_out');
    // The else body returns an outer value through Identity: it stays (the outer value is not its own).
    expect(elseBody.nodes.size).toBe(1);
  });
});
