import type { Model } from '../../ir/model';
import { PassManagerOptions, PipelineReport } from '../pass-manager';
import { defaultPipelines, optional, PipelineRegistry, PipelineStep, registerPipeline } from '../pipelines';
import { defaultRegistry } from '../registry';
import { UsageError } from '../../ir/errors';
import './sdpa-canonicalize';
import './static-cache-v1';
import './static-cache-v2';
import './static-cache-v3';
import './precision';

export const CACHE_KINDS = ['static_v1', 'static_v2', 'static_v3', 'none'] as const;
export type CacheKind = (typeof CACHE_KINDS)[number];
export const PRECISIONS = ['FP32', 'FP16', 'BF16'] as const;
export type Precision = (typeof PRECISIONS)[number];

export interface LlmLoweringOptions {
  /** Static KV cache to insert (default static_v2, Torch-TensorRT's default). */
  cache?: CacheKind;
  maxSeqLen?: number;
  precision?: Precision;
  /** TensorRT target, e.g. 'trt@10.15'; undefined = no legalisation. */
  target?: string;
}

const CACHE_PASS: Record<CacheKind, string | undefined> = {
  static_v1: 'static_cache_v1', static_v2: 'static_cache_v2', static_v3: 'static_cache_v3', none: undefined,
};

/** Optional LLM fusions (registered by their own modules when loaded). */
const FUSIONS = ['rmsnorm_fusion', 'rotary_fusion', 'gelu_fusion', 'silu_gate_fusion', 'skip_add', 'matmul_add_gemm'];

/**
 * Shape inference once more after the cache and cleanup passes. A nested pipeline, because a pass may appear only
 * once in a run of pass steps (the steps before already hold shape_inference).
 */
export const LLM_FINAL_SHAPES = 'llm_final_shapes';
registerPipeline(LLM_FINAL_SHAPES, [optional('shape_inference')], 'shape inference after the llm pipeline\'s rewrites (nested in llm)');

/** The `llm` pipeline's steps for one choice of cache, precision and target. */
export function llmSteps(o: LlmLoweringOptions = {}): PipelineStep[] {
  const cache = CACHE_PASS[o.cache ?? 'static_v2'];
  return [
    { pipeline: 'cleanup' },
    'sdpa_canonicalize',
    ...FUSIONS.map(optional),
    optional('shape_inference'),
    ...(cache ? [cache] : []),
    ...(o.precision && o.precision !== 'FP32' ? ['precision'] : []),
    ...(o.target ? ['trt_legalize'] : []),
    'dce',
    'unused_initializers',
    { pipeline: LLM_FINAL_SHAPES },
  ];
}

registerPipeline('llm', llmSteps(), 'LLM lowering: cleanup, SDPA canonicalisation, fusions, static KV cache (--cache, default static_v2), precision (--precision), TensorRT legalisation (--target)');

/** Runs the `llm` pipeline for the given options on (a clone of) `model`. */
export function lowerLlm(model: Model, o: LlmLoweringOptions = {}, manager: PassManagerOptions = {}): PipelineReport {
  if (o.cache !== undefined && !CACHE_KINDS.includes(o.cache)) throw new UsageError('USAGE', `unknown cache kind '${o.cache}'; choose one of ${CACHE_KINDS.join(', ')}`);
  const pipelines = new PipelineRegistry();
  pipelines.register('cleanup', defaultPipelines.get('cleanup').steps, 'cleanup');
  pipelines.register(LLM_FINAL_SHAPES, defaultPipelines.get(LLM_FINAL_SHAPES).steps, LLM_FINAL_SHAPES);
  pipelines.register('llm', llmSteps(o), 'llm');
  const pm = pipelines.createPassManager('llm', { registry: defaultRegistry, ...manager });
  return pm.run(model, { maxSeqLen: o.maxSeqLen, precision: o.precision, target: o.target });
}
