import { DataType } from '../ir/dtype';
import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';
import type { Value } from '../ir/value';
import { dtBytes, numel, OpCode, dtCode, MAX_RANK, weightsStoredTransposed } from '../converters/cuda';
import type { Backend } from './backend';
import { hostDType } from './cache-layout';
import type { HostTensor } from './host-tensor';
import { loadAddon, NativeAddon, NativeKind, NativeProbe } from './native/addon';
import { CacheIdioms, findCacheIdioms } from './plan/cache-idioms';
import { DeviceGenerateOptions, DeviceGenerateResult, deviceSampling, RNG_STATE_BYTES, rngState, samplingTag, selectInstruction, truncateAtEos } from './cuda-sampling';
import { buildPlan, encodeProgram, ExecutionPlan, PlanBuffer, SharedBuffers } from './plan/execution-plan';

/** Thrown by createCudaBackend where no GPU runtime exists; the message is `cuda backend not available: <reason>`. */
export class CudaUnavailableError extends OnnxLowerError {
  constructor(readonly reason: string) {
    super('CUDA_UNAVAILABLE', `cuda backend not available: ${reason}`);
  }
}

export class CudaRuntimeError extends OnnxLowerError {}

export interface CudaBackendOptions {
  /** 'cuda' (default), or 'emulator': the same programs on the CPU emulator addon (tests without a GPU). */
  device?: NativeKind;
  /** Use the runtime's GEMV for matrix-vector products (default true); false = cuBLAS for every product. */
  gemv?: boolean;
  /** Capture decode steps (seq = 1) as CUDA graphs and replay them (default true). */
  cudaGraphs?: boolean;
  /** Synchronise and check after every kernel (slow; for locating faults). */
  debugSync?: boolean;
  /** Programmatic dependent launch on sm_90+ (default true): a kernel starts while its predecessor finishes. */
  pdl?: boolean;
  /** Raw native runtime options (setOption name → value), for benchmarks and experiments. */
  nativeOptions?: Record<string, number>;
}

/** Whether the cuda backend can run here, and why not. */
export function cudaAvailability(kind: NativeKind = 'cuda'): { available: boolean; reason?: string; device?: string } {
  const { addon, reason } = loadAddon(kind);
  if (!addon) return { available: false, reason };
  const p = addon.probe();
  return p.available ? { available: true, device: p.name } : { available: false, reason: p.reason };
}

interface CacheSlot {
  readonly name: string;
  readonly bytes: number;
  readonly dims: readonly number[];
  readonly dtype: DataType;
  /** Two buffers when the cache output cannot alias its input (v1/v2), one for in-place (v3). */
  readonly bufs: number[];
}

interface PlanState {
  readonly plan: ExecutionPlan;
  readonly inputPtrs: Map<number, number>;
  readonly constPtrs: Map<number, number>;
  readonly programs: Map<string, { program: Float64Array; graph?: number }>;
}

/** Cache output of a run, left on the device; feeding it back in costs no copy. Reading `data` downloads it. */
export class DeviceTensor implements HostTensor {
  constructor(private readonly backend: CudaBackend, readonly slot: string, readonly ptr: number, readonly type: string, readonly dims: readonly number[], private readonly dtype: DataType) {}
  get data(): Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array {
    return this.backend.download(this.ptr, this.dtype, this.dims);
  }
}

function typedFor(dtype: DataType, n: number): Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array {
  switch (dtype) {
    case DataType.FLOAT: return new Float32Array(n);
    case DataType.FLOAT16: case DataType.BFLOAT16: return new Uint16Array(n);
    case DataType.INT64: return new BigInt64Array(n);
    case DataType.INT32: return new Int32Array(n);
    default: return new Uint8Array(n);
  }
}

/** Converts a host tensor's data to the typed array the device layout needs. */
function toDeviceArray(t: HostTensor, dtype: DataType, name: string): ArrayBufferView {
  const n = numel(t.dims);
  const d = t.data as ArrayLike<unknown>;
  if (d.length !== n) throw new CudaRuntimeError('CUDA_FEED', `feed '${name}' has ${d.length} values for dims [${t.dims.join(', ')}]`, name);
  const want = hostDType(dtype);
  if (t.type !== want) throw new CudaRuntimeError('CUDA_FEED', `feed '${name}' is ${t.type}, the model wants ${want}`, name);
  if (ArrayBuffer.isView(d)) return d as unknown as ArrayBufferView;
  const out = typedFor(dtype, n);
  for (let i = 0; i < n; i++) (out as unknown as unknown[])[i] = (d as unknown[])[i];
  return out;
}

export interface GreedyOptions {
  maxNewTokens: number;
  /** Cache length (default: prompt + maxNewTokens). */
  maxSeqLen?: number;
}

export interface GreedyResult {
  tokens: number[][];
  /** Prefill, first-token argmax and its download, in ms (time to first token). */
  prefillMs: number;
  /** Wall time of all decode steps (maxNewTokens - 1 of them), in ms. */
  decodeMs: number;
  decodeSteps: number;
}

/**
 * The native CUDA backend: runs the lowered graph with its own kernels. Weights are uploaded once, caches
 * stay on the device (v3 updated in place), temporaries live in one arena planned per input shape, and
 * decode steps are replayed as CUDA graphs.
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly idioms: CacheIdioms | undefined;
  private readonly weightBufs = new Map<Value, PlanBuffer>();
  private readonly weightPtrs = new Map<number, number>();
  private nextId = 1;
  private arena = { ptr: 0, bytes: 0 };
  private readonly plans = new Map<string, PlanState>();
  private readonly slots = new Map<string, CacheSlot>();
  private readonly shared: SharedBuffers;
  private disposed = false;
  readonly probe: NativeProbe;

  private constructor(private readonly addon: NativeAddon, private readonly model: Model, private readonly options: CudaBackendOptions) {
    this.probe = addon.probe();
    this.idioms = findCacheIdioms(model);
    this.inputNames = model.graph.inputs.filter((v) => !v.isInitializer).map((v) => v.name);
    this.outputNames = model.graph.outputs.map((v) => v.name);
    this.shared = {
      nextId: () => this.nextId++,
      weight: (v) => {
        let b = this.weightBufs.get(v);
        if (!b) {
          b = { id: this.nextId++, kind: 'weight', bytes: Math.max(v.constValue?.byteLength ?? 1, 1), name: v.name };
          this.weightBufs.set(v, b);
        }
        return b;
      },
      transposed: options.gemv === false ? new Set() : weightsStoredTransposed(model),
    };
  }

  static create(model: Model, options: CudaBackendOptions = {}): CudaBackend {
    const kind = options.device ?? 'cuda';
    const { addon, reason } = loadAddon(kind);
    if (!addon) throw new CudaUnavailableError(reason ?? 'unknown');
    const p = addon.probe();
    if (!p.available) throw new CudaUnavailableError(p.reason);
    try {
      addon.init();
    } catch (e) {
      throw new CudaUnavailableError((e as Error).message);
    }
    addon.setOption('debugSync', options.debugSync ? 1 : 0);
    addon.setOption('pdl', options.pdl === false ? 0 : 1);
    for (const [k, v] of Object.entries(options.nativeOptions ?? {})) addon.setOption(k, v);
    return new CudaBackend(addon, model, options);
  }

  private get smCount(): number {
    return this.probe.smCount || 132;
  }

  // ------------------------------------------------------------------ plans and memory
  private planFor(inputDims: Map<string, readonly number[]>): PlanState {
    const key = [...inputDims.entries()].map(([k, d]) => `${k}:${d.join('x')}`).join(',');
    let st = this.plans.get(key);
    if (st) return st;
    const plan = buildPlan(this.model, this.idioms, inputDims, { smCount: this.smCount, gemv: this.options.gemv ?? true }, this.shared);
    st = { plan, inputPtrs: new Map(), constPtrs: new Map(), programs: new Map() };
    for (const b of plan.buffers.values()) {
      if (b.kind === 'input') st.inputPtrs.set(b.id, this.addon.alloc(b.bytes));
      if (b.kind === 'const') {
        const ptr = this.addon.alloc(b.bytes);
        this.addon.upload(ptr, plan.consts.get(b.id) as Uint8Array);
        st.constPtrs.set(b.id, ptr);
      }
    }
    this.uploadWeights();
    if (plan.memory.arenaBytes > this.arena.bytes) this.growArena(plan.memory.arenaBytes);
    this.plans.set(key, st);
    return st;
  }

  private uploadWeights(): void {
    let staging: { ptr: number; bytes: number } | undefined;
    try {
      for (const [v, b] of this.weightBufs) {
        if (this.weightPtrs.has(b.id)) continue;
        const t = v.constValue;
        if (!t) throw new CudaRuntimeError('CUDA_WEIGHT', `initializer '${v.name}' has no data`, v.name);
        const ptr = this.addon.alloc(b.bytes);
        this.weightPtrs.set(b.id, ptr);
        const bytes = t.bytes();
        if (!bytes.byteLength) continue;
        if (!this.shared.transposed.has(v)) {
          this.addon.upload(ptr, bytes);
          continue;
        }
        // Stored transposed: upload [K, N] to a staging buffer, then a strided copy writes [N, K] in place.
        if (!staging || staging.bytes < bytes.byteLength) {
          if (staging) this.addon.free(staging.ptr);
          staging = { ptr: this.addon.alloc(bytes.byteLength), bytes: bytes.byteLength };
        }
        this.addon.upload(staging.ptr, bytes);
        const [K, N] = t.dims;
        const dt = dtCode(t.dtype, v.name);
        const pad = (a: number[]) => [...a, ...new Array<number>(MAX_RANK - a.length).fill(0)];
        this.addon.exec(new Float64Array([OpCode.COPY, 2 + 1 + 3 * MAX_RANK + 2, dt, dt, 2, ...pad([N, K]), ...pad([1, N]), ...pad([K, 1]), staging.ptr, ptr]));
        this.addon.sync();
      }
    } finally {
      if (staging) this.addon.free(staging.ptr);
    }
  }

  private growArena(bytes: number): void {
    this.addon.sync();
    if (this.arena.ptr) this.addon.free(this.arena.ptr);
    this.arena = { ptr: this.addon.alloc(bytes), bytes };
    // Programs and graphs hold arena addresses.
    for (const st of this.plans.values()) this.dropPrograms(st);
  }

  private dropPrograms(st: PlanState): void {
    for (const p of st.programs.values()) if (p.graph !== undefined) this.addon.graphDestroy(p.graph);
    st.programs.clear();
  }

  private address(st: PlanState, buf: number, cacheIn: Map<string, number>, cacheOut: Map<string, number>): number {
    const b = st.plan.buffers.get(buf);
    if (!b) throw new CudaRuntimeError('CUDA_PLAN', `buffer ${buf} is not in the plan`);
    switch (b.kind) {
      case 'weight': return this.weightPtrs.get(buf) as number;
      case 'const': return st.constPtrs.get(buf) as number;
      case 'input': return st.inputPtrs.get(buf) as number;
      case 'temp': return this.arena.ptr + (st.plan.memory.offsets.get(buf) as number);
      case 'cacheIn': return cacheIn.get(b.name) as number;
      case 'cacheOut': return cacheOut.get(b.name) as number;
    }
  }

  private slotFor(name: string, dims: readonly number[], dtype: DataType, pair: boolean): CacheSlot {
    let s = this.slots.get(name);
    const bytes = numel(dims) * dtBytes(dtype);
    if (s && (s.bytes !== bytes || s.dims.join() !== dims.join() || s.dtype !== dtype || (pair && s.bufs.length < 2))) {
      this.addon.sync();
      s.bufs.forEach((p) => this.addon.free(p));
      for (const st of this.plans.values()) this.dropPrograms(st);
      s = undefined;
    }
    if (!s) {
      s = { name, bytes, dims: [...dims], dtype, bufs: Array.from({ length: pair ? 2 : 1 }, () => this.addon.alloc(bytes)) };
      this.slots.set(name, s);
    }
    return s;
  }

  /** The program for a plan and a cache binding (encoded once; decode programs captured as CUDA graphs). */
  private program(st: PlanState, cacheIn: Map<string, number>, cacheOut: Map<string, number>, extra: Float64Array | undefined, tag: string): { program: Float64Array; graph?: number } {
    const key = [...cacheIn.values(), '|', ...cacheOut.values(), tag].join(',');
    let p = st.programs.get(key);
    if (!p) {
      const body = encodeProgram(st.plan.steps, (b) => this.address(st, b, cacheIn, cacheOut));
      let program = body;
      if (extra) {
        program = new Float64Array(body.length + extra.length);
        program.set(body);
        program.set(extra, body.length);
      }
      p = { program };
      st.programs.set(key, p);
    }
    return p;
  }

  private launch(p: { program: Float64Array; graph?: number }, useGraph: boolean): void {
    if (!useGraph) {
      this.addon.exec(p.program);
      return;
    }
    if (p.graph === undefined) {
      this.addon.captureBegin();
      try {
        this.addon.exec(p.program);
      } finally {
        p.graph = this.addon.captureEnd();
      }
    }
    this.addon.graphLaunch(p.graph);
  }

  download(ptr: number, dtype: DataType, dims: readonly number[]): Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array {
    const out = typedFor(dtype, numel(dims));
    if (out.byteLength) this.addon.download(ptr, out);
    return out;
  }

  // ------------------------------------------------------------------ Backend
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    if (this.disposed) throw new CudaRuntimeError('CUDA_DISPOSED', 'the cuda backend was disposed');
    const dims = new Map<string, readonly number[]>();
    for (const v of this.model.graph.inputs) {
      if (v.isInitializer) continue;
      const f = feeds[v.name];
      if (!f) throw new CudaRuntimeError('CUDA_FEED', `missing feed '${v.name}'`, v.name);
      dims.set(v.name, [...f.dims]);
    }
    const st = this.planFor(dims);
    const { cacheIn, cacheOut } = this.bindCaches(st, feeds);
    this.checkIndices(st, feeds);
    for (const [name, inp] of st.plan.inputs) {
      const f = feeds[name];
      const data = toDeviceArray(f, inp.info.dtype, name);
      if (data.byteLength) this.addon.upload(st.inputPtrs.get(inp.buf) as number, data);
    }
    const decode = (dims.get('input_ids')?.[1] ?? 0) === 1;
    const p = this.program(st, cacheIn, cacheOut, undefined, '');
    this.launch(p, decode && (this.options.cudaGraphs ?? true));
    const out: Record<string, HostTensor> = {};
    for (const [name, o] of st.plan.outputs) {
      const ptr = this.address(st, o.ref.buf, cacheIn, cacheOut) + o.ref.offset;
      out[name] = { type: hostDType(o.info.dtype), dims: o.info.dims, data: this.download(ptr, o.info.dtype, o.info.dims) };
    }
    for (const c of st.plan.caches) {
      out[c.output] = new DeviceTensor(this, c.input, cacheOut.get(c.output) as number, hostDType(c.info.dtype), c.info.dims, c.info.dtype);
    }
    return out;
  }

  /** Cache buffers for this run: device tensors fed back are used as they are, host data is uploaded. */
  private bindCaches(st: PlanState, feeds: Record<string, HostTensor>): { cacheIn: Map<string, number>; cacheOut: Map<string, number> } {
    const cacheIn = new Map<string, number>();
    const cacheOut = new Map<string, number>();
    for (const c of st.plan.caches) {
      const slot = this.slotFor(c.input, c.info.dims, c.info.dtype, !c.inPlace);
      const f = feeds[c.input];
      let inPtr: number;
      if (f instanceof DeviceTensor && f.slot === c.input && slot.bufs.includes(f.ptr)) {
        inPtr = f.ptr;
      } else {
        inPtr = slot.bufs[0];
        const data = toDeviceArray(f, c.info.dtype, c.input);
        this.addon.upload(inPtr, data);
      }
      cacheIn.set(c.input, inPtr);
      cacheOut.set(c.output, c.inPlace ? inPtr : slot.bufs.find((b) => b !== inPtr) as number);
    }
    return { cacheIn, cacheOut };
  }

  private checkIndices(st: PlanState, feeds: Record<string, HostTensor>): void {
    if (!st.plan.caches.length) return;
    const start = Number((feeds.start_idx?.data as ArrayLike<bigint | number>)?.[0]);
    const end = Number((feeds.end_idx?.data as ArrayLike<bigint | number>)?.[0]);
    const seq = feeds.input_ids?.dims[1] ?? 0;
    const T = st.plan.caches[0].info.dims[2];
    if (!(start >= 0) || end !== start + seq || end > T) {
      throw new CudaRuntimeError('CUDA_INDICES', `start_idx ${start} / end_idx ${end} do not fit seq ${seq} and a cache of ${T}`);
    }
  }

  // ------------------------------------------------------------------ generation on the device
  /** Greedy generation on the device: generate() without sampling. */
  greedy(prompt: readonly (readonly number[])[], o: GreedyOptions): GreedyResult {
    return this.generate(prompt, o);
  }

  /**
   * Generation with everything on the device: prefill, next-id selection (argmax, or OP_SAMPLE with temperature /
   * top-k / top-p: src/runtime/cuda-sampling.ts), and decode steps that feed the selected ids back as the next
   * input (one CUDA graph launch per token; the host synchronises only every `syncEvery` steps, to stop at EOS).
   */
  generate(prompt: readonly (readonly number[])[], o: DeviceGenerateOptions): DeviceGenerateResult {
    const B = prompt.length;
    const S = prompt[0].length;
    const maxSeq = o.maxSeqLen ?? S + o.maxNewTokens;
    if (!this.idioms) throw new CudaRuntimeError('CUDA_GREEDY', 'greedy() needs a static-cache model');
    if (S + o.maxNewTokens - 1 > maxSeq) throw new CudaRuntimeError('CUDA_GREEDY', `prompt ${S} + ${o.maxNewTokens} tokens exceed max_seq_len ${maxSeq}`);
    const inputDims = (seq: number) => {
      const m = new Map<string, readonly number[]>();
      for (const v of this.model.graph.inputs) {
        if (v.isInitializer) continue;
        if (v.name === 'input_ids' || v.name === 'position_ids') m.set(v.name, [B, seq]);
        else if (v.name === 'start_idx' || v.name === 'end_idx') m.set(v.name, []);
        else if (this.idioms!.updates.some((u) => u.cacheIn === v)) {
          const s = v.shape ?? [];
          m.set(v.name, [B, s[1] as number, maxSeq, s[3] as number]);
        } else throw new CudaRuntimeError('CUDA_GREEDY', `greedy() cannot feed input '${v.name}'`);
      }
      return m;
    };
    const pre = this.planFor(inputDims(S));
    const dec = this.planFor(inputDims(1));
    const logitsOf = (st: PlanState) => {
      const l = st.plan.outputs.get('logits');
      if (!l) throw new CudaRuntimeError('CUDA_GREEDY', 'the model has no logits output');
      return l;
    };
    // Zeroed caches.
    const bindings: { cacheIn: Map<string, number>; cacheOut: Map<string, number> }[] = [{ cacheIn: new Map(), cacheOut: new Map() }, { cacheIn: new Map(), cacheOut: new Map() }];
    for (const c of pre.plan.caches) {
      const slot = this.slotFor(c.input, c.info.dims, c.info.dtype, !c.inPlace);
      slot.bufs.forEach((p) => this.addon.fill(p, 0, slot.bytes));
      const other = c.inPlace ? slot.bufs[0] : slot.bufs[1];
      bindings[0].cacheIn.set(c.input, slot.bufs[0]);
      bindings[0].cacheOut.set(c.output, other);
      bindings[1].cacheIn.set(c.input, other);
      bindings[1].cacheOut.set(c.output, slot.bufs[0]);
    }
    const small = this.smallBuffers(B, o.maxNewTokens);
    const upload = (st: PlanState, name: string, values: number[]) => {
      const inp = st.plan.inputs.get(name);
      if (inp) this.addon.upload(st.inputPtrs.get(inp.buf) as number, BigInt64Array.from(values, (x) => BigInt(x)));
    };
    const t0 = performance.now();
    upload(pre, 'input_ids', prompt.flat() as number[]);
    upload(pre, 'position_ids', prompt.flatMap(() => Array.from({ length: S }, (_, i) => i)));
    upload(pre, 'start_idx', [0]);
    upload(pre, 'end_idx', [S]);
    const pl = logitsOf(pre);
    const V = pl.info.dims[pl.info.dims.length - 1];
    const sampling = deviceSampling(o.sampling, V);
    const tag = samplingTag(sampling);
    if (!this.rngPtr) this.rngPtr = this.addon.alloc(RNG_STATE_BYTES);
    this.addon.upload(this.rngPtr, rngState(sampling?.seed ?? 0));
    const plAddr = this.address(pre, pl.ref.buf, bindings[0].cacheIn, bindings[0].cacheOut) + pl.ref.offset;
    const selectPre = new Float64Array(selectInstruction(sampling, dtCode(pl.info.dtype, 'logits'), B, V, S * V, plAddr + (S - 1) * V * dtBytes(pl.info.dtype), small.next, this.rngPtr));
    this.launch(this.program(pre, bindings[0].cacheIn, bindings[0].cacheOut, selectPre, tag), false);
    const first = new BigInt64Array(B);
    this.addon.download(small.next, first);
    const prefillMs = performance.now() - t0;
    const tokens = Array.from(first, (x) => [Number(x)]);
    const steps = o.maxNewTokens - 1;
    if (steps <= 0) return { tokens: truncateAtEos(tokens, o.eosTokenIds), prefillMs, decodeMs: 0, decodeSteps: 0, stepMs: [] };
    // Decode inputs: ids = first tokens, positions S, start S, end S + 1; the graph advances them.
    const ptr = (name: string) => dec.inputPtrs.get((dec.plan.inputs.get(name) as { buf: number }).buf) as number;
    this.addon.exec(new Float64Array([OpCode.MEMCPY, 3, ptr('input_ids'), small.next, B * 8]));
    upload(dec, 'position_ids', new Array<number>(B).fill(S));
    upload(dec, 'start_idx', [S]);
    upload(dec, 'end_idx', [S + 1]);
    this.addon.fill(small.counter, 0, 8);
    const dl = logitsOf(dec);
    const useGraph = this.options.cudaGraphs ?? true;
    const progs = [0, 1].map((parity) => {
      const bnd = bindings[(parity + 1) % 2];
      const la = this.address(dec, dl.ref.buf, bnd.cacheIn, bnd.cacheOut) + dl.ref.offset;
      const tail = new Float64Array([
        ...selectInstruction(sampling, dtCode(dl.info.dtype, 'logits'), B, V, V, la, small.next, this.rngPtr),
        OpCode.ADVANCE, 8, B, ptr('input_ids'), small.next, ptr('position_ids'), ptr('start_idx'), ptr('end_idx'), small.log, small.counter,
      ]);
      return this.program(dec, bnd.cacheIn, bnd.cacheOut, tail, tag);
    });
    const inPlace = dec.plan.caches.every((c) => c.inPlace);
    // Capture before timing (capture does not run the work).
    if (useGraph) for (const p of inPlace ? [progs[0]] : progs) this.capture(p);
    const eos = o.eosTokenIds?.length ? o.eosTokenIds : undefined;
    const every = Math.max(1, o.syncEvery ?? (eos ? 16 : steps));
    const stepMs: number[] = [];
    let done = 0;
    const t1 = performance.now();
    while (done < steps) {
      const n = Math.min(every, steps - done);
      const tc = performance.now();
      for (let i = done; i < done + n; i++) this.launch(inPlace ? progs[0] : progs[i % 2], useGraph);
      this.addon.sync();
      const ms = (performance.now() - tc) / n;
      for (let i = 0; i < n; i++) stepMs.push(ms);
      done += n;
      if (eos && done < steps && this.allStopped(tokens, small.log, done, B, eos)) break;
    }
    const decodeMs = performance.now() - t1;
    const log = new BigInt64Array(done * B);
    this.addon.download(small.log, log);
    for (let i = 0; i < done; i++) for (let b = 0; b < B; b++) tokens[b].push(Number(log[i * B + b]));
    return { tokens: truncateAtEos(tokens, eos), prefillMs, decodeMs, decodeSteps: done, stepMs };
  }

  /** Whether every row has produced an EOS: the first tokens, then `done` steps of the device log. */
  private allStopped(first: number[][], logPtr: number, done: number, B: number, eos: readonly number[]): boolean {
    const log = new BigInt64Array(done * B);
    this.addon.download(logPtr, log);
    for (let b = 0; b < B; b++) {
      let hit = eos.includes(first[b][0]);
      for (let i = 0; i < done && !hit; i++) hit = eos.includes(Number(log[i * B + b]));
      if (!hit) return false;
    }
    return true;
  }

  private capture(p: { program: Float64Array; graph?: number }): void {
    if (p.graph !== undefined) return;
    this.addon.captureBegin();
    try {
      this.addon.exec(p.program);
    } finally {
      p.graph = this.addon.captureEnd();
    }
  }

  private rngPtr = 0;
  private small: { next: number; log: number; counter: number; B: number; steps: number } | undefined;
  private smallBuffers(B: number, steps: number): { next: number; log: number; counter: number } {
    if (!this.small || this.small.B < B || this.small.steps < steps) {
      if (this.small) [this.small.next, this.small.log, this.small.counter].forEach((p) => this.addon.free(p));
      this.small = { next: this.addon.alloc(B * 8), log: this.addon.alloc(Math.max(steps, 1) * B * 8), counter: this.addon.alloc(8), B, steps };
      for (const st of this.plans.values()) this.dropPrograms(st);
    }
    return this.small;
  }

  /** Plan statistics for one input shape (tests and the bench print them). */
  planStats(): { key: string; kernels: number; arenaBytes: number; unplannedBytes: number; byOp: Record<string, number> }[] {
    return [...this.plans.values()].map((s) => {
      const byOp: Record<string, number> = {};
      for (const st of s.plan.steps) byOp[OpCode[st.op]] = (byOp[OpCode[st.op]] ?? 0) + 1;
      return { key: s.plan.key, kernels: s.plan.steps.length, arenaBytes: s.plan.memory.arenaBytes, unplannedBytes: s.plan.memory.totalBytes, byOp };
    });
  }

  /**
   * Per-instruction GPU time (ms, count) keyed by kernel and shape, gathered by the native runtime while
   * profiling is on (`profile(true)` clears it). Only un-captured execution is timed: use cudaGraphs: false.
   */
  /** Sets a raw native runtime option (benchmarks, experiments); it applies to every backend of the process. */
  setNativeOption(name: string, value: number): void {
    this.addon.setOption(name, value);
  }

  profile(on: boolean): void {
    this.addon.setOption('profile', on ? 1 : 0);
  }

  profileReport(): Record<string, { ms: number; n: number }> {
    return JSON.parse(this.addon.profileReport()) as Record<string, { ms: number; n: number }>;
  }

  /** Device-to-device copy bandwidth in bytes/s (bytes read + written). */
  copyBandwidth(bytes = 1 << 30, iters = 20): number {
    return this.addon.copyBandwidth(bytes, iters);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.addon.sync();
    } catch {
      // already failed: release what we can
    }
    for (const st of this.plans.values()) {
      this.dropPrograms(st);
      [...st.inputPtrs.values(), ...st.constPtrs.values()].forEach((p) => this.addon.free(p));
    }
    this.plans.clear();
    this.weightPtrs.forEach((p) => this.addon.free(p));
    this.weightPtrs.clear();
    this.slots.forEach((s) => s.bufs.forEach((p) => this.addon.free(p)));
    this.slots.clear();
    if (this.arena.ptr) this.addon.free(this.arena.ptr);
    if (this.small) [this.small.next, this.small.log, this.small.counter].forEach((p) => this.addon.free(p));
    if (this.rngPtr) this.addon.free(this.rngPtr);
  }
}

/** Creates the cuda backend for a lowered model; throws CudaUnavailableError where no GPU runtime exists. */
export async function createCudaBackend(model: Model, options: CudaBackendOptions = {}): Promise<CudaBackend> {
  return CudaBackend.create(model, options);
}
