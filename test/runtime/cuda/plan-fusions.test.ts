import { DT, dtCodeBytes, KernelStep, OpCode, weightsStoredTransposed } from '../../../src/converters/cuda';
import { fuseNormsIntoGemv, GEMV_NORM_SMEM } from '../../../src/runtime/plan/fuse-norm-gemv';
import { fuseAttentionPrologues } from '../../../src/runtime/plan/fuse-prologue';
import { lowered } from './helpers';

const ref = (buf: number, offset = 0) => ({ buf, offset });
const step = (op: OpCode, args: KernelStep['args'], node = 'n'): KernelStep => ({ op, args, node, opType: OpCode[op] });

// ADD_RMSNORM: dt dts rows cols eps a b scale sum out; GEMV: dt M K nseg x na nb nscale nsum eps dts, (N W up bias y)*
const addNorm = (rows: number, cols: number, out = 10) => step(OpCode.ADD_RMSNORM, [DT.F16, DT.F32, rows, cols, 1e-5, ref(1), ref(2), ref(3), ref(4), ref(out)]);
const gemv = (rows: number, K: number, x = 10) => step(OpCode.GEMV, [DT.F16, rows, K, 1, ref(x), null, null, null, null, 0, 0, 64, ref(20), null, null, ref(21)]);

describe('norm-into-GEMV fusion', () => {
  it('moves an ADD_RMSNORM read only by the next GEMV into its prologue', () => {
    const out = fuseNormsIntoGemv([addNorm(1, 2048), gemv(1, 2048)], new Set(), dtCodeBytes);
    expect(out).toHaveLength(1);
    expect(out[0].op).toBe(OpCode.GEMV);
    expect(out[0].args.slice(4, 11)).toEqual([ref(10), ref(1), ref(2), ref(3), ref(4), 1e-5, DT.F32]);
    expect(out[0].args.slice(11)).toEqual(gemv(1, 2048).args.slice(11));
  });

  it('takes an RMSNORM without residual (no b, no sum)', () => {
    const norm = step(OpCode.RMSNORM, [DT.F16, DT.F16, 1, 256, 1e-6, ref(1), ref(3), ref(10)]);
    const out = fuseNormsIntoGemv([norm, gemv(1, 256)], new Set(), dtCodeBytes);
    expect(out).toHaveLength(1);
    expect(out[0].args.slice(5, 11)).toEqual([ref(1), null, ref(3), null, 1e-6, DT.F16]);
  });

  it('keeps the norm when its output has another reader, is a graph output, or does not fit shared memory', () => {
    const reader = step(OpCode.COPY, [ref(10), ref(30)]);
    expect(fuseNormsIntoGemv([addNorm(1, 2048), gemv(1, 2048), reader], new Set(), dtCodeBytes)).toHaveLength(3);
    expect(fuseNormsIntoGemv([addNorm(1, 2048), gemv(1, 2048)], new Set([10]), dtCodeBytes)).toHaveLength(2);
    const K = GEMV_NORM_SMEM / 2 / 4 + 8; // 4 rows of fp16 just above the limit
    expect(fuseNormsIntoGemv([addNorm(4, K), gemv(4, K)], new Set(), dtCodeBytes)).toHaveLength(2);
    // shapes must agree, and the GEMV must read the norm's output
    expect(fuseNormsIntoGemv([addNorm(1, 1024), gemv(1, 2048)], new Set(), dtCodeBytes)).toHaveLength(2);
    expect(fuseNormsIntoGemv([addNorm(1, 2048), gemv(1, 2048, 11)], new Set(), dtCodeBytes)).toHaveLength(2);
  });
});

// ROPE: dt dtc B H S D rd inter l3 x cos sin pos out cbs; CACHE_WRITE: dt B H T D S src dst cur start copyAll
const rope = (H: number, x: number, out: number, l3 = 0) => step(OpCode.ROPE, [DT.F16, DT.F32, 1, H, 1, 64, 64, 0, l3, ref(x), ref(5), ref(6), ref(7), ref(out), 0]);
const cw = (H: number, src: number, dst: number, cur: number, start = 9) => step(OpCode.CACHE_WRITE, [DT.F16, 1, H, 256, 64, 1, ref(src), ref(dst), ref(cur), ref(start), 0]);

describe('attention-prologue fusion', () => {
  it('packs RoPE q, RoPE k with its cache write and the v cache write into one ROPE_PACK', () => {
    const steps = [rope(32, 40, 41), rope(8, 42, 43), cw(8, 50, 51, 43), cw(8, 52, 53, 44)];
    const out = fuseAttentionPrologues(steps);
    expect(out).toHaveLength(1);
    expect(out[0].op).toBe(OpCode.ROPE_PACK);
    expect(out[0].args).toEqual([
      DT.F16, DT.F32, 1, 1, 64, 64, 0, 256, ref(5), ref(6), ref(7), 0, ref(9),
      32, ref(40), ref(41), 8, ref(42), ref(43), ref(50), ref(51), 8, ref(44), ref(52), ref(53),
    ]);
  });

  it('leaves what it cannot pack after the pack, in order, and never fuses 3-D RoPE', () => {
    const other = cw(8, 60, 61, 62, 99); // another start value: not this pack's v write
    const out = fuseAttentionPrologues([rope(8, 42, 43), cw(8, 50, 51, 43), other]);
    expect(out.map((s) => s.op)).toEqual([OpCode.ROPE_PACK, OpCode.CACHE_WRITE]);
    expect(out[0].args[13]).toBe(0); // no q job
    expect(out[1]).toBe(other);
    const flat = [rope(8, 42, 43, 1), cw(8, 50, 51, 43)];
    expect(fuseAttentionPrologues(flat)).toEqual(flat);
  });
});

describe('weights stored transposed for the GEMV', () => {
  it('takes projection weights, not tables read by Gather (tied embeddings)', () => {
    const model = lowered('models/sotu-llama/model.onnx', 'static_v3');
    const t = weightsStoredTransposed(model);
    expect(t.size).toBeGreaterThan(0);
    for (const v of t) expect(v.uses().every((u) => u.node.op === 'MatMul' && u.index === 1)).toBe(true);
    const gathered = [...model.graph.initializers.values()].filter((v) => v.uses().some((u) => u.node.op === 'Gather'));
    expect(gathered.length).toBeGreaterThan(0);
    for (const v of gathered) expect(t.has(v)).toBe(false);
    const matmulWeights = [...model.graph.initializers.values()].filter((v) => v.constValue?.dims.length === 2 && v.uses().length > 0 && v.uses().every((u) => u.node.op === 'MatMul' && u.index === 1));
    expect(matmulWeights.every((v) => t.has(v))).toBe(true);
  });
});
