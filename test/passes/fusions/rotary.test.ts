// rotary_fusion: random RoPE subgraphs in the exporters' forms (rotate-half and interleaved, partial rotation,
// head sizes, operand orders, Neg or ·(-1), fp16 casts, attention scaling, static or dynamic batch, q and k
// sharing cos/sin, and opset-23 RotaryEmbedding fed per-token cos/sin) become RotaryEmbedding-23 with cos/sin
// caches and position_ids, and stay equal on onnxruntime for random (non-contiguous) positions; near-misses
// (halves that differ, cos/sin from the sequence length, swapped halves, tables that depend on other
// positions) are not fused.
import * as fc from 'fast-check';
import type * as ort from 'onnxruntime-node';
import { DataType } from '../../../src/ir/dtype';
import type { Dim } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { DEFAULT_ROTARY_MAX_POSITIONS, ROTARY_MAX_POSITIONS_KEY, RotaryFusion, rotaryRules } from '../../../src/passes/fusions';
import { explain } from '../../../src/passes/pattern/explain';
import { floatFeed, GraphKit, int64Feed, maxRelDiff, opCount, runOrt, runPass } from './helpers';

const MAX_POSITIONS = 64;
const INT64_MAX = Number.MAX_SAFE_INTEGER; // exporters write INT64_MAX; anything past the end behaves the same

interface RopeCase {
  batch: number;
  heads: number;
  seq: number;
  headSize: number;
  rotaryDim: number;
  interleaved: boolean;
  form: 'decomposed' | 'rope23';
  base: number;
  scaling: number | undefined;
  fp16: boolean;
  xFirst: boolean;
  rotFirst: boolean;
  addFirst: boolean;
  negByMul: boolean;
  twoInputs: boolean;
  dynamicBatch: boolean;
}

type NearMiss = 'notDuplicated' | 'seqOnly' | 'swappedHalves' | 'maxDependent';

function build(c: RopeCase, miss?: NearMiss): { kit: GraphKit; feeds: Record<string, ort.Tensor>; outputs: string[] } {
  const kit = new GraphKit(c.form === 'rope23' ? 23 : 18);
  const io = c.fp16 ? DataType.FLOAT16 : DataType.FLOAT;
  const B: Dim = c.dynamicBatch ? 'batch' : c.batch;
  const xShape: Dim[] = [B, c.heads, c.seq, c.headSize];
  const feeds: Record<string, ort.Tensor> = {};
  const pos = kit.input('position_ids', DataType.INT64, [B, c.seq]);
  const positions = Array.from({ length: c.batch * c.seq }, (_, i) => (i * 29 + 3 * Math.floor(i / c.seq) + 5) % MAX_POSITIONS);
  feeds.position_ids = int64Feed(positions, [c.batch, c.seq]);

  // theta = position · inv_freq, as transformers' rotary embedding computes it (MatMul of the expanded inv_freq).
  const half = c.rotaryDim / 2;
  const invFreq = Array.from({ length: half }, (_, i) => 1 / c.base ** ((2 * i) / c.rotaryDim));
  let inv: Value = kit.floats([1, half, 1], invFreq);
  if (c.dynamicBatch) {
    const batchDim = kit.op('Shape', [pos], { start: 0, end: 1 });
    inv = kit.op('Expand', [inv, kit.op('Concat', [batchDim, kit.ints([1]), kit.ints([1])], { axis: 0 })]);
  }
  let posF = kit.op('Cast', [kit.op('Unsqueeze', [pos, kit.ints([1])])], { to: DataType.FLOAT });
  if (miss === 'seqOnly') {
    const len = kit.op('Squeeze', [kit.op('Shape', [pos], { start: 1, end: 2 }), kit.ints([0])]);
    const range = kit.op('Range', [kit.ints([0], []), len, kit.ints([1], [])]);
    posF = kit.op('Cast', [kit.op('Unsqueeze', [range, kit.ints([0, 1])])], { to: DataType.FLOAT });
  }
  if (miss === 'maxDependent') posF = kit.op('Div', [posF, kit.op('Add', [kit.op('ReduceMax', [posF], { keepdims: 1 }), kit.scalar(1)])]);
  const freqs = kit.op('Transpose', [kit.op('MatMul', [inv, posF])], { perm: [0, 2, 1] });
  let emb: Value;
  if (c.form === 'rope23') emb = freqs;
  else if (c.interleaved) {
    const u = kit.op('Unsqueeze', [freqs, kit.ints([-1])]);
    emb = kit.op('Reshape', [kit.op('Concat', [u, u], { axis: -1 }), kit.ints([0, 0, -1])]);
  } else emb = kit.op('Concat', [freqs, miss === 'notDuplicated' ? kit.op('Mul', [freqs, kit.scalar(2)]) : freqs], { axis: -1 });
  const table = (op: 'Cos' | 'Sin'): Value => {
    let t = kit.op(op, [emb]);
    if (c.scaling !== undefined) t = kit.op('Mul', [t, kit.scalar(c.scaling)]);
    if (c.fp16) t = kit.op('Cast', [t], { to: DataType.FLOAT16 });
    return c.form === 'rope23' ? t : kit.op('Unsqueeze', [t, kit.ints([1])]);
  };
  const cos = table('Cos');
  const sin = table('Sin');

  const outputs: string[] = [];
  const inputs = c.twoInputs ? ['q', 'k'] : ['q'];
  inputs.forEach((name, n) => {
    const x = kit.input(name, io, xShape);
    feeds[name] = floatFeed(io, [c.batch, c.heads, c.seq, c.headSize], 10 + n);
    let y: Value;
    if (c.form === 'rope23') {
      const attrs: Record<string, number> = { interleaved: c.interleaved ? 1 : 0, num_heads: c.heads };
      if (c.rotaryDim < c.headSize) attrs.rotary_embedding_dim = c.rotaryDim;
      y = kit.op('RotaryEmbedding', [x, cos, sin], attrs);
    } else {
      const partial = c.rotaryDim < c.headSize;
      const xr = partial ? kit.op('Slice', [x, kit.ints([0]), kit.ints([c.rotaryDim]), kit.ints([-1]), kit.ints([1])], {}, { dtype: io, shape: [B, c.heads, c.seq, c.rotaryDim] }) : x;
      const neg = (v: Value) => (c.negByMul ? kit.op('Mul', [v, kit.scalar(-1, io)]) : kit.op('Neg', [v]));
      let rot: Value;
      if (c.interleaved) {
        const even = kit.op('Slice', [xr, kit.ints([0]), kit.ints([INT64_MAX]), kit.ints([-1]), kit.ints([2])]);
        const odd = kit.op('Slice', [xr, kit.ints([1]), kit.ints([INT64_MAX]), kit.ints([-1]), kit.ints([2])]);
        const st = kit.op('Concat', [kit.op('Unsqueeze', [neg(odd), kit.ints([-1])]), kit.op('Unsqueeze', [even, kit.ints([-1])])], { axis: -1 });
        rot = kit.op('Reshape', [st, kit.ints([0, 0, 0, -1])]);
      } else {
        const lo = kit.op('Slice', [xr, kit.ints([0]), kit.ints([c.rotaryDim / 2]), kit.ints([3]), kit.ints([1])]);
        const hi = kit.op('Slice', [xr, kit.ints([c.rotaryDim / 2]), kit.ints([INT64_MAX]), kit.ints([3]), kit.ints([1])]);
        rot = miss === 'swappedHalves' ? kit.op('Concat', [lo, neg(hi)], { axis: -1 }) : kit.op('Concat', [neg(hi), lo], { axis: -1 });
      }
      const a = kit.op('Mul', c.xFirst ? [xr, cos] : [cos, xr]);
      const b = kit.op('Mul', c.rotFirst ? [rot, sin] : [sin, rot]);
      y = kit.op('Add', c.addFirst ? [a, b] : [b, a]);
      if (partial) y = kit.op('Concat', [y, kit.op('Slice', [x, kit.ints([c.rotaryDim]), kit.ints([INT64_MAX]), kit.ints([-1])])], { axis: -1 });
    }
    kit.output(y, `${name}_out`, io);
    outputs.push(`${name}_out`);
  });
  return { kit, feeds, outputs };
}

const caseArb: fc.Arbitrary<RopeCase> = fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  heads: fc.integer({ min: 1, max: 3 }),
  seq: fc.integer({ min: 1, max: 9 }),
  headHalf: fc.integer({ min: 1, max: 16 }),
  partialHalf: fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }),
  interleaved: fc.boolean(),
  form: fc.constantFrom('decomposed' as const, 'decomposed' as const, 'rope23' as const),
  base: fc.constantFrom(10000, 500000, 100),
  scaling: fc.option(fc.constantFrom(0.5, 1.25), { nil: undefined }),
  fp16: fc.boolean(),
  xFirst: fc.boolean(),
  rotFirst: fc.boolean(),
  addFirst: fc.boolean(),
  negByMul: fc.boolean(),
  twoInputs: fc.boolean(),
  dynamicBatch: fc.boolean(),
}).map((r) => {
  const headSize = 2 * r.headHalf;
  const rotaryDim = r.partialHalf !== undefined && r.partialHalf < r.headHalf ? 2 * r.partialHalf : headSize;
  return {
    batch: r.batch, heads: r.heads, seq: r.seq, headSize, rotaryDim, interleaved: r.interleaved, form: r.form, base: r.base, scaling: r.scaling,
    fp16: r.fp16, xFirst: r.xFirst, rotFirst: r.rotFirst, addFirst: r.addFirst, negByMul: r.negByMul, twoInputs: r.twoInputs, dynamicBatch: r.dynamicBatch,
  };
});

const fuse = (c: { kit: GraphKit }) => runPass(c.kit.model, 'rotary_fusion', new RotaryFusion(), { rotaryMaxPositions: MAX_POSITIONS });

describe('rotary_fusion', () => {
  test('random RoPE subgraphs become RotaryEmbedding with caches and position_ids, equal on onnxruntime', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const built = build(c);
      const report = fuse(built);
      const fused = report.model;
      const ropes = fused.graph.nodes.toArray().filter((n) => n.op === 'RotaryEmbedding');
      expect(ropes).toHaveLength(c.twoInputs ? 2 : 1);
      for (const op of ['Neg', 'Cos', 'Sin', 'MatMul', 'Slice']) expect(opCount(fused, op)).toBe(0);
      const counts = report.passes[0].counts;
      const n = c.twoInputs ? 2 : 1;
      const partial = c.rotaryDim < c.headSize;
      expect(counts).toEqual(c.form === 'rope23'
        ? { rotary: 0, rotary_partial: 0, rotary_cache: n }
        : { rotary: n, rotary_partial: partial ? n : 0, rotary_cache: 0 });
      for (const r of ropes) {
        expect(r.inputs).toHaveLength(4);
        expect(r.inputs[3]?.name).toBe('position_ids');
        expect(r.attrInt('interleaved', 0)).toBe(c.interleaved ? 1 : 0);
        expect(r.attrInt('rotary_embedding_dim', 0)).toBe(partial ? c.rotaryDim : 0);
        // One [max_positions, rotary_dim/2] cos and sin cache, shared by q and k.
        expect(r.inputs[1]?.constValue?.dims).toEqual([MAX_POSITIONS, c.rotaryDim / 2]);
        expect(r.inputs[1]).toBe(ropes[0].inputs[1]);
        expect(r.inputs[2]).toBe(ropes[0].inputs[2]);
      }
      expect([...fused.graph.initializers.values()].filter((v) => v.constValue?.dims[0] === MAX_POSITIONS)).toHaveLength(2);
      expect(fused.metadata.get(ROTARY_MAX_POSITIONS_KEY)).toBe(String(MAX_POSITIONS));
      const feeds = built.feeds;
      const [before, after] = [await runOrt(built.kit.model, feeds), await runOrt(fused, feeds)];
      for (const o of built.outputs) expect(maxRelDiff(after[o], before[o])).toBeLessThan(c.fp16 ? 4e-3 : 1e-5);
    }), { numRuns: 40 });
  });

  test('near-misses are not fused', async () => {
    const missArb = fc.constantFrom<NearMiss>('notDuplicated', 'seqOnly', 'swappedHalves', 'maxDependent');
    await fc.assert(fc.asyncProperty(caseArb.filter((c) => c.form === 'decomposed' && !c.interleaved), missArb, async (c, miss) => {
      const built = build(c, miss);
      const nodes = built.kit.graph.nodes.size;
      const report = fuse(built);
      expect(report.modified).toBe(false);
      expect(opCount(report.model, 'RotaryEmbedding')).toBe(0);
      expect(report.model.graph.nodes.size).toBe(nodes);
      expect(report.model.opset('')).toBe(18);
    }), { numRuns: 24 });
  });

  test('explain says why: duplicated halves, positions, far positions', () => {
    const c: RopeCase = {
      batch: 1, heads: 2, seq: 3, headSize: 8, rotaryDim: 8, interleaved: false, form: 'decomposed', base: 10000, scaling: undefined,
      fp16: false, xFirst: true, rotFirst: true, addFirst: true, negByMul: false, twoInputs: false, dynamicBatch: false,
    };
    const [rotary] = rotaryRules(MAX_POSITIONS);
    const reason = (miss: NearMiss) => explain(rotary, build(c, miss).kit.model)[0];
    expect(reason('notDuplicated')).toMatchObject({ status: 'check' });
    expect(reason('notDuplicated').reason).toMatch(/duplicated halves/);
    expect(reason('seqOnly').reason).toMatch(/does not depend on any graph input/);
    expect(reason('maxDependent').reason).toMatch(/depends on the other positions or the sequence length/);
    expect(reason('swappedHalves').status).toBe('match');
  });

  test('without max_seq_len the caches cover DEFAULT_ROTARY_MAX_POSITIONS; maxSeqLen takes precedence', () => {
    const c: RopeCase = {
      batch: 1, heads: 1, seq: 2, headSize: 4, rotaryDim: 4, interleaved: false, form: 'decomposed', base: 10000, scaling: undefined,
      fp16: false, xFirst: true, rotFirst: true, addFirst: true, negByMul: false, twoInputs: false, dynamicBatch: false,
    };
    const byDefault = runPass(build(c).kit.model, 'rotary_fusion', new RotaryFusion()).model;
    const rope = (m: typeof byDefault) => m.graph.nodes.toArray().find((n) => n.op === 'RotaryEmbedding');
    expect(rope(byDefault)?.inputs[1]?.constValue?.dims).toEqual([DEFAULT_ROTARY_MAX_POSITIONS, 2]);
    const bySeqLen = runPass(build(c).kit.model, 'rotary_fusion', new RotaryFusion(), { maxSeqLen: 300, rotaryMaxPositions: 50 }).model;
    expect(rope(bySeqLen)?.inputs[1]?.constValue?.dims).toEqual([300, 2]);
    expect(bySeqLen.metadata.get(ROTARY_MAX_POSITIONS_KEY)).toBe('300');
  });
});
