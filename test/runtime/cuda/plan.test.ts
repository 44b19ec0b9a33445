import { OpCode } from '../../../src/converters/cuda';
import { findCacheIdioms, PlanError } from '../../../src/runtime/plan/cache-idioms';
import { BufferLifetime, verifyMemoryPlan } from '../../../src/runtime/plan/memory-planner';
import { lowered, plan } from './helpers';

const FIXTURES = ['exports/gpt2.dynamo23.onnx', 'exports/llama.dynamo18.onnx', 'models/llama-23/model.onnx', 'models/qwen2-fp16-23/model.onnx', 'models/sotu-llama/model.onnx'];
const CACHES = ['static_v1', 'static_v2', 'static_v3'] as const;

describe('execution plan', () => {
  for (const f of FIXTURES) {
    for (const cache of CACHES) {
      it(`${f} ${cache}: every op maps to a kernel, caches are written once per layer, temporaries never overlap`, () => {
        const model = lowered(f, cache);
        const layers = Number(model.metadata.get('onnx_lower.num_layers'));
        for (const seq of [1, 7]) {
          const p = plan(model, seq, 64);
          // Cache writes: CACHE_WRITE steps, or the k and v writes of a fused ROPE_PACK (args 20 and 24: kdst, vdst).
          const packs = p.steps.filter((s) => s.op === OpCode.ROPE_PACK);
          const writes = p.steps.filter((s) => s.op === OpCode.CACHE_WRITE).length
            + packs.filter((s) => s.args[20] !== null).length + packs.filter((s) => s.args[24] !== null).length;
          expect(writes).toBe(2 * layers);
          // RoPE models fuse the whole prologue (q, k + k cache, v cache) into one launch per layer.
          if (!f.includes('gpt2')) expect(packs.filter((s) => s.args[13] !== 0 && s.args[20] !== null && s.args[24] !== null)).toHaveLength(layers);
          expect(p.steps.filter((s) => s.op === OpCode.ATTENTION)).toHaveLength(layers);
          expect(p.caches).toHaveLength(2 * layers);
          // v3 updates in place (its output aliases the input); v1/v2 keep their copy semantics.
          expect(p.caches.every((c) => c.inPlace === (cache === 'static_v3'))).toBe(true);
          expect([...p.outputs.keys()]).toEqual(['logits']);
          // Recompute lifetimes from the program and check the planner's offsets against them.
          const first = new Map<number, number>();
          const last = new Map<number, number>();
          p.steps.forEach((s, i) => s.args.forEach((a) => {
            if (a && typeof a === 'object') {
              if (!first.has(a.buf)) first.set(a.buf, i);
              last.set(a.buf, i);
            }
          }));
          const logits = p.outputs.get('logits')!.ref.buf;
          const temps: BufferLifetime[] = [...p.buffers.values()].filter((b) => b.kind === 'temp' && first.has(b.id))
            .map((b) => ({ id: b.id, bytes: b.bytes, first: first.get(b.id)!, last: b.id === logits ? p.steps.length : last.get(b.id)! }));
          expect(verifyMemoryPlan(temps, p.memory)).toBeUndefined();
          expect(p.memory.arenaBytes).toBeLessThan(p.memory.totalBytes);
        }
      });
    }
  }

  it('decode (seq 1) fuses q/k/v into one GEMV, the SwiGLU gate/up pair into one GEMV, residual add + RMSNorm into one kernel', () => {
    const p = plan(lowered('models/sotu-llama/model.onnx', 'static_v3'), 1, 64);
    const layers = 4;
    const count = (op: OpCode) => p.steps.filter((s) => s.op === op).length;
    expect(count(OpCode.SILU_MUL)).toBe(0);
    // Every RMSNorm (with its residual add) became the prologue of the GEMV that reads it (arg 5: na).
    expect(count(OpCode.ADD_RMSNORM) + count(OpCode.RMSNORM)).toBe(0);
    expect(p.steps.filter((s) => s.op === OpCode.GEMV && s.args[5] !== null)).toHaveLength(2 * layers + 1);
    // per layer: qkv (3 segments), o, gate+up (1 SwiGLU segment), down; plus the LM head
    const gemvs = p.steps.filter((s) => s.op === OpCode.GEMV);
    expect(gemvs).toHaveLength(4 * layers + 1);
    const segments = gemvs.map((s) => s.args[3]);
    const seg0 = 11; // GEMV args: dt M K nseg x na nb nscale nsum eps dts, then (N W up bias y) per segment
    expect(segments.filter((n) => n === 3)).toHaveLength(layers);
    // a SwiGLU segment carries its up weight; plain segments carry null there
    const swiglu = gemvs.filter((s) => s.args[3] === 1 && s.args[seg0 + 2] !== null);
    expect(swiglu).toHaveLength(layers);
    expect(count(OpCode.GEMM)).toBe(0);
    expect(count(OpCode.UNARY)).toBe(0);
  });

  it('with gemv off (cuBLAS for every product), weights keep the ONNX layout and SiLU gating is one kernel', () => {
    const p = plan(lowered('models/sotu-llama/model.onnx', 'static_v3'), 1, 64, { smCount: 132, gemv: false });
    expect(p.steps.filter((s) => s.op === OpCode.GEMV)).toHaveLength(0);
    expect(p.steps.filter((s) => s.op === OpCode.SILU_MUL)).toHaveLength(4);
    // no weight is transposed: every GEMM reads B as stored (transB 0), except the tied LM head (transB 1)
    const gemms = p.steps.filter((s) => s.op === OpCode.GEMM);
    expect(gemms.filter((s) => s.args[2] === 0).length).toBeGreaterThanOrEqual(4 * 6);
  });

  it('prefill uses cuBLAS for the projections', () => {
    const p = plan(lowered('models/sotu-llama/model.onnx', 'static_v3'), 16, 64);
    expect(p.steps.filter((s) => s.op === OpCode.GEMV)).toHaveLength(0);
    expect(p.steps.filter((s) => s.op === OpCode.GEMM).length).toBeGreaterThanOrEqual(4 * 4 + 1);
  });

  it('rejects start_idx/end_idx uses outside the static-cache idioms', () => {
    const model = lowered('models/llama-23/model.onnx', 'static_v3');
    const g = model.graph;
    const start = g.inputs.find((v) => v.name === 'start_idx')!;
    const n = g.add({ op: 'Identity', inputs: [start], outputs: ['leak'] });
    g.addOutput(n.outputs[0]);
    expect(() => findCacheIdioms(model)).toThrow(PlanError);
  });
});
