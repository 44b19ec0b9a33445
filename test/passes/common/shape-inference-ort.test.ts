import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { loadModel } from '../../../src/ir/serde';
import { Tensor, tensor } from '../../../src/ir/tensor';
import { formatShape, Shape, tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { verify } from '../../../src/ir/verify';
import { checkShapes, inferShapes } from '../../../src/passes/common/shape-inference';
import { DimExpr, parseDim } from '../../../src/passes/common/symbolic-dim';
import { runOrt, toOrt } from './ort-helpers';

const EXPORTS = path.join(__dirname, '..', '..', '..', 'fixtures', 'exports');
const FIXTURES = ['gpt2', 'llama', 'qwen2'].flatMap((m) => [18, 23].map((o) => `${m}.dynamo${o}`));
const SEQ_LENGTHS = [1, 5, 8];

/**
 * Checks an inferred shape against a run's actual dims: same rank, equal static dims, and symbolic dims
 * that evaluate to the actual size under one assignment of symbols shared by all values of the run
 * (`seq` is bound by the inputs; any other symbol is bound where it is first seen). Returns a problem
 * or undefined; counts unknown dims.
 */
function checkAgainstRun(name: string, inferred: Shape | undefined, actual: readonly number[], env: Map<string, number>, stats: { unknown: number }): string | undefined {
  if (!inferred) {
    stats.unknown += actual.length;
    return undefined;
  }
  if (inferred.length !== actual.length) return `${name}: inferred ${formatShape(inferred)} but ORT gives [${actual}]`;
  for (let i = 0; i < actual.length; i++) {
    const d = inferred[i];
    if (d === null) {
      stats.unknown++;
      continue;
    }
    const e = parseDim(d) as DimExpr;
    for (const s of e.symbols()) {
      // A lone unbound symbol is bound by this dim; expressions need their symbols bound already.
      if (!env.has(s) && e.symbols().length === 1 && e.equals(DimExpr.symbol(s))) env.set(s, actual[i]);
    }
    const v = e.evaluate(env);
    if (v !== actual[i]) return `${name}: inferred ${formatShape(inferred)} but ORT gives [${actual}] (dim ${i} = ${v})`;
  }
  return undefined;
}

describe('shape_inference agrees with onnxruntime on the fixture exports', () => {
  test.each(FIXTURES)('%s', async (file) => {
    const model = loadModel(path.join(EXPORTS, `${file}.onnx`));
    // The declared types must agree with a re-inference before anything is changed.
    expect(checkShapes(model)).toEqual([]);
    // Forget every intermediate type, so what is checked is inference alone, not the exporter's value_info.
    const outputs: Value[] = [];
    for (const n of model.graph.nodes) {
      for (const o of n.outputs) {
        if (o.isOmitted) continue;
        o.type = undefined;
        outputs.push(o);
      }
    }
    const result = inferShapes(model);
    expect(result.unknownOps).toEqual([]);
    expect(verify(model)).toEqual([]);
    const inferred = new Map(outputs.map((o) => [o.name, o.shape]));
    // Every intermediate becomes a graph output so ORT reports its actual shape.
    for (const o of outputs) if (!o.isGraphOutput) model.graph.addOutput(o);

    const stats = { unknown: 0 };
    const problems: string[] = [];
    for (const seq of SEQ_LENGTHS) {
      const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 37 + 11) % 256));
      const pos = BigInt64Array.from({ length: seq }, (_, i) => BigInt(i));
      const out = await runOrt(model, { input_ids: new ort.Tensor('int64', ids, [1, seq]), position_ids: new ort.Tensor('int64', pos, [1, seq]) });
      const env = new Map([['seq', seq]]);
      for (const o of outputs) {
        const actual = out[o.name].dims;
        const p = checkAgainstRun(o.name, inferred.get(o.name), actual, env, stats);
        if (p) problems.push(`seq=${seq} ${p}`);
      }
    }
    expect(problems).toEqual([]);
    // Everything in these exports is inferable: no unknown dims at all.
    expect(stats.unknown).toBe(0);
  });
});

describe('shape_inference agrees with onnxruntime on single ops with symbolic inputs', () => {
  interface Case {
    name: string;
    op: string;
    opset: number;
    /** Declared (symbolic) input shapes and the concrete ones fed, with the symbol values. */
    inputs: { shape: (number | string)[]; dtype?: DataType; data?: (dims: number[]) => Tensor }[];
    env: Record<string, number>;
    attrs?: Record<string, number>;
    outputs: number;
  }
  const f32 = (dims: number[]) => tensor.float32(dims, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)));
  const CASES: Case[] = [
    {
      name: 'Attention 4-D with past and qk output', op: 'Attention', opset: 23, outputs: 4, env: { B: 2, S: 3, P: 4 },
      inputs: [{ shape: ['B', 4, 'S', 8] }, { shape: ['B', 2, 'S', 8] }, { shape: ['B', 2, 'S', 6] }, { shape: [] }, { shape: ['B', 2, 'P', 8] }, { shape: ['B', 2, 'P', 6] }],
    },
    {
      name: 'Attention 3-D', op: 'Attention', opset: 23, outputs: 3, env: { B: 1, S: 5, L: 7 }, attrs: { q_num_heads: 4, kv_num_heads: 2 },
      inputs: [{ shape: ['B', 'S', 32] }, { shape: ['B', 'L', 16] }, { shape: ['B', 'L', 16] }],
    },
    {
      name: 'RotaryEmbedding 3-D', op: 'RotaryEmbedding', opset: 23, outputs: 1, env: { S: 5 }, attrs: { num_heads: 2 },
      inputs: [{ shape: [1, 'S', 16] }, { shape: [1, 'S', 4] }, { shape: [1, 'S', 4] }],
    },
    {
      name: 'RMSNormalization', op: 'RMSNormalization', opset: 23, outputs: 1, env: { S: 3 },
      inputs: [{ shape: [2, 'S', 8] }, { shape: [8] }],
    },
    {
      name: 'TensorScatter', op: 'TensorScatter', opset: 24, outputs: 1, env: { S: 2 },
      inputs: [{ shape: [1, 2, 6, 4] }, { shape: [1, 2, 'S', 4] }, { shape: [1], dtype: DataType.INT64, data: () => tensor.int64([1], [1]) }],
    },
  ];

  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const g = new Graph('one');
    const model = new Model(g);
    model.opsetImports.set('', c.opset);
    const feeds: Record<string, ort.Tensor> = {};
    const inputs = c.inputs.map((spec, i) => {
      if (spec.shape.length === 0 && c.op === 'Attention' && i === 3) return null; // no mask
      const v = g.addInput({ name: `in${i}`, type: tensorType(spec.dtype ?? DataType.FLOAT, spec.shape) });
      const dims = spec.shape.map((d) => (typeof d === 'number' ? d : c.env[d]));
      feeds[v.name] = toOrt(spec.data ? spec.data(dims) : f32(dims));
      return v;
    });
    const node = new Builder(g).node(c.op, inputs, c.attrs ?? {}, { outputs: c.outputs });
    g.setOutputs(node.outputs);
    inferShapes(model);
    const out = await runOrt(model, feeds);
    const env = new Map(Object.entries(c.env));
    for (const o of node.outputs) {
      const stats = { unknown: 0 };
      expect(checkAgainstRun(o.name, o.shape, out[o.name].dims, env, stats)).toBeUndefined();
      expect(stats.unknown).toBe(0);
    }
  });
});
