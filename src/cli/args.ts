import { parseArgs, ParseArgsConfig } from 'util';
import { UsageError } from '../ir/errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing: an unknown flag or a missing value is a usage error (exit code 2). */
export interface ParsedFlags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parseFlags(argv: string[], options: OptionSpec, command: string): ParsedFlags {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as ParsedFlags;
  } catch (e) {
    throw new UsageError('USAGE', `${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
}

export function requirePositional(positionals: string[], count: number, usage: string): string[] {
  if (positionals.length !== count) throw new UsageError('USAGE', `expected ${count} argument(s); usage: ${usage}`);
  return positionals;
}

/** Parses a positive integer flag value, naming the flag on error. */
export function intFlag(value: string | undefined, flag: string, options: { min?: number; fallback?: number } = {}): number | undefined {
  if (value === undefined) return options.fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError('USAGE', `--${flag} must be an integer, got '${value}'`);
  const n = Number(value);
  if (options.min !== undefined && n < options.min) throw new UsageError('USAGE', `--${flag} must be at least ${options.min}, got ${n}`);
  return n;
}

/** Parses a closed set of choices, naming the flag and the allowed values on error. */
export function choiceFlag<C extends string>(value: string | undefined, flag: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError('USAGE', `--${flag} must be one of ${choices.map((c) => (c === '' ? "''" : c)).join(', ')}; got '${value}'`);
  }
  return value as C;
}
