import { Attribute } from '../../../src/ir/attribute';
import { DataType } from '../../../src/ir/dtype';
import { tensor } from '../../../src/ir/tensor';
import { checkTrt, formatViolation, RESTRICTIONS, RestrictionId, Violation } from '../../../src/converters/trt';
import { tiny, Tiny } from './graphs';

const F = DataType.FLOAT;
const I64 = DataType.INT64;

/** A 4-D fp32 Attention (Q [1,4,s,8], K/V [1,2,s,8]); `extra` adjusts inputs, attributes and outputs. */
function attention(t: Tiny, o: { q?: (string | number)[]; k?: (string | number)[]; attrs?: Record<string, number>; mask?: boolean; past?: boolean; nonpad?: boolean; outputs?: number } = {}) {
  const q = t.input('q', F, o.q ?? [1, 4, 's', 8]);
  const kShape = o.k ?? [1, 2, 's', 8];
  const k = t.input('k', F, kShape);
  const v = t.input('v', F, kShape);
  const inputs = [q, k, v, o.mask ? t.input('mask', DataType.BOOL, [1, 1, 's', 's']) : null];
  if (o.past || o.nonpad) inputs.push(o.past ? t.input('past_key', F, [1, 2, 'p', 8]) : null, o.past ? t.input('past_value', F, [1, 2, 'p', 8]) : null);
  if (o.nonpad) inputs.push(t.input('nonpad', I64, [1]));
  while (inputs.length > 3 && inputs[inputs.length - 1] === null) inputs.pop();
  const n = t.b.node('Attention', inputs, o.attrs ?? {}, { outputs: o.outputs ?? 1, name: 'attn' });
  t.output(n.outputs[0], 'y', F, o.q ?? [1, 4, 's', 8]);
  return n;
}

interface Case {
  target: string;
  build: (t: Tiny) => void;
  opset?: number;
  node?: string;
}

/** One tiny graph per restriction in the table, each violating exactly that restriction. */
const NEGATIVE: Record<RestrictionId, Case> = {
  attention_4d: { target: 'trt@10.14', build: (t) => attention(t, { q: [1, 's', 32], k: [1, 's', 16], attrs: { q_num_heads: 4, kv_num_heads: 2 } }), node: 'attn' },
  attention_no_past: { target: 'trt@10.14', build: (t) => attention(t, { past: true }), node: 'attn' },
  attention_no_nonpad_kv_seqlen: { target: 'trt@10.15', opset: 24, build: (t) => attention(t, { nonpad: true }), node: 'attn' },
  attention_no_present: {
    target: 'trt@10.14',
    build: (t) => {
      const n = attention(t, { outputs: 3 });
      t.output(n.outputs[1], 'present_key', F);
    },
    node: 'attn',
  },
  attention_no_qk_output: { target: 'trt@10.14', build: (t) => attention(t, { attrs: { qk_matmul_output_mode: 1 } }), node: 'attn' },
  attention_no_softcap: { target: 'trt@10.15', build: (t) => attention(t, { attrs: { softcap: 30 } }), node: 'attn' },
  attention_causal_alignment: { target: 'trt@10.14', build: (t) => attention(t, { q: [1, 4, 'q_len', 8], k: [1, 2, 'kv_len', 8], attrs: { is_causal: 1 } }), node: 'attn' },
  attention_causal_with_mask: { target: 'trt@10.15', build: (t) => attention(t, { mask: true, attrs: { is_causal: 1 } }), node: 'attn' },
  rotary_position_ids_int64: {
    target: 'trt@10.15',
    build: (t) => {
      const x = t.input('x', F, [1, 2, 's', 8]);
      const n = t.b.node('RotaryEmbedding', [x, t.input('cos', F, [16, 4]), t.input('sin', F, [16, 4]), t.input('pos', DataType.INT32, [1, 's'])], {}, { name: 'rope' });
      t.output(n.outputs[0], 'y', F, [1, 2, 's', 8]);
    },
    node: 'rope',
  },
  tensor_scatter_4d: {
    target: 'trt@10.15', opset: 24,
    build: (t) => {
      const n = t.b.node('TensorScatter', [t.input('cache', F, [1, 16, 8]), t.input('upd', F, [1, 's', 8]), t.input('w', I64, [1])], { axis: -2 }, { name: 'scatter' });
      t.output(n.outputs[0], 'y', F, [1, 16, 8]);
    },
    node: 'scatter',
  },
  tensor_scatter_axis: {
    target: 'trt@10.15', opset: 24,
    build: (t) => {
      const n = t.b.node('TensorScatter', [t.input('cache', F, [1, 2, 16, 8]), t.input('upd', F, [1, 2, 16, 1]), t.input('w', I64, [1])], { axis: 3 }, { name: 'scatter' });
      t.output(n.outputs[0], 'y', F, [1, 2, 16, 8]);
    },
    node: 'scatter',
  },
  reduce_axes_initializer: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('ReduceMean', [t.input('x', F, [2, 3]), t.input('axes', I64, [1])], { keepdims: 1 }, { name: 'reduce' });
      t.output(n.outputs[0], 'y', F);
    },
    node: 'reduce',
  },
  squeeze_axes_constant: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('Squeeze', [t.input('x', F, [1, 3]), t.input('axes', I64, [1])], {}, { name: 'squeeze' });
      t.output(n.outputs[0], 'y', F);
    },
    node: 'squeeze',
  },
  unsqueeze_axes_constant: {
    target: 'trt@10.8',
    build: (t) => {
      const axes = t.b.op('Shape', [t.input('n', F, ['k'])]); // data-dependent axes
      const n = t.b.node('Unsqueeze', [t.input('x', F, [3]), axes], {}, { name: 'unsqueeze' });
      t.output(n.outputs[0], 'y', F);
    },
    opset: 22,
    node: 'unsqueeze',
  },
  scatter_nd_reduction_none: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('ScatterND', [t.input('x', F, [4]), t.input('i', I64, [1, 1]), t.input('u', F, [1])], { reduction: 'add' }, { name: 'scatter' });
      t.output(n.outputs[0], 'y', F, [4]);
    },
    node: 'scatter',
  },
  layer_norm_single_output: {
    target: 'trt@10.8', opset: 22,
    build: (t) => {
      const n = t.b.node('LayerNormalization', [t.input('x', F, [2, 4]), t.b.constant('gamma', tensor.float32([4], [1, 1, 1, 1]))], {}, { outputs: 2, name: 'ln' });
      t.output(n.outputs[0], 'y', F, [2, 4]);
      t.output(n.outputs[1], 'mean', F, [2, 1]);
    },
    node: 'ln',
  },
  cumsum_axis_constant: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('CumSum', [t.input('x', F, [4]), t.input('axis', I64, [])], {}, { name: 'cumsum' });
      t.output(n.outputs[0], 'y', F, [4]);
    },
    node: 'cumsum',
  },
  topk_sorted_k: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('TopK', [t.input('x', F, [8]), t.b.constant('k', tensor.int64([1], [3]))], { sorted: 0 }, { outputs: 2, name: 'topk' });
      t.output(n.outputs[0], 'values', F, [3]);
      t.output(n.outputs[1], 'indices', I64, [3]);
    },
    node: 'topk',
  },
  dropout_inference: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('Dropout', [t.input('x', F, [4]), t.b.constant('ratio', tensor.float32([], [0.5])), t.input('training', DataType.BOOL, [])], {}, { name: 'dropout' });
      t.output(n.outputs[0], 'y', F, [4]);
    },
    node: 'dropout',
  },
  constant_attributes: {
    target: 'trt@10.15',
    build: (t) => {
      const n = t.b.node('Constant', [], { value_string: 'hello' }, { name: 'const' });
      t.output(n.outputs[0], 'y'); // untyped: only the attribute is wrong here, not a STRING element type
    },
    node: 'const',
  },
};

function violationsOf(c: Case): Violation[] {
  const t = tiny(c.opset ?? 23);
  c.build(t);
  return checkTrt(t.model, c.target);
}

describe('checkTrt: one negative test per restriction in the table', () => {
  test('the table and the tests cover the same restrictions', () => {
    expect(Object.keys(NEGATIVE).sort()).toEqual(Object.keys(RESTRICTIONS).sort());
  });

  test.each(Object.entries(NEGATIVE))('%s', (id, c) => {
    const vs = violationsOf(c);
    const hit = vs.filter((v) => v.rule === id);
    expect(hit.map(formatViolation)).toHaveLength(1);
    expect(hit[0].node).toBe(c.node);
    expect(hit[0].reason).toContain(RESTRICTIONS[id as RestrictionId].text);
    expect(hit[0].source).toBe(RESTRICTIONS[id as RestrictionId].source);
    // Nothing else is wrong with these graphs (opset and types are fine for the target).
    expect(vs.filter((v) => v.rule !== id).map(formatViolation)).toEqual([]);
  });
});

describe('checkTrt: general rules', () => {
  test('a canonical 4-D Attention is clean for 10.14 and 10.15 and rejected by 10.8 (op added in 10.14)', () => {
    const t = tiny(23);
    attention(t, { attrs: { is_causal: 1 } });
    expect(checkTrt(t.model, 'trt@10.14')).toEqual([]);
    expect(checkTrt(t.model, 'trt@10.15')).toEqual([]);
    const v8 = checkTrt(t.model, 'trt@10.8');
    expect(v8.map((v) => v.rule).sort()).toEqual(['op_not_yet_supported', 'opset_range']);
    const attn = v8.find((v) => v.rule === 'op_not_yet_supported') as Violation;
    expect(attn).toMatchObject({ node: 'attn', op: 'Attention' });
    expect(attn.reason).toContain('only from TensorRT 10.14');
    expect(attn.source).toContain('10.14: added Attention');
    const opset = v8.find((v) => v.rule === 'opset_range') as Violation;
    expect(opset.node).toBeUndefined();
    expect(opset.reason).toContain('opset 23; TensorRT 10.8 supports opsets 9 to 22');
  });

  test('RMSNormalization, RotaryEmbedding and TensorScatter need 10.15', () => {
    const t = tiny(24);
    const x = t.input('x', F, [1, 2, 4, 8]);
    const rms = t.b.node('RMSNormalization', [x, t.b.constant('g', tensor.float32([8], new Array(8).fill(1)))], {}, { name: 'rms' });
    const rope = t.b.node('RotaryEmbedding', [rms.outputs[0], t.input('cos', F, [1, 4, 4]), t.input('sin', F, [1, 4, 4])], {}, { name: 'rope' });
    const sc = t.b.node('TensorScatter', [t.input('cache', F, [1, 2, 16, 8]), rope.outputs[0], t.input('w', I64, [1])], { axis: -2 }, { name: 'scatter' });
    t.output(sc.outputs[0], 'y', F, [1, 2, 16, 8]);
    expect(checkTrt(t.model, 'trt@10.15')).toEqual([]);
    const v14 = checkTrt(t.model, 'trt@10.14');
    expect(v14.filter((v) => v.rule === 'op_not_yet_supported').map((v) => v.node)).toEqual(['rms', 'rope', 'scatter']);
    expect(v14.find((v) => v.rule === 'opset_range')?.reason).toContain('opset 24');
  });

  test('opset below 9 is out of range', () => {
    const t = tiny(8);
    t.output(t.b.op('Relu', [t.input('x', F, [2])]), 'y', F, [2]);
    expect(checkTrt(t.model, 'trt@10.15').map((v) => v.rule)).toEqual(['opset_range']);
  });

  test('ops outside ai.onnx, ops marked N and ops not in the matrix', () => {
    const t = tiny(23);
    t.model.opsetImports.set('com.microsoft', 1);
    const x = t.input('x', F, [2, 2]);
    const a = t.b.node('FusedMatMul', [x, x], {}, { domain: 'com.microsoft', name: 'fused' }).outputs[0];
    const u = t.b.node('Unique', [a], {}, { name: 'unique' }).outputs[0];
    const z = t.b.node('MadeUpOp', [u], {}, { name: 'madeup' }).outputs[0];
    t.output(z, 'y', F);
    const vs = checkTrt(t.model, 'trt@10.15');
    expect(vs.map((v) => [v.node, v.rule])).toEqual([['fused', 'custom_domain'], ['unique', 'unsupported_op'], ['madeup', 'unsupported_op']]);
    expect(vs[1].reason).toContain('marked unsupported');
    expect(vs[2].reason).toContain('not listed');
  });

  test('element types: MatMul on INT32 is rejected; integer Pow only from 10.12 (changelog)', () => {
    const t = tiny(22);
    const a = t.input('a', DataType.INT32, [2, 2]);
    t.output(t.b.node('MatMul', [a, a], {}, { name: 'mm' }).outputs[0], 'y', DataType.INT32, [2, 2]);
    t.output(t.b.node('Pow', [a, a], {}, { name: 'pow' }).outputs[0], 'z', DataType.INT32, [2, 2]);
    const v8 = checkTrt(t.model, 'trt@10.8');
    expect(v8.map((v) => [v.node, v.rule])).toEqual([['mm', 'unsupported_type'], ['pow', 'unsupported_type']]);
    expect(v8[1].reason).toContain('supported from TensorRT 10.12');
    expect(v8[1].source).toContain('10.12');
    t.model.opsetImports.set('', 23);
    expect(checkTrt(t.model, 'trt@10.14').map((v) => v.node)).toEqual(['mm']);
  });

  test('nodes inside subgraphs are checked and say where they are', () => {
    const t = tiny(22);
    const cond = t.input('c', DataType.BOOL, []);
    const x = t.input('x', F, [2]);
    const branch = (name: string, op: string) => {
      const g = new (t.graph.constructor as typeof import('../../../src/ir/graph').Graph)(name, t.graph);
      const n = g.add({ op, inputs: [x], name: `${name}_node` });
      n.outputs[0].type = { kind: 'tensor', elemType: F, shape: [2] };
      g.addOutput(n.outputs[0]);
      return g;
    };
    const ifNode = t.b.node('If', [cond], { then_branch: Attribute.graph('then_branch', branch('then', 'Relu')), else_branch: Attribute.graph('else_branch', branch('else', 'Unique')) }, { name: 'if' });
    t.output(ifNode.outputs[0], 'y', F, [2]);
    const vs = checkTrt(t.model, 'trt@10.8');
    expect(vs).toHaveLength(1);
    expect(vs[0]).toMatchObject({ node: 'else_node', rule: 'unsupported_op', graph: 'subgraph else' });
    expect(formatViolation(vs[0])).toContain("in subgraph else");
  });

  test('an unknown target is a usage error naming the choices', () => {
    const t = tiny(23);
    expect(() => checkTrt(t.model, 'trt@9.3')).toThrow(/trt@10.8, trt@10.14, trt@10.15/);
    expect(() => checkTrt(t.model, 'tensorrt-10')).toThrow(/not of the form/);
  });
});
