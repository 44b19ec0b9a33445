import { OnnxLowerError } from '../ir/errors';
import { PassEntry, PassManager, PassManagerOptions } from './pass-manager';
import { defaultRegistry, PassRegistry } from './registry';
// The cleanup pipeline below names the common passes; importing them here registers them.
import './common';

/**
 * A pipeline step: a pass name (required), an optional pass (skipped when nobody registered it), or another
 * pipeline, run as a nested sequence.
 */
export type PipelineStep = string | { readonly pass: string; readonly optional?: boolean } | { readonly pipeline: string };

export interface PipelineOptions {
  /** Repeat the whole pipeline until no pass reports a change. */
  readonly repeatUntilStable?: boolean;
  readonly maxIterations?: number;
}

export interface PipelineDefinition extends PipelineOptions {
  readonly name: string;
  readonly description: string;
  readonly steps: readonly PipelineStep[];
}

/** Unknown or duplicate pipelines, missing required passes, pipelines that include themselves. */
export class PipelineRegistryError extends OnnxLowerError {}

/** A step naming a pass that may be absent (e.g. written by another module that is not loaded). */
export function optional(pass: string): PipelineStep {
  return { pass, optional: true };
}

/**
 * Named pipelines. Membership is by pass name and is resolved against a pass registry when a pipeline is
 * built, so passes registered after the pipeline (plugins, later imports) are picked up.
 */
export class PipelineRegistry {
  private readonly defs = new Map<string, PipelineDefinition>();

  register(name: string, steps: readonly PipelineStep[], description: string, options: PipelineOptions = {}): void {
    if (this.defs.has(name)) throw new PipelineRegistryError('PIPELINE_DUPLICATE', `a pipeline named '${name}' is already registered`, name);
    this.defs.set(name, { name, description, steps: [...steps], ...options });
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  get(name: string): PipelineDefinition {
    const def = this.defs.get(name);
    if (!def) {
      const known = [...this.defs.keys()].sort();
      throw new PipelineRegistryError('PIPELINE_UNKNOWN', `unknown pipeline '${name}'; known pipelines: ${known.length ? known.join(', ') : '(none)'}`, name);
    }
    return def;
  }

  list(): PipelineDefinition[] {
    return [...this.defs.values()];
  }

  /**
   * Pass entries for the pipeline: each run of consecutive pass steps is ordered by the registry's
   * before/after constraints; nested pipelines become nested sequences (constraints do not cross them).
   */
  entries(name: string, registry: PassRegistry = defaultRegistry): PassEntry[] {
    return this.build(name, registry, []);
  }

  /** Pass names the pipeline would run, in order, nested pipelines flattened (for `onnx-lower passes`). */
  passNames(name: string, registry: PassRegistry = defaultRegistry): string[] {
    const out: string[] = [];
    const stack = [...this.entries(name, registry)].reverse();
    while (stack.length) {
      const e = stack.pop() as PassEntry;
      if ('sequence' in e) stack.push(...[...e.sequence.entries].reverse());
      else out.push(e.name);
    }
    return out;
  }

  /** A PassManager running the pipeline with fresh pass instances. */
  createPassManager(name: string, options: PassManagerOptions & { registry?: PassRegistry } = {}): PassManager {
    const def = this.get(name);
    const { registry, ...managerOptions } = options;
    return new PassManager(this.entries(name, registry ?? defaultRegistry), {
      repeatUntilStable: def.repeatUntilStable,
      maxIterations: def.maxIterations,
      ...managerOptions,
    });
  }

  private build(name: string, registry: PassRegistry, including: readonly string[]): PassEntry[] {
    if (including.includes(name)) {
      throw new PipelineRegistryError('PIPELINE_CYCLE', `pipeline '${name}' includes itself: ${[...including, name].join(' → ')}`, name);
    }
    const def = this.get(name);
    const entries: PassEntry[] = [];
    let segment: string[] = [];
    const flush = () => {
      if (segment.length) entries.push(...registry.instantiate(segment));
      segment = [];
    };
    for (const step of def.steps) {
      if (typeof step !== 'string' && 'pipeline' in step) {
        flush();
        const inner = this.get(step.pipeline);
        entries.push({
          name: step.pipeline,
          sequence: {
            entries: this.build(step.pipeline, registry, [...including, name]),
            repeatUntilStable: inner.repeatUntilStable,
            maxIterations: inner.maxIterations,
          },
        });
        continue;
      }
      const pass = typeof step === 'string' ? step : step.pass;
      const isOptional = typeof step !== 'string' && step.optional === true;
      if (!registry.has(pass)) {
        if (isOptional) continue;
        throw new PipelineRegistryError('PIPELINE_MISSING_PASS', `pipeline '${name}' needs pass '${pass}', which is not registered; known passes: ${registry.list().map((d) => d.name).join(', ') || '(none)'}`, pass);
      }
      segment.push(pass);
    }
    flush();
    return entries;
  }
}

/** The pipelines the CLI offers. Other modules add theirs with `registerPipeline` when imported. */
export const defaultPipelines = new PipelineRegistry();

export function registerPipeline(name: string, passNames: readonly PipelineStep[], description: string, options?: PipelineOptions): void {
  defaultPipelines.register(name, passNames, description, options);
}

// Shape inference first so identity_cleanup can see shapes and types; folding before DCE so folded-away
// producers are removed; unused initializers last, once nothing refers to them.
registerPipeline(
  'cleanup',
  [optional('shape_inference'), optional('constant_folding'), 'identity_cleanup', 'dce', 'cse', 'unused_initializers'],
  'Generic cleanup: identity/no-op removal, dead code, common subexpressions, unused initializers (plus shape inference and constant folding when registered)',
);
