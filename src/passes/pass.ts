import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';

/** Options every pass may read; plugins may add their own keys. */
export interface LoweringOptions {
  /** Static KV-cache length (static_cache_* passes). */
  maxSeqLen?: number;
  /** Target precision for the `precision` pass. */
  precision?: 'FP32' | 'FP16' | 'BF16';
  /** TensorRT target, e.g. 'trt@10.15'. */
  target?: string;
  [key: string]: unknown;
}

export interface PassContext {
  readonly options: LoweringOptions;
  /** Names of the passes that already ran in this pipeline, in order. */
  readonly history: readonly string[];
  /** Progress and diagnostics (stderr in the CLI, silent in tests unless asked). */
  log(message: string): void;
}

export interface PassResult {
  model: Model;
  modified: boolean;
  /** Number of rewrites/removals, for reports. */
  changes?: number;
  /** Named counters (e.g. per-rule fusion counts) for `lower --report`. */
  counts?: Record<string, number>;
}

/**
 * A lowering pass. In-place passes mutate and return the model they were given; functional passes return
 * a new model and must leave their input untouched (the PassManager checks both at run time).
 */
export interface Pass {
  readonly inPlace: boolean;
  /** Throws a PreconditionError when the model is not what the pass needs. */
  requires?(model: Model, ctx: PassContext): void;
  /** Throws a PostconditionError when the pass did not establish what it promises. */
  ensures?(model: Model, ctx: PassContext): void;
  run(model: Model, ctx: PassContext): PassResult;
}

export class PassError extends OnnxLowerError {}
export class PreconditionError extends PassError {
  constructor(message: string, subject?: string) {
    super('PASS_PRECONDITION', message, subject);
  }
}
export class PostconditionError extends PassError {
  constructor(message: string, subject?: string) {
    super('PASS_POSTCONDITION', message, subject);
  }
}
