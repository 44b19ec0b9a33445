/**
 * GPU check of device sampling (OP_SAMPLE, src/runtime/native/sample.cuh), run by `gpu.js correctness` (or alone:
 * `gpu.js sampling REFS_DIR`):
 *   - temperature 0 and top_k 1 give the argmax of every row;
 *   - the empirical distribution of 40,000 draws (5 launches of 8,000 rows, so the device step counter advances)
 *     matches the CPU sampler's probabilities (samplingDistribution = sampleToken's definition): no draw outside the
 *     support, and a chi-square (bins pooled to expected counts >= 5) below its p = 1e-6 critical value, which a
 *     negative control (a wrong temperature) must exceed;
 *   on real logits (the last prefill row of the CPU references: sotu-llama's as they are, two random-weight
 *   fixtures' rescaled to a standard deviation of 3; f32, and as f16/bf16) and on synthetic
 *   152,064-column rows with ties (f32 / bf16);
 *   - CudaBackend.generate on a fixture: temperature 0 equals greedy, a seeded run repeats, another seed differs.
 */
import { DT, OpCode } from '../../src/converters/cuda';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../src/ir/float16';
import { rngState } from '../../src/runtime/cuda-sampling';
import { samplingDistribution } from '../../src/runtime/sampling';
import * as path from 'path';
import { loadModel } from '../../src/ir/serde';
import '../../src/passes';
import '../../src/passes/llm';
import { lowerLlm } from '../../src/passes/llm/pipeline';
import { createCudaBackend, CudaBackend } from '../../src/runtime/cuda-backend';
import { loadAddon, NativeAddon, NativeKind } from '../../src/runtime/native/addon';
import { argmax, createRng, SamplingOptions } from '../../src/runtime/sampling';
import { FixtureRef, fixtureName, MAX_SEQ } from './fixtures';

const LAUNCHES = 5;
const ROWS = 8000;

export interface SamplingRow {
  name: string;
  pass: boolean;
  detail: string;
}

function encode(values: Float32Array, dt: DT): { data: Float32Array | Uint16Array; decoded: Float32Array } {
  if (dt === DT.F32) return { data: values, decoded: values };
  const enc = dt === DT.F16 ? floatToHalf : floatToBfloat16;
  const dec = dt === DT.F16 ? halfToFloat : bfloat16ToFloat;
  const data = Uint16Array.from(values, (v) => enc(v));
  return { data, decoded: Float32Array.from(data, (h) => dec(h)) };
}

/** LAUNCHES launches of ROWS rows (row stride 0: the same logits) from one seeded state; the ids drawn. */
function draw(addon: NativeAddon, data: Float32Array | Uint16Array, dt: DT, cols: number, o: { temperature: number; topK?: number; topP?: number }, seed: number): number[] {
  const inPtr = addon.alloc(data.byteLength);
  const outPtr = addon.alloc(ROWS * 8);
  const state = addon.alloc(32);
  const ids: number[] = [];
  try {
    addon.upload(inPtr, data);
    addon.upload(state, rngState(seed));
    for (let l = 0; l < LAUNCHES; l++) {
      addon.exec(new Float64Array([OpCode.SAMPLE, 10, dt, ROWS, cols, 0, inPtr, outPtr, state, o.temperature, o.topK ?? 0, o.topP ?? 1]));
      const out = new BigInt64Array(ROWS);
      addon.download(outPtr, out);
      for (const x of out) ids.push(Number(x));
    }
    const st = new BigUint64Array(4);
    addon.download(state, st);
    if (st[1] !== BigInt(LAUNCHES) || st[2] !== 0n) throw new Error(`rng state after ${LAUNCHES} launches is [${st.join(', ')}]`);
  } finally {
    [inPtr, outPtr, state].forEach((p) => addon.free(p));
  }
  return ids;
}

/** Chi-square critical value at about p = 1e-6 (Wilson–Hilferty). */
function chi2Critical(df: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + 4.75 * Math.sqrt(a)) ** 3;
}

/** Pearson chi-square with bins pooled (in descending-probability order) to expected counts >= 5; df = bins - 1. */
function pooledChi2(counts: Map<number, number>, ids: number[], probs: number[], n: number): { x: number; df: number } {
  let x = 0;
  let bins = 0;
  let e = 0;
  let c = 0;
  for (let i = 0; i < ids.length; i++) {
    e += probs[i] * n;
    c += counts.get(ids[i]) ?? 0;
    if (e >= 5 || i === ids.length - 1) {
      x += (c - e) ** 2 / Math.max(e, 1e-12);
      bins++;
      e = 0;
      c = 0;
    }
  }
  return { x, df: Math.max(1, bins - 1) };
}

function checkDistribution(addon: NativeAddon, name: string, values: Float32Array, dt: DT, o: SamplingOptions, seed: number): SamplingRow {
  const { data, decoded } = encode(values, dt);
  const V = values.length;
  const { ids, probs } = samplingDistribution(decoded, 0, V, o);
  const got = draw(addon, data, dt, V, { temperature: o.temperature as number, topK: o.topK, topP: o.topP }, seed);
  const counts = new Map<number, number>();
  for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
  const support = new Set(ids);
  const outside = [...counts.keys()].filter((id) => !support.has(id));
  const n = got.length;
  const { x, df } = pooledChi2(counts, ids, probs, n);
  const crit = chi2Critical(df);
  const wrong = samplingDistribution(decoded, 0, V, { ...o, temperature: (o.temperature as number) * 1.5 });
  const w = pooledChi2(new Map([...counts].filter(([id]) => wrong.ids.includes(id))), wrong.ids, wrong.probs, n);
  // A one-token support (all draws that token: checked by `outside`) leaves nothing for a control to reject.
  const control = ids.length === 1 || w.x > chi2Critical(w.df);
  const pass = outside.length === 0 && x < crit && control;
  return { name, pass, detail: `support ${ids.length}, chi2 ${x.toFixed(1)} (df ${df}, crit ${crit.toFixed(1)}), outside ${outside.length}, control ${control ? 'rejected' : 'NOT rejected'} (${w.x.toFixed(0)})` };
}

function checkGreedy(addon: NativeAddon, name: string, values: Float32Array, dt: DT): SamplingRow {
  const { data, decoded } = encode(values, dt);
  const want = argmax(decoded);
  const bad: string[] = [];
  for (const o of [{ temperature: 0 }, { temperature: 1.3, topK: 1 }, { temperature: 1, topP: 1e-9 }]) {
    const got = draw(addon, data, dt, values.length, o, 1);
    const wrong = got.filter((id) => id !== want).length;
    if (wrong) bad.push(`${JSON.stringify(o)}: ${wrong} of ${got.length} not ${want}`);
  }
  return { name, pass: bad.length === 0, detail: bad.join('; ') || `argmax ${want}` };
}

const CONFIGS: SamplingOptions[] = [
  { temperature: 0.8, topK: 50, topP: 0.9 },
  { temperature: 1, topK: 20 },
  { temperature: 0.7, topP: 0.8 },
  { temperature: 1 },
];

/** Device sampling against the CPU sampler's probabilities on real (`rows`: name, logits) and synthetic rows. */
export function samplingRows(device: NativeKind, rows: { name: string; logits: Float32Array }[], synthetic = true): SamplingRow[] {
  const { addon, reason } = loadAddon(device);
  if (!addon) return [{ name: 'sampling', pass: false, detail: `no addon: ${reason}` }];
  addon.init();
  const rng = createRng(99);
  // Normal(0, 3) logits on a 1/8 grid: many ties, and a top-50 spread of a few units (a temperature change shows).
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const big = Float32Array.from({ length: 152064 }, () => Math.round(normal() * 3 * 8) / 8);
  const all = synthetic ? [...rows, { name: 'synthetic-152064', logits: big }] : rows;
  const out: SamplingRow[] = [];
  const push = (row: SamplingRow) => {
    out.push(row);
    console.log(`${row.pass ? 'PASS' : 'FAIL'} sampling ${row.name}: ${row.detail}`);
  };
  for (const r of all) {
    for (const [dt, label] of [[DT.F32, 'f32'], [DT.F16, 'f16'], [DT.BF16, 'bf16']] as const) {
      if (r.logits.length > 100000 && dt === DT.F16) continue;
      push(checkGreedy(addon, `${r.name} ${label} greedy`, r.logits, dt));
      CONFIGS.forEach((o, i) => {
        try {
          push(checkDistribution(addon, `${r.name} ${label} ${JSON.stringify(o)}`, r.logits, dt, o, 1000 + i));
        } catch (e) {
          push({ name: `${r.name} ${label} ${JSON.stringify(o)}`, pass: false, detail: (e as Error).message });
        }
      });
    }
  }
  return out;
}

/** CudaBackend.generate: temperature 0 = greedy; seeded runs repeat; another seed differs. */
export function generateRow(name: string, backend: CudaBackend, prompt: number[], maxSeqLen: number): SamplingRow {
  const greedy = backend.greedy([prompt], { maxNewTokens: 24, maxSeqLen }).tokens[0];
  const t0 = backend.generate([prompt], { maxNewTokens: 24, maxSeqLen, sampling: { temperature: 0 } }).tokens[0];
  const o = { temperature: 1, topK: 50, topP: 0.95, seed: 7 };
  const a = backend.generate([prompt], { maxNewTokens: 24, maxSeqLen, sampling: o }).tokens[0];
  const b = backend.generate([prompt], { maxNewTokens: 24, maxSeqLen, sampling: o }).tokens[0];
  const c = backend.generate([prompt], { maxNewTokens: 24, maxSeqLen, sampling: { ...o, seed: 8 } }).tokens[0];
  const pass = t0.join() === greedy.join() && a.join() === b.join() && a.join() !== c.join() && a.length === 24;
  return { name: `${name} generate`, pass, detail: `t0=greedy ${t0.join() === greedy.join()}, repeat ${a.join() === b.join()}, seeds differ ${a.join() !== c.join()}` };
}

/**
 * The whole sampling check (called by `gpu.js correctness` after the fixtures, or `gpu.js sampling REFS_DIR`):
 * prints one PASS/FAIL line per row; returns the number of failures.
 */
export async function samplingCheck(refs: FixtureRef[], data: Float32Array, device: NativeKind, root: string): Promise<number> {
  // The trained sotu-llama's logits as they are; the random-weight fixtures' (nearly flat) rescaled to a standard
  // deviation of 3, so that their distributions are far from uniform and the negative control can tell them apart.
  const usable = refs.filter((r) => !r.skip);
  const picked = [usable.find((r) => fixtureName(r.file) === 'sotu-llama'), usable.find((r) => r.fp16), usable[0]].filter((r, i, a): r is FixtureRef => !!r && a.indexOf(r) === i);
  const real = picked.map((r) => {
    const V = r.vocab;
    const off = r.prefill.offset + (r.prompt.length - 1) * V;
    const x = Float32Array.from(data.subarray(off, off + V));
    const name = fixtureName(r.file);
    if (name === 'sotu-llama') return { name, logits: x };
    const mean = x.reduce((a, b) => a + b, 0) / V;
    const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / V) || 1;
    return { name: `${name} (x${(3 / sd).toFixed(1)})`, logits: x.map((v) => ((v - mean) * 3) / sd) };
  });
  // The emulator sorts each row: the 152k-column rows would take many minutes there.
  const rows = samplingRows(device, real, device === 'cuda');
  const sotu = refs.find((r) => !r.skip && fixtureName(r.file) === 'sotu-llama');
  if (sotu) {
    let backend: CudaBackend | undefined;
    try {
      const model = lowerLlm(loadModel(path.join(root, sotu.file)), { cache: 'static_v3', maxSeqLen: MAX_SEQ }).model;
      backend = await createCudaBackend(model, { device });
      rows.push(generateRow('sotu-llama static_v3', backend, sotu.prompt, MAX_SEQ));
    } catch (e) {
      rows.push({ name: 'sotu-llama generate', pass: false, detail: (e as Error).message.split('\n')[0] });
    } finally {
      await backend?.dispose();
    }
    const r = rows[rows.length - 1];
    console.log(`${r.pass ? 'PASS' : 'FAIL'} sampling ${r.name}: ${r.detail}`);
  }
  const failed = rows.filter((r) => !r.pass).length;
  console.log(`sampling: ${rows.length - failed}/${rows.length} passed`);
  return failed;
}
