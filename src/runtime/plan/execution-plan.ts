import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { RawTensor, Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import { canEvaluate, evaluateNode } from '../../passes/common/evaluator';
import {
  Arg, ConvertContext, CacheView, cudaConverters, DeviceFacts, DeviceRef, dtBytes, dtCode, dtCodeBytes, KernelStep, numel, OpCode, TensorInfo,
  UnsupportedOpError,
} from '../../converters/cuda';
import { CacheIdioms, PlanError } from './cache-idioms';
import { fuseNormsIntoGemv } from './fuse-norm-gemv';
import { fuseAttentionPrologues } from './fuse-prologue';
import { alignUp, BufferLifetime, MemoryPlan, planMemory } from './memory-planner';

export type BufferKind = 'weight' | 'const' | 'temp' | 'input' | 'cacheIn' | 'cacheOut';

/** A logical buffer of a plan; the backend gives it an address. */
export interface PlanBuffer {
  readonly id: number;
  readonly kind: BufferKind;
  readonly bytes: number;
  /** Graph input/output name (input, cacheIn, cacheOut), initializer name (weight), else the value's name. */
  readonly name: string;
}

export interface CacheBinding {
  readonly input: string;
  readonly output: string;
  readonly inPlace: boolean;
  readonly info: TensorInfo;
}

/** One program for one set of input shapes: kernels in order, buffers and the temporaries' memory plan. */
export interface ExecutionPlan {
  readonly key: string;
  readonly steps: readonly KernelStep[];
  readonly buffers: ReadonlyMap<number, PlanBuffer>;
  readonly memory: MemoryPlan;
  /** Non-cache graph inputs (uploaded per run). */
  readonly inputs: ReadonlyMap<string, { buf: number; info: TensorInfo }>;
  /** Graph outputs that are not caches. */
  readonly outputs: ReadonlyMap<string, { ref: DeviceRef; info: TensorInfo }>;
  readonly caches: readonly CacheBinding[];
  /** Host-computed constants to upload once per plan. */
  readonly consts: ReadonlyMap<number, Uint8Array>;
}

/** Weight buffers are shared by all plans of one model; the registry hands out their ids. */
export interface SharedBuffers {
  nextId(): number;
  weight(v: Value): PlanBuffer;
  /** Weights held transposed on the device ([K, N] initializers stored [N, K]: weightsStoredTransposed). */
  readonly transposed: ReadonlySet<Value>;
}

/** Largest host-evaluated result (elements); bigger constant subgraphs run on the device. */
const HOST_EVAL_MAX = 1 << 16;

/** Ops whose outputs depend only on input shapes (never on data). */
const SHAPE_OPS = new Set(['Shape', 'Size']);

export class PlanBuilder implements ConvertContext {
  private readonly infos = new Map<Value, TensorInfo>();
  private readonly hostValues = new Map<Value, Tensor>();
  private readonly refs = new Map<Value, DeviceRef>();
  private readonly buffers = new Map<number, PlanBuffer>();
  private readonly consts = new Map<number, Uint8Array>();
  private readonly steps: KernelStep[] = [];
  private readonly outputsExtend = new Set<number>();
  private current: Node | undefined;
  private readonly opset: number;
  private readonly skipped = new Set<Node>();
  private readonly transposed = new Map<Value, Value>();
  readonly pending = new Map<Value, unknown>();
  private startValue: Value | undefined;

  constructor(
    private readonly model: Model,
    private readonly idioms: CacheIdioms | undefined,
    private readonly inputDims: ReadonlyMap<string, readonly number[]>,
    readonly device: DeviceFacts,
    private readonly shared: SharedBuffers,
  ) {
    this.opset = model.opset('') ?? 23;
  }

  // ------------------------------------------------------------------ ConvertContext
  info(v: Value): TensorInfo {
    const i = this.infos.get(v);
    if (i) return i;
    if (v.isInitializer && v.constValue) return { dims: v.constValue.dims, dtype: v.constValue.dtype };
    throw new PlanError('PLAN_VALUE', `value '${v.name}' is used before it is computed (at ${this.current?.describe() ?? 'graph'})`, v.name);
  }

  host(v: Value): Tensor | undefined {
    return this.hostValues.get(v) ?? (v.isInitializer ? v.constValue : undefined);
  }

  hostInts(v: Value, what: string): number[] {
    const t = this.host(v);
    if (!t) throw new PlanError('PLAN_HOST_VALUE', `${this.current?.describe() ?? ''}: ${what} ('${v.name}') must be computable from shapes and constants, but it depends on tensor data`, v.name);
    return t.toNumbers();
  }

  ref(v: Value): DeviceRef {
    const r = this.refs.get(v);
    if (r) return r;
    if (v.isInitializer && v.constValue) {
      const b = this.shared.weight(v);
      this.buffers.set(b.id, b);
      const ref = { buf: b.id, offset: 0 };
      this.refs.set(v, ref);
      return ref;
    }
    const t = this.hostValues.get(v);
    if (t) {
      const bytes = t.bytes();
      const id = this.shared.nextId();
      this.buffers.set(id, { id, kind: 'const', bytes: Math.max(bytes.byteLength, 1), name: v.name });
      this.consts.set(id, bytes);
      const ref = { buf: id, offset: 0 };
      this.refs.set(v, ref);
      return ref;
    }
    throw new PlanError('PLAN_VALUE', `value '${v.name}' has no device storage (at ${this.current?.describe() ?? 'graph'})`, v.name);
  }

  define(v: Value, info: TensorInfo): DeviceRef {
    const ref = this.newBuffer('temp', numel(info.dims) * dtBytes(info.dtype), v.name);
    this.refs.set(v, ref);
    this.infos.set(v, info);
    return ref;
  }

  alias(v: Value, src: Value, info: TensorInfo, byteOffset = 0): void {
    const h = this.hostValues.get(src);
    if (h && !this.refs.has(src) && numel(info.dims) <= HOST_EVAL_MAX) {
      // A view of a host value stays on the host (its bytes, re-shaped).
      const all = h.bytes();
      const n = numel(info.dims) * dtBytes(info.dtype);
      this.hostValues.set(v, new RawTensor(info.dtype, info.dims, all.subarray(byteOffset, byteOffset + n), v.name));
      this.infos.set(v, info);
      return;
    }
    const r = this.ref(src);
    this.refs.set(v, { buf: r.buf, offset: r.offset + byteOffset });
    this.infos.set(v, info);
  }

  scratch(bytes: number): DeviceRef {
    return this.newBuffer('temp', bytes, `${this.current?.name ?? ''}/scratch`);
  }

  emit(op: OpCode, args: readonly Arg[]): void {
    this.steps.push({ op, args, node: this.current?.name ?? '', opType: this.current?.op ?? '' });
  }

  cacheView(v: Value): CacheView | undefined {
    const u = this.idioms?.byAttend.get(v);
    return u ? { present: u.present } : undefined;
  }

  isOffsetCausalMask(v: Value): boolean {
    return this.idioms?.masks.has(v) ?? false;
  }

  startRef(): DeviceRef {
    if (!this.startValue) throw new PlanError('PLAN_CACHE', 'the graph has no start_idx input');
    return this.ref(this.startValue);
  }

  skip(node: Node): void {
    this.skipped.add(node);
  }

  isHandled(node: Node): boolean {
    return this.skipped.has(node) || node.outputs.some((o) => this.infos.has(o) || this.refs.has(o) || this.hostValues.has(o));
  }

  storedTransposed(w: Value): boolean {
    return this.shared.transposed.has(w);
  }

  deferTranspose(v: Value, weight: Value, info: TensorInfo): void {
    this.transposed.set(v, weight);
    this.infos.set(v, info);
  }

  transposedWeight(v: Value): Value | undefined {
    return this.transposed.get(v);
  }

  // ------------------------------------------------------------------ building
  private newBuffer(kind: BufferKind, bytes: number, name: string): DeviceRef {
    const id = this.shared.nextId();
    this.buffers.set(id, { id, kind, bytes: Math.max(bytes, 1), name });
    return { buf: id, offset: 0 };
  }

  build(key: string): ExecutionPlan {
    const g = this.model.graph;
    const cacheOf = new Map<string, { update: NonNullable<CacheIdioms>['updates'][number] }>();
    for (const u of this.idioms?.updates ?? []) cacheOf.set(u.cacheIn.name, { update: u });
    const inputs = new Map<string, { buf: number; info: TensorInfo }>();
    const caches: CacheBinding[] = [];
    for (const v of g.inputs) {
      if (v.isInitializer) continue;
      const dims = this.inputDims.get(v.name);
      if (!dims) throw new PlanError('PLAN_INPUT', `no shape for graph input '${v.name}'`, v.name);
      if (v.dtype === undefined) throw new PlanError('PLAN_INPUT', `graph input '${v.name}' has no element type`, v.name);
      const info = { dims, dtype: v.dtype };
      this.infos.set(v, info);
      const c = cacheOf.get(v.name);
      const bytes = numel(dims) * dtBytes(v.dtype);
      if (c) {
        const ref = this.newBuffer('cacheIn', bytes, v.name);
        this.refs.set(v, ref);
        const out = this.newBuffer('cacheOut', bytes, c.update.present.name);
        this.refs.set(c.update.present, out);
        this.infos.set(c.update.present, info);
        caches.push({ input: v.name, output: c.update.present.name, inPlace: c.update.inPlace, info });
      } else {
        const ref = this.newBuffer('input', bytes, v.name);
        this.refs.set(v, ref);
        inputs.set(v.name, { buf: ref.buf, info });
      }
      if (v.name === 'start_idx') this.startValue = v;
    }
    const writes = new Map<Node, NonNullable<CacheIdioms>['updates'][number]>();
    for (const u of this.idioms?.updates ?? []) writes.set(u.writeAt, u);

    for (const node of g.nodes) {
      this.current = node;
      if (this.skipped.has(node)) continue;
      if (this.idioms?.replaced.has(node)) {
        const u = writes.get(node);
        if (u) this.emitCacheWrite(u);
        continue;
      }
      if (node.domain !== '' && node.domain !== 'ai.onnx') throw new UnsupportedOpError('CUDA_OP', `${node.describe()}: domain '${node.domain}' is not supported by the cuda backend`, node.name);
      if (this.tryHost(node)) continue;
      const convert = cudaConverters[node.op];
      if (!convert) throw new UnsupportedOpError('CUDA_OP', `${node.describe()}: op ${node.op} is not supported by the cuda backend`, node.name);
      convert(node, this);
    }
    this.current = undefined;

    const outputs = new Map<string, { ref: DeviceRef; info: TensorInfo }>();
    for (const o of g.outputs) {
      if (caches.some((c) => c.output === o.name)) continue;
      const ref = this.ref(o);
      outputs.set(o.name, { ref, info: this.info(o) });
      this.outputsExtend.add(ref.buf);
    }
    const keep = new Set([...outputs.values()].map((o) => o.ref.buf));
    const fused = fuseNormsIntoGemv(fuseAttentionPrologues(this.steps), keep, dtCodeBytes);
    this.steps.splice(0, this.steps.length, ...fused);
    return {
      key, steps: this.steps, buffers: this.buffers, memory: this.planTemps(), inputs, outputs, caches, consts: this.consts,
    };
  }

  private emitCacheWrite(u: NonNullable<CacheIdioms>['updates'][number]): void {
    const ci = this.info(u.cacheIn);
    const cur = this.info(u.current);
    const [B, H, T, D] = ci.dims;
    if (cur.dims.length !== 4 || cur.dims[0] !== B || cur.dims[1] !== H || cur.dims[3] !== D || cur.dtype !== ci.dtype) {
      throw new PlanError('PLAN_CACHE', `cache '${u.cacheIn.name}' [${ci.dims}] cannot take new rows of shape [${cur.dims}]`, u.cacheIn.name);
    }
    this.emit(OpCode.CACHE_WRITE, [dtCode(ci.dtype, u.cacheIn.name), B, H, T, D, cur.dims[2], this.ref(u.cacheIn), this.ref(u.present), this.ref(u.current), this.startRef(), u.inPlace ? 0 : 1]);
  }

  /** Shape arithmetic and small constant subgraphs run on the host at plan time. */
  private tryHost(node: Node): boolean {
    if (SHAPE_OPS.has(node.op)) {
      const x = node.inputs[0] as Value;
      const dims = this.info(x).dims;
      let out: number[];
      if (node.op === 'Size') out = [numel(dims)];
      else {
        const rank = dims.length;
        const norm = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
        const s = norm(node.attr('start') ? node.attrInt('start') : 0);
        const e = norm(node.attr('end') ? node.attrInt('end') : rank);
        out = dims.slice(s, Math.max(s, e));
      }
      const t = RawTensor.fromArray(DataType.INT64, node.op === 'Size' ? [] : [out.length], BigInt64Array.from(out, (d) => BigInt(d)), node.outputs[0].name);
      this.hostValues.set(node.outputs[0], t);
      this.infos.set(node.outputs[0], { dims: t.dims, dtype: DataType.INT64 });
      return true;
    }
    if (!canEvaluate(node)) return false;
    const ins = node.inputs.map((v) => (v ? this.host(v) : undefined));
    if (node.inputs.some((v, i) => v && !ins[i])) return false;
    if (ins.some((t) => t && t.numElements > HOST_EVAL_MAX)) return false;
    try {
      const outs = evaluateNode(node, ins, this.opset, { maxElements: HOST_EVAL_MAX });
      outs.forEach((t, i) => {
        this.hostValues.set(node.outputs[i], t);
        this.infos.set(node.outputs[i], { dims: t.dims, dtype: t.dtype });
      });
      return true;
    } catch {
      return false;
    }
  }

  private planTemps(): MemoryPlan {
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    this.steps.forEach((s, i) => {
      for (const a of s.args) {
        if (a === null || typeof a === 'number') continue;
        if (!first.has(a.buf)) first.set(a.buf, i);
        last.set(a.buf, i);
      }
    });
    const end = this.steps.length;
    const lifetimes: BufferLifetime[] = [];
    for (const b of this.buffers.values()) {
      if (b.kind !== 'temp') continue;
      const f = first.get(b.id) ?? end;
      const l = this.outputsExtend.has(b.id) ? end : (last.get(b.id) ?? f);
      lifetimes.push({ id: b.id, bytes: alignUp(b.bytes), first: f, last: l });
    }
    return planMemory(lifetimes);
  }
}

/** Key of a plan: the input shapes. */
export function planKey(inputDims: ReadonlyMap<string, readonly number[]>): string {
  return [...inputDims.entries()].map(([k, d]) => `${k}:${d.join('x')}`).join(',');
}

export function buildPlan(model: Model, idioms: CacheIdioms | undefined, inputDims: ReadonlyMap<string, readonly number[]>, device: DeviceFacts, shared: SharedBuffers): ExecutionPlan {
  return new PlanBuilder(model, idioms, inputDims, device, shared).build(planKey(inputDims));
}

/** Encodes a plan's steps as a native program, given each buffer's device address. */
export function encodeProgram(steps: readonly KernelStep[], address: (buf: number) => number): Float64Array {
  let n = 0;
  for (const s of steps) n += 2 + s.args.length;
  const out = new Float64Array(n);
  let i = 0;
  for (const s of steps) {
    out[i++] = s.op;
    out[i++] = s.args.length;
    for (const a of s.args) out[i++] = a === null ? 0 : typeof a === 'number' ? a : address(a.buf) + a.offset;
  }
  return out;
}
