import type { Model } from '../../src/ir';
import type { Pass, PassResult } from '../../src/passes/pass';
import { loweringPass, PassRegistry, PassRegistryError } from '../../src/passes/registry';

class NoOp implements Pass {
  readonly inPlace = true;
  run(model: Model): PassResult {
    return { model, modified: false };
  }
}

function registryWith(defs: { name: string; before?: string[]; after?: string[] }[]): PassRegistry {
  const r = new PassRegistry();
  for (const d of defs) r.register({ ...d, description: `${d.name} pass`, factory: () => new NoOp() });
  return r;
}

function thrown(fn: () => unknown): PassRegistryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PassRegistryError);
    return e as PassRegistryError;
  }
  throw new Error('expected a PassRegistryError');
}

describe('PassRegistry', () => {
  it('keeps the given order when no constraint applies', () => {
    const r = registryWith([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(r.resolve(['c', 'a', 'b']).map((d) => d.name)).toEqual(['c', 'a', 'b']);
  });

  it('orders by before/after constraints, otherwise stable', () => {
    const r = registryWith([
      { name: 'fold', after: ['infer'] },
      { name: 'infer' },
      { name: 'cleanup', before: ['fold'] },
      { name: 'late' },
    ]);
    expect(r.resolve(['late', 'fold', 'cleanup', 'infer']).map((d) => d.name)).toEqual(['late', 'cleanup', 'infer', 'fold']);
    // Constraints that name passes outside the set are ignored.
    expect(r.resolve(['fold', 'late']).map((d) => d.name)).toEqual(['fold', 'late']);
  });

  it('list() gives every pass in resolved order', () => {
    const r = registryWith([{ name: 'x', after: ['y'] }, { name: 'y' }, { name: 'z' }]);
    expect(r.list().map((d) => d.name)).toEqual(['y', 'x', 'z']);
  });

  it('reports unknown names with the known ones', () => {
    const r = registryWith([{ name: 'dce' }, { name: 'cse' }]);
    const e = thrown(() => r.resolve(['dce', 'nope']));
    expect(e.code).toBe('PASS_UNKNOWN');
    expect(e.message).toContain("'nope'");
    expect(e.message).toContain('known passes: cse, dce');
    expect(thrown(() => r.get('missing')).code).toBe('PASS_UNKNOWN');
  });

  it('reports a cycle, naming it', () => {
    const r = registryWith([
      { name: 'a', before: ['b'] },
      { name: 'b', before: ['c'] },
      { name: 'c', before: ['a'] },
      { name: 'free' },
    ]);
    const e = thrown(() => r.resolve(['free', 'a', 'b', 'c']));
    expect(e.code).toBe('PASS_CYCLE');
    const cycle = e.message.slice(e.message.indexOf(':') + 1).trim().split(' → ');
    expect(cycle[0]).toBe(cycle[cycle.length - 1]);
    expect(new Set(cycle)).toEqual(new Set(['a', 'b', 'c']));
    // Each arrow is a real constraint: a→b, b→c, c→a.
    const next: Record<string, string> = { a: 'b', b: 'c', c: 'a' };
    for (let i = 0; i + 1 < cycle.length; i++) expect(cycle[i + 1]).toBe(next[cycle[i]]);
  });

  it('refuses duplicate registrations and duplicate names in a sequence', () => {
    const r = registryWith([{ name: 'a' }]);
    const e = thrown(() => r.register({ name: 'a', description: 'again', factory: () => new NoOp() }));
    expect(e.code).toBe('PASS_DUPLICATE');
    expect(thrown(() => r.resolve(['a', 'a'])).code).toBe('PASS_DUPLICATE');
  });

  it('instantiate makes a fresh instance per call', () => {
    const r = registryWith([{ name: 'a' }]);
    const [first] = r.instantiate(['a']);
    const [second] = r.instantiate(['a']);
    expect(first.name).toBe('a');
    expect(first.pass).toBeInstanceOf(NoOp);
    expect(first.pass).not.toBe(second.pass);
  });
});

describe('@loweringPass', () => {
  it('registers a decorated class into the given registry when the class is defined', () => {
    const registry = new PassRegistry();
    expect(registry.has('test_pass')).toBe(false);

    @loweringPass({ name: 'test_pass', description: 'a test pass', after: ['other'], registry })
    class TestPass implements Pass {
      readonly inPlace = true;
      run(model: Model): PassResult {
        return { model, modified: false };
      }
    }

    const def = registry.get('test_pass');
    expect(def.description).toBe('a test pass');
    expect(def.after).toEqual(['other']);
    expect(def.factory()).toBeInstanceOf(TestPass);
  });

  it('throws a typed error for a duplicate name', () => {
    const registry = new PassRegistry();
    const define = () => {
      @loweringPass({ name: 'twice', description: 'x', registry })
      class Twice extends NoOp {}
      return Twice;
    };
    define();
    const e = thrown(define);
    expect(e.code).toBe('PASS_DUPLICATE');
  });
});
