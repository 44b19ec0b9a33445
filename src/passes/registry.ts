import { OnnxLowerError } from '../ir/errors';
import type { Pass } from './pass';

/** What a registry knows about a pass: its name, its ordering constraints and how to make an instance. */
export interface PassDefinition {
  readonly name: string;
  readonly description: string;
  /** Passes this one must run before (when both are in the same sequence). */
  readonly before?: readonly string[];
  /** Passes this one must run after (when both are in the same sequence). */
  readonly after?: readonly string[];
  /** A fresh instance per pipeline, so passes may keep per-run state. */
  readonly factory: () => Pass;
}

/** A pass instance ready for the PassManager. */
export interface NamedPass {
  readonly name: string;
  readonly pass: Pass;
}

/** Unknown names, duplicates and ordering cycles; `code` says which. */
export class PassRegistryError extends OnnxLowerError {}

/**
 * Passes by name. A registry is a plain object: the CLI uses `defaultRegistry`, tests and plugins can build
 * their own. Ordering constraints only bind passes that appear together in one `resolve` call, so a
 * constraint naming an absent pass is ignored (it may be optional or registered later).
 */
export class PassRegistry {
  private readonly defs = new Map<string, PassDefinition>();

  register(def: PassDefinition): void {
    if (!def.name) throw new PassRegistryError('PASS_NAME', 'a pass needs a non-empty name');
    if (this.defs.has(def.name)) {
      throw new PassRegistryError('PASS_DUPLICATE', `a pass named '${def.name}' is already registered`, def.name);
    }
    this.defs.set(def.name, {
      ...def,
      before: [...(def.before ?? [])],
      after: [...(def.after ?? [])],
    });
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  get(name: string): PassDefinition {
    const def = this.defs.get(name);
    if (!def) throw this.unknown([name]);
    return def;
  }

  /** Every registered pass, ordered by the constraints (registration order where they are silent). */
  list(): PassDefinition[] {
    return this.resolve([...this.defs.keys()]);
  }

  /**
   * The named passes ordered so every before/after constraint among them holds; otherwise the given order is
   * kept (a stable topological sort). Unknown names and repeated names are errors, as are cycles.
   */
  resolve(names: readonly string[]): PassDefinition[] {
    const missing = names.filter((n) => !this.defs.has(n));
    if (missing.length) throw this.unknown(missing);
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) throw new PassRegistryError('PASS_DUPLICATE', `pass '${n}' is listed twice; use a repeated sequence to run a pass again`, n);
      seen.add(n);
    }
    const defs = names.map((n) => this.defs.get(n) as PassDefinition);
    const index = new Map(names.map((n, i) => [n, i]));
    // successors[i]: passes that must come after pass i.
    const successors: number[][] = defs.map(() => []);
    const indegree = new Array<number>(defs.length).fill(0);
    const edge = (from: number, to: number) => {
      if (successors[from].includes(to)) return;
      successors[from].push(to);
      indegree[to]++;
    };
    defs.forEach((d, i) => {
      for (const b of d.before ?? []) {
        const j = index.get(b);
        if (j !== undefined) edge(i, j);
      }
      for (const a of d.after ?? []) {
        const j = index.get(a);
        if (j !== undefined) edge(j, i);
      }
    });
    // Kahn's algorithm, always taking the ready pass that was listed first (n is small: a linear scan is fine).
    const done = new Array<boolean>(defs.length).fill(false);
    const order: PassDefinition[] = [];
    for (;;) {
      const next = indegree.findIndex((d, i) => d === 0 && !done[i]);
      if (next < 0) break;
      done[next] = true;
      order.push(defs[next]);
      for (const j of successors[next]) indegree[j]--;
    }
    if (order.length < defs.length) {
      const cycle = findCycle(successors, done).map((i) => defs[i].name);
      throw new PassRegistryError('PASS_CYCLE', `pass ordering constraints form a cycle: ${cycle.join(' → ')}`, cycle[0]);
    }
    return order;
  }

  /** Resolves the names and makes one instance of each, ready for a PassManager. */
  instantiate(names: readonly string[]): NamedPass[] {
    return this.resolve(names).map((d) => ({ name: d.name, pass: d.factory() }));
  }

  private unknown(names: readonly string[]): PassRegistryError {
    const known = [...this.defs.keys()].sort();
    return new PassRegistryError(
      'PASS_UNKNOWN',
      `unknown pass${names.length > 1 ? 'es' : ''} ${names.map((n) => `'${n}'`).join(', ')}; known passes: ${known.length ? known.join(', ') : '(none)'}`,
      names[0],
    );
  }
}

/** A cycle among the nodes not yet placed (each has a predecessor among them), closed: [a, b, …, a]. */
function findCycle(successors: number[][], placed: boolean[]): number[] {
  const stuck = new Set<number>();
  placed.forEach((p, i) => {
    if (!p) stuck.add(i);
  });
  // Walk backwards along predecessors: every stuck node has a stuck predecessor, so the walk must repeat.
  const predecessor = new Map<number, number>();
  successors.forEach((succ, from) => {
    if (!stuck.has(from)) return;
    for (const to of succ) if (stuck.has(to) && !predecessor.has(to)) predecessor.set(to, from);
  });
  const start = stuck.values().next().value as number;
  const path: number[] = [];
  const at = new Map<number, number>();
  let cur = start;
  while (!at.has(cur)) {
    at.set(cur, path.length);
    path.push(cur);
    cur = predecessor.get(cur) as number;
  }
  const cycle = path.slice(at.get(cur)).reverse();
  return [...cycle, cycle[0]];
}

/** The registry `@loweringPass` uses when none is given; the CLI lists it. */
export const defaultRegistry = new PassRegistry();

export interface LoweringPassOptions {
  name: string;
  description: string;
  before?: readonly string[];
  after?: readonly string[];
  /** Where to register (default: `defaultRegistry`). */
  registry?: PassRegistry;
}

/**
 * TC39 standard class decorator that registers a pass class when its module is evaluated (on import), like
 * Torch-TensorRT's `@_aten_lowering_pass`. The class must have a no-argument constructor.
 */
export function loweringPass(options: LoweringPassOptions): (value: new () => Pass, context: ClassDecoratorContext) => void {
  return (value, context) => {
    if (context.kind !== 'class') {
      throw new PassRegistryError('PASS_DECORATOR', `@loweringPass('${options.name}') decorates a ${String(context.kind)}, not a class`, options.name);
    }
    (options.registry ?? defaultRegistry).register({
      name: options.name,
      description: options.description,
      before: options.before,
      after: options.after,
      factory: () => new value(),
    });
  };
}
