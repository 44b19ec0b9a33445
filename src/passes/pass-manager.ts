import { performance } from 'perf_hooks';
import { cloneModel } from '../ir/clone';
import { OnnxLowerError } from '../ir/errors';
import { AttrType } from '../ir/attribute';
import type { Graph } from '../ir/graph';
import type { Model } from '../ir/model';
import { formatType, TypeInfo } from '../ir/type';
import { VerifyError } from '../ir/errors';
import { verify } from '../ir/verify';
import { checkShapes } from './common/shape-inference';
import type { LoweringOptions, Pass, PassContext } from './pass';

/** One step of a pipeline: a pass, or a nested sequence (which may repeat until stable). */
export type PassEntry = { readonly name: string; readonly pass: Pass } | { readonly name: string; readonly sequence: PassSequence };

export interface PassSequence {
  readonly entries: readonly PassEntry[];
  /** Run the entries again while any of them reports `modified` (bounded by `maxIterations`). */
  readonly repeatUntilStable?: boolean;
  /** Iteration bound for `repeatUntilStable` (default 10); not converging by then is an error. */
  readonly maxIterations?: number;
}

export interface PassManagerOptions {
  /** Run `verify` after every pass (default true). */
  verify?: boolean;
  repeatUntilStable?: boolean;
  maxIterations?: number;
  /** Progress and diagnostics; silent when absent. */
  log?: (message: string) => void;
}

export interface PassReport {
  /** Entry name, qualified by enclosing sequences ('cleanup/dce'). */
  readonly name: string;
  /** 1-based iteration of the innermost repeated sequence (1 when nothing repeats). */
  readonly iteration: number;
  readonly ms: number;
  readonly modified: boolean;
  readonly changes: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** How `PassManager.run` treats the caller's model. */
export interface RunOptions {
  /**
   * Lower the given model itself instead of a clone (the caller hands it over and uses only the report's model
   * afterwards, as the CLI does): saves the clone's time and memory. Default false.
   */
  takeModel?: boolean;
}

export interface PipelineReport {
  /** The lowered model: a new object (the caller's model is never touched) unless run with `takeModel`. */
  readonly model: Model;
  readonly modified: boolean;
  readonly passes: readonly PassReport[];
}

/**
 * A pass failed (`PASS_FAILED`: its own error, a broken contract, a failed verify) or a repeated sequence did
 * not converge (`PIPELINE_NOT_CONVERGED`). The message names the pass and the passes that ran before it.
 */
export class PipelineError extends OnnxLowerError {
  constructor(
    code: string,
    message: string,
    /** The failing pass (or sequence). */
    readonly pass: string,
    /** Passes that ran before it, in order. */
    readonly history: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(code, message, pass);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** A pass broke the PassManager contract (in-place identity, functional purity, honest `modified`). */
export class PassContractError extends OnnxLowerError {}

const DEFAULT_MAX_ITERATIONS = 10;

/**
 * Runs passes over a clone of the model, checking each pass's contract at run time: `requires` before,
 * in-place/functional behaviour and `ensures` after, then `verify` when enabled.
 */
export class PassManager {
  private readonly root: PassSequence;
  private readonly verifyAfterEach: boolean;
  private readonly log: (message: string) => void;

  constructor(passes: readonly PassEntry[], options: PassManagerOptions = {}) {
    this.root = { entries: passes, repeatUntilStable: options.repeatUntilStable, maxIterations: options.maxIterations };
    this.verifyAfterEach = options.verify ?? true;
    this.log = options.log ?? (() => {});
  }

  run(model: Model, options: LoweringOptions = {}, runOptions: RunOptions = {}): PipelineReport {
    const state: RunState = { model: runOptions.takeModel ? model : cloneModel(model), history: [], reports: [], options };
    const modified = this.runSequence(this.root, '', state);
    return { model: state.model, modified, passes: state.reports };
  }

  /** The passes (flattened, first iteration) that run before the first pass named `name`; all when absent. */
  entriesBefore(name: string): PassEntry[] {
    const flat: PassEntry[] = [];
    const stack = [...this.root.entries].reverse();
    while (stack.length) {
      const e = stack.pop() as PassEntry;
      if ('sequence' in e) stack.push(...[...e.sequence.entries].reverse());
      else if (e.name === name) return flat;
      else flat.push(e);
    }
    return flat;
  }

  private runSequence(seq: PassSequence, prefix: string, state: RunState): boolean {
    const max = seq.maxIterations ?? DEFAULT_MAX_ITERATIONS;
    if (!(max >= 1)) throw new PipelineError('PIPELINE_CONFIG', `maxIterations must be at least 1, got ${max}`, prefix || '<pipeline>', []);
    let anyChange = false;
    for (let iteration = 1; ; iteration++) {
      let changed = false;
      for (const entry of seq.entries) {
        const name = prefix + entry.name;
        const m = 'sequence' in entry ? this.runSequence(entry.sequence, `${name}/`, state) : this.runPass(name, entry.pass, iteration, state);
        changed ||= m;
      }
      anyChange ||= changed;
      if (!seq.repeatUntilStable || !changed) return anyChange;
      if (iteration >= max) {
        const what = prefix ? `sequence '${prefix.slice(0, -1)}'` : 'pipeline';
        throw new PipelineError(
          'PIPELINE_NOT_CONVERGED',
          `${what} still reports changes after ${max} iteration(s); passes run: ${describeHistory(state.history)}`,
          prefix.slice(0, -1) || '<pipeline>',
          [...state.history],
        );
      }
    }
  }

  private runPass(name: string, pass: Pass, iteration: number, state: RunState): boolean {
    const before = [...state.history];
    const ctx: PassContext = {
      options: state.options,
      history: before,
      log: (message: string) => this.log(`[${name}] ${message}`),
    };
    const input = state.model;
    // Wall time of the pass's own hooks; the manager's fingerprints and verify are not charged to it.
    let ms = 0;
    const timed = <T>(fn: () => T): T => {
      const start = performance.now();
      try {
        return fn();
      } finally {
        ms += performance.now() - start;
      }
    };
    try {
      timed(() => pass.requires?.(input, ctx));
      // The previous pass left the fingerprint of the model it returned (nothing changes a model between passes).
      const fingerprint = state.fingerprint ?? fingerprintModel(input);
      state.fingerprint = undefined;
      const result = timed(() => pass.run(input, ctx));
      if (!result || typeof result !== 'object' || !result.model) {
        throw new PassContractError('PASS_CONTRACT', `pass '${name}' returned no PassResult with a model`, name);
      }
      let after: string | undefined;
      if (pass.inPlace) {
        if (result.model !== input) {
          throw new PassContractError('PASS_CONTRACT', `pass '${name}' is declared in place but returned a different Model object`, name);
        }
        if (!result.modified) {
          after = fingerprintModel(input);
          if (after !== fingerprint) throw new PassContractError('PASS_CONTRACT', `pass '${name}' changed the model but reported modified: false`, name);
        }
      } else {
        if (result.model === input) {
          throw new PassContractError('PASS_CONTRACT', `pass '${name}' is declared functional but returned its input model`, name);
        }
        if (fingerprintModel(input) !== fingerprint) {
          throw new PassContractError('PASS_CONTRACT', `pass '${name}' is declared functional but mutated its input model`, name);
        }
      }
      timed(() => pass.ensures?.(result.model, ctx));
      after ??= fingerprintModel(result.model);
      // A pass that reports no change, on a model whose fingerprint is the one verified last, leaves the verdict as
      // it was (the fingerprint reads no tensor bytes, so a reported change is always verified).
      if (this.verifyAfterEach && (result.modified || after !== state.verified)) {
        // The IR's own contracts, plus declared types/shapes re-inferred (ir cannot see shape inference, passes can).
        const problems = [...verify(result.model), ...checkShapes(result.model)];
        if (problems.length) throw new VerifyError(problems);
        state.verified = after;
      }
      state.fingerprint = after;
      state.model = result.model;
      state.history.push(name);
      const report: PassReport = {
        name, iteration, ms, modified: result.modified,
        changes: result.changes ?? (result.modified ? 1 : 0),
        counts: { ...(result.counts ?? {}) },
      };
      state.reports.push(report);
      this.log(`${name}: ${result.modified ? `${report.changes} change(s)` : 'no change'} in ${ms.toFixed(1)} ms`);
      return result.modified;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new PipelineError(
        'PASS_FAILED',
        `pass '${name}' failed after ${describeHistory(before)}: ${reason}`,
        name,
        before,
        { cause: e },
      );
    }
  }
}

interface RunState {
  model: Model;
  /** Fingerprint of `model` when known (left by the pass that produced it). */
  fingerprint?: string;
  /** Fingerprint of the model the last verify passed on. */
  verified?: string;
  readonly history: string[];
  readonly reports: PassReport[];
  readonly options: LoweringOptions;
}

function describeHistory(history: readonly string[]): string {
  if (history.length === 0) return 'no earlier passes';
  const shown = history.length > 40 ? [`… ${history.length - 40} earlier`, ...history.slice(-40)] : history;
  return `[${shown.join(', ')}]`;
}

/**
 * A cheap structural digest of the model: node count and order, ops, value names and types, use counts,
 * scalar attributes, graph interfaces and initializers. It catches a pass that mutates what it must not;
 * it is not a full equality (tensor bytes are not read). Fed field by field (no strings built per node).
 */
export function fingerprintModel(model: Model): string {
  const h = new Digest();
  const graphs: Graph[] = [...model.graph.allGraphs()];
  for (const f of model.functions) graphs.push(...f.body.allGraphs());
  h.str('graphs').int(graphs.length);
  for (const g of graphs) {
    h.str('G').str(g.name).int(g.nodes.size).int(g.initializers.size);
    for (const v of g.inputs) h.str('in').str(v.name).int(v.useCount).type(v.type);
    for (const [name, v] of g.initializers) {
      h.str('init').str(name).int(v.useCount);
      const t = v.constValue;
      if (t) h.int(t.dtype).ints(t.dims);
      else h.str('-');
    }
    for (const v of g.outputs) h.str('out').str(v.name);
    for (const n of g.nodes) {
      h.str('N').str(n.domain).str(n.op).str(n.name).int(n.inputs.length).int(n.outputs.length).int(n.attributes.size);
      for (const v of n.inputs) h.str(v ? v.name : '\u0000none');
      for (const v of n.outputs) h.str('o').str(v.name).int(v.useCount).type(v.type);
      for (const a of n.attributes.values()) {
        const d = a.data;
        h.str('a').str(a.name).int(d.type);
        if (d.type === AttrType.INT || d.type === AttrType.FLOAT || d.type === AttrType.STRING) h.str(String(d.value));
        else if (d.type === AttrType.INTS || d.type === AttrType.FLOATS || d.type === AttrType.STRINGS) h.str(d.value.join(','));
      }
    }
  }
  return h.digest();
}

/** Two independent 32-bit FNV-1a streams: collisions are negligible for a mutation check. */
class Digest {
  private a = 0x811c9dc5;
  private b = 0x01000193 ^ 0x5bd1e995;
  private parts = 0;

  /** A string field (its length first, so ['ab','c'] and ['a','bc'] differ). */
  str(s: string): this {
    this.mix(s.length + 0x100000);
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
    this.parts++;
    return this;
  }
  /** A number field (integers; other numbers by their text). */
  int(n: number): this {
    if (n === (n | 0)) {
      this.mix(0x200000);
      this.mix(n & 0xffff);
      this.mix(n >>> 16);
    } else {
      this.str(String(n));
    }
    this.parts++;
    return this;
  }
  ints(ns: readonly number[]): this {
    this.int(ns.length);
    for (const n of ns) this.int(n);
    return this;
  }
  /** A value type: tensors field by field (elem type, rank, each dim), other kinds by their text. */
  type(t: TypeInfo | undefined): this {
    if (!t) return this.str('?');
    if (t.kind !== 'tensor') return this.str(formatType(t));
    this.int(t.elemType);
    const shape = t.shape;
    if (!shape) return this.str('?');
    this.int(shape.length);
    for (const d of shape) {
      if (d === null) this.str('?');
      else if (typeof d === 'number') this.int(d);
      else this.str(d);
    }
    return this;
  }
  private mix(c: number): void {
    this.a = Math.imul(this.a ^ c, 0x01000193);
    this.b = Math.imul(this.b ^ c, 0x01000193) ^ (this.b >>> 15);
  }
  digest(): string {
    return `${this.parts}:${(this.a >>> 0).toString(16)}:${(this.b >>> 0).toString(16)}`;
  }
}
