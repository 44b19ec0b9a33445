// silu_gate_fusion and skip_add record groups in node metadata and keep the standard ops (the graph computes the
// same, node for node); matmul_add_gemm turns 2D MatMul + Add into Gemm and keeps rank-3 MatMul.
import { DataType } from '../../../src/ir/dtype';
import {
  FUSION_GROUP_KEY, FUSION_KEY, MatmulAddGemm, matmulAddGemmRule, SILU_GATE_KEYS, SiluGateFusion, SKIP_ADD_KEY, SkipAdd,
} from '../../../src/passes/fusions';
import { explain } from '../../../src/passes/pattern/explain';
import { floatFeed, GraphKit, maxRelDiff, opCount, runOrt, runPass } from './helpers';

function swiglu(sigmoidFirst: boolean) {
  const kit = new GraphKit(18);
  const h = kit.input('h', DataType.FLOAT, [1, 3, 8]);
  const gate = kit.op('MatMul', [h, kit.floats([8, 16], Array.from({ length: 128 }, (_, i) => Math.sin(i)))]);
  const up = kit.op('MatMul', [h, kit.floats([8, 16], Array.from({ length: 128 }, (_, i) => Math.cos(i)))]);
  const sig = kit.op('Sigmoid', [gate]);
  const swish = kit.op('Mul', sigmoidFirst ? [sig, gate] : [gate, sig]);
  const y = kit.op('Mul', sigmoidFirst ? [up, swish] : [swish, up]);
  kit.output(kit.op('MatMul', [y, kit.floats([16, 8], Array.from({ length: 128 }, (_, i) => Math.sin(i * 3)))]), 'out', DataType.FLOAT);
  return { kit, gate, up, h };
}

describe('silu_gate_fusion', () => {
  test.each([false, true])('records (g·Sigmoid(g))·up as one group, ops unchanged (sigmoid first: %s)', (sigmoidFirst) => {
    const { kit } = swiglu(sigmoidFirst);
    const ops = kit.graph.nodes.toArray().map((n) => n.op);
    const report = runPass(kit.model, 'silu_gate_fusion', new SiluGateFusion());
    expect(report.passes[0].counts).toEqual({ silu_gate: 1 });
    const m = report.model;
    expect(m.graph.nodes.toArray().map((n) => n.op)).toEqual(ops);
    const tagged = m.graph.nodes.toArray().filter((n) => n.metadata.get(FUSION_KEY) === 'silu_gate');
    expect(tagged.map((n) => n.op).sort()).toEqual(['Mul', 'Mul', 'Sigmoid']);
    const root = tagged.find((n) => n.metadata.has(SILU_GATE_KEYS.gate));
    expect(root).toBeDefined();
    expect(new Set(tagged.map((n) => n.metadata.get(FUSION_GROUP_KEY)))).toEqual(new Set([root?.name]));
    expect(root?.metadata.get(SILU_GATE_KEYS.sharedInput)).toBe('h');
    // A second run finds nothing new (the fixed point is reached by the tag, not by rewriting).
    const again = runPass(m, 'silu_gate_fusion', new SiluGateFusion());
    expect(again.modified).toBe(false);
  });

  test('x·Sigmoid(y)·up with y ≠ x is not a gate', () => {
    const kit = new GraphKit(18);
    const a = kit.input('a', DataType.FLOAT, [4]);
    const b = kit.input('b', DataType.FLOAT, [4]);
    kit.output(kit.op('Mul', [kit.op('Mul', [a, kit.op('Sigmoid', [b])]), b]), 'y', DataType.FLOAT);
    expect(runPass(kit.model, 'silu_gate_fusion', new SiluGateFusion()).modified).toBe(false);
  });
});

describe('skip_add', () => {
  function residualNorm(norm: 'RMSNormalization' | 'LayerNormalization', biasAdd = false) {
    const kit = new GraphKit(23);
    const res = kit.input('residual', DataType.FLOAT, [1, 3, 8]);
    const branch = kit.input('branch', DataType.FLOAT, [1, 3, 8]);
    const sum = biasAdd ? kit.op('Add', [res, kit.floats([8], new Array(8).fill(0.1))], {}, { dtype: DataType.FLOAT, shape: [1, 3, 8] })
      : kit.op('Add', [res, branch], {}, { dtype: DataType.FLOAT, shape: [1, 3, 8] });
    const scale = kit.floats([8], new Array(8).fill(1));
    const y = kit.op(norm, norm === 'LayerNormalization' ? [sum, scale, kit.floats([8], new Array(8).fill(0))] : [sum, scale]);
    kit.output(y, 'normed', DataType.FLOAT);
    if (!biasAdd) kit.output(kit.op('Add', [sum, y]), 'next', DataType.FLOAT); // the sum is the next residual
    else kit.output(kit.op('Add', [branch, y]), 'next', DataType.FLOAT);
    return kit;
  }

  test.each(['RMSNormalization', 'LayerNormalization'] as const)('records Add → %s with the sum reused as the next residual', (norm) => {
    const kit = residualNorm(norm);
    const report = runPass(kit.model, 'skip_add', new SkipAdd());
    expect(report.passes[0].counts).toEqual({ skip_rmsnorm: norm === 'RMSNormalization' ? 1 : 0, skip_layernorm: norm === 'LayerNormalization' ? 1 : 0 });
    const nodes = report.model.graph.nodes.toArray();
    const n = nodes.find((x) => x.op === norm);
    const add = nodes.find((x) => x.op === 'Add' && x.metadata.get(FUSION_KEY) === 'skip_add');
    expect(add).toBeDefined();
    expect(n?.metadata.get(SKIP_ADD_KEY)).toBe(add?.name);
    expect(add?.metadata.get(FUSION_GROUP_KEY)).toBe(n?.name);
    expect(nodes.map((x) => x.op)).toEqual(kit.graph.nodes.toArray().map((x) => x.op));
  });

  test('a bias Add (constant operand) is not a skip connection', () => {
    expect(runPass(residualNorm('RMSNormalization', true).model, 'skip_add', new SkipAdd()).modified).toBe(false);
  });
});

describe('matmul_add_gemm', () => {
  function linear(rank: 2 | 3, bias: readonly number[]) {
    const kit = new GraphKit(18);
    const dims = rank === 2 ? [5, 8] : [1, 5, 8];
    const a = kit.input('a', DataType.FLOAT, dims);
    const w = kit.floats([8, 6], Array.from({ length: 48 }, (_, i) => Math.sin(i)));
    const c = kit.floats(bias, Array.from({ length: bias.reduce((p, d) => p * d, 1) }, (_, i) => i / 10));
    kit.output(kit.op('Add', [kit.op('MatMul', [a, w]), c]), 'y', DataType.FLOAT);
    return { kit, feeds: { a: floatFeed(DataType.FLOAT, dims, 5) } };
  }

  test.each([[[6]], [[1, 6]], [[5, 6]], [[5, 1]], [[]]])('2D MatMul + bias %j → Gemm, equal on onnxruntime', async (bias) => {
    const { kit, feeds } = linear(2, bias);
    const report = runPass(kit.model, 'matmul_add_gemm', new MatmulAddGemm());
    expect(report.model.graph.nodes.toArray().map((n) => n.op)).toEqual(['Gemm']);
    expect(report.passes[0].counts).toEqual({ matmul_add_gemm: 1 });
    expect(maxRelDiff((await runOrt(report.model, feeds)).y, (await runOrt(kit.model, feeds)).y)).toBeLessThan(1e-6);
  });

  test('rank-3 activations keep MatMul + Add (Gemm would need reshapes); explain says so', () => {
    const { kit } = linear(3, [6]);
    const report = runPass(kit.model, 'matmul_add_gemm', new MatmulAddGemm());
    expect(report.modified).toBe(false);
    expect(opCount(report.model, 'Gemm')).toBe(0);
    expect(explain(matmulAddGemmRule, kit.model)[0].reason).toMatch(/rank 3.*MatMul kept/);
  });

  test('a bias that does not broadcast one-way to [M, N] is not fused', () => {
    const { kit } = linear(2, [2, 5, 6]);
    expect(runPass(kit.model, 'matmul_add_gemm', new MatmulAddGemm()).modified).toBe(false);
  });
});
