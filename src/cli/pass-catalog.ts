import * as path from 'path';
import { UsageError } from '../ir/errors';
import type { Model } from '../ir/model';
import { defaultRegistry } from '../passes/registry';
import type { Rule } from '../passes/pattern/rule';
// Importing these modules registers every built-in pass and pipeline.
import '../passes';
import '../passes/llm';
import '../converters/trt';

/** Loads user pass modules; their @loweringPass decorators register into the default registry. */
export function loadPlugins(paths: readonly string[]): void {
  for (const p of paths) {
    const abs = path.resolve(p);
    try {
      require(abs);
    } catch (e) {
      throw new UsageError('PLUGIN', `cannot load plugin '${p}': ${(e as Error).message.split('\n')[0]}`);
    }
  }
}

/** A pass that exposes its rewrite rules (for --explain). */
interface WithRules {
  readonly rules?: readonly Rule<object>[];
}

/** Every rule of every registered pass, by rule name and by pass name. */
export function findRules(name: string): { pass: string; rules: Rule<object>[] } | undefined {
  for (const def of defaultRegistry.list()) {
    const rules = ((def.factory() as WithRules).rules ?? []) as Rule<object>[];
    if (def.name === name && rules.length) return { pass: def.name, rules };
    const one = rules.find((r) => r.name === name);
    if (one) return { pass: def.name, rules: [one] };
  }
  return undefined;
}

export type ModelTransform = (m: Model) => Model;
