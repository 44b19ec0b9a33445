import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Attribute, DataType, Graph, IrError, Model, Node, OnnxLowerError, tensorType, Value } from '../../src/ir';

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix = 'onnx-lower-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

/** A model with the default-domain opset imported, so `verify` accepts its nodes. */
export function newModel(opset = 18): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', opset);
  return m;
}

export function floatInput(g: Graph, name: string, shape: readonly (number | string)[] = [4]): Value {
  return g.addInput({ name, type: tensorType(DataType.FLOAT, shape) });
}

/** x → Neg → Relu → Exp → output, returning the pieces. */
export function chain(): { m: Model; g: Graph; x: Value; neg: Node; relu: Node; exp: Node } {
  const m = newModel();
  const g = m.graph;
  const x = floatInput(g, 'x');
  const neg = g.add({ op: 'Neg', name: 'neg', inputs: [x], outputs: ['a'] });
  const relu = g.add({ op: 'Relu', name: 'relu', inputs: [neg.output], outputs: ['b'] });
  const exp = g.add({ op: 'Exp', name: 'exp', inputs: [relu.output], outputs: ['c'] });
  g.addOutput(exp.output);
  return { m, g, x, neg, relu, exp };
}

/** An If node whose branches use `outer` values directly (then: Neg(outer[0]); else: Identity(outer[1])). */
export function ifNode(g: Graph, cond: Value, outer: readonly [Value, Value], name = 'if'): { node: Node; thenG: Graph; elseG: Graph } {
  const thenG = new Graph(`${name}_then`, g);
  const t = thenG.add({ op: 'Neg', name: `${name}_then_neg`, inputs: [outer[0]], outputs: [`${name}_t`] });
  thenG.addOutput(t.output);
  const elseG = new Graph(`${name}_else`, g);
  const e = elseG.add({ op: 'Identity', name: `${name}_else_id`, inputs: [outer[1]], outputs: [`${name}_e`] });
  elseG.addOutput(e.output);
  const node = g.add({
    op: 'If', name, inputs: [cond], outputs: [`${name}_out`],
    attributes: [Attribute.graph('then_branch', thenG), Attribute.graph('else_branch', elseG)],
  });
  return { node, thenG, elseG };
}

/** `(node name, input index)` pairs of a value's uses, sorted (for order-free comparison). */
export function useKeys(v: Value): string[] {
  return v.uses().map((u) => `${u.node.name}:${u.index}`).sort();
}

/** Runs `fn`, expects an IrError (or other OnnxLowerError subclass) with `code`, returns it. */
export function expectError<E extends OnnxLowerError = IrError>(fn: () => unknown, code: string, cls: new (...a: never[]) => E = IrError as never): E {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof cls)) throw new Error(`expected ${cls.name} ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  if (caught.code !== code) throw new Error(`expected code ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}
