import { DataType, Graph, Model, tensorType, Value } from '../../src/ir';

export { floatInput, newModel } from '../ir/ir-util';

/** Ops the reference evaluator knows: float elementwise math plus the no-ops identity_cleanup removes. */
const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
};
const UNARY: Record<string, (a: number) => number> = {
  Neg: (a) => -a,
  Relu: (a) => (a > 0 ? a : 0),
  Identity: (a) => a,
  Cast: (a) => a, // float → float only
  Dropout: (a) => a, // inference only
  Reshape: (a) => a, // to the same shape only
  Expand: (a) => a, // broadcasting nothing only
};

/**
 * Evaluates a model of same-length float vectors with float32 rounding after each op, in node order.
 * Enough to check that a rewrite kept every graph output's value.
 */
export function evaluate(model: Model, feeds: Record<string, Float32Array>): Map<string, Float32Array> {
  const env = new Map<Value, Float32Array>();
  for (const v of model.graph.inputs) {
    const data = feeds[v.name];
    if (!data) throw new Error(`no feed for '${v.name}'`);
    env.set(v, data);
  }
  for (const v of model.graph.initializers.values()) {
    if (!env.has(v) && v.dtype === DataType.FLOAT) env.set(v, v.constValue!.toArray() as Float32Array);
  }
  const read = (v: Value | null): Float32Array => {
    const x = v && env.get(v);
    if (!x) throw new Error(`value '${v?.name}' has not been computed`);
    return x;
  };
  for (const n of model.graph.nodes) {
    const bin = BINARY[n.op];
    const un = UNARY[n.op];
    if (bin) {
      const a = read(n.inputs[0]);
      const b = read(n.inputs[1]);
      env.set(n.outputs[0], a.map((x, i) => bin(x, b[i])));
    } else if (un) {
      env.set(n.outputs[0], read(n.inputs[0]).map(un));
    } else if (n.op === 'Constant') {
      // Integer constants feed Reshape/Expand shapes; they are not vectors.
      continue;
    } else {
      throw new Error(`evaluator does not know ${n.op}`);
    }
  }
  const out = new Map<string, Float32Array>();
  for (const v of model.graph.outputs) out.set(v.name, read(v));
  return out;
}

export function opSequence(model: Model): string[] {
  return model.graph.nodes.toArray().map((n) => n.op);
}
