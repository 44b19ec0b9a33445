import { Model, tensor } from '../../src/ir';
import type { Pass, PassResult } from '../../src/passes/pass';
import { PipelineError } from '../../src/passes/pass-manager';
import { defaultPipelines, optional, PipelineRegistry, PipelineRegistryError, registerPipeline } from '../../src/passes/pipelines';
import { defaultRegistry, PassRegistry } from '../../src/passes/registry';
import { floatInput, newModel, opSequence } from './helpers';

class Recorder implements Pass {
  readonly inPlace = true;
  static calls: string[] = [];
  constructor(private readonly name: string) {}
  run(model: Model): PassResult {
    Recorder.calls.push(this.name);
    return { model, modified: false };
  }
}

/** The default passes, with stand-ins replacing (or adding) the named ones. */
function registryWith(extra: { name: string; before?: string[]; after?: string[] }[], without: string[] = []): PassRegistry {
  const r = new PassRegistry();
  const replaced = new Set([...extra.map((e) => e.name), ...without]);
  for (const d of defaultRegistry.list()) if (!replaced.has(d.name)) r.register(d);
  for (const e of extra) r.register({ ...e, description: e.name, factory: () => new Recorder(e.name) });
  return r;
}

function thrown<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as E;
  }
  throw new Error(`expected ${type.name}`);
}

describe('pipelines', () => {
  beforeEach(() => {
    Recorder.calls = [];
  });

  it('cleanup runs the common passes and skips optional ones nobody registered', () => {
    expect(defaultPipelines.passNames('cleanup')).toEqual(['shape_inference', 'constant_folding', 'identity_cleanup', 'dce', 'cse', 'unused_initializers']);
    const bare = registryWith([], ['shape_inference', 'constant_folding']);
    expect(bare.has('constant_folding')).toBe(false);
    expect(defaultPipelines.passNames('cleanup', bare)).toEqual(['identity_cleanup', 'dce', 'cse', 'unused_initializers']);
  });

  it('cleanup picks up constant_folding and shape_inference by name when registered', () => {
    const r = registryWith([{ name: 'constant_folding' }, { name: 'shape_inference' }]);
    expect(defaultPipelines.passNames('cleanup', r)).toEqual([
      'shape_inference', 'constant_folding', 'identity_cleanup', 'dce', 'cse', 'unused_initializers',
    ]);
    defaultPipelines.createPassManager('cleanup', { registry: r }).run(newModel(), {});
    expect(Recorder.calls).toEqual(['shape_inference', 'constant_folding']);
  });

  it('cleanup lowers a small model end to end', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const a = g.add({ op: 'Identity', inputs: [x] }).output;
    const n1 = g.add({ op: 'Neg', inputs: [a] }).output;
    const n2 = g.add({ op: 'Neg', inputs: [x] }).output;
    g.add({ op: 'Relu', inputs: [n1] }); // dead
    const w = g.addInitializer('w', tensor.float32([4], [1, 2, 3, 4]));
    g.add({ op: 'Add', inputs: [n1, w] }); // dead, and the only use of w
    g.addOutput(g.add({ op: 'Mul', inputs: [n1, n2], outputs: ['y'] }).output);

    const report = defaultPipelines.createPassManager('cleanup').run(m, {});
    expect(opSequence(report.model)).toEqual(['Neg', 'Mul']);
    expect(report.model.graph.initializers.size).toBe(0);
    expect(report.model.graph.outputs.map((o) => o.name)).toEqual(['y']);
    expect(report.passes.map((p) => p.name)).toEqual(['shape_inference', 'constant_folding', 'identity_cleanup', 'dce', 'cse', 'unused_initializers']);
    expect(report.passes.slice(1).map((p) => [p.name, p.changes])).toEqual([
      ['constant_folding', 0], ['identity_cleanup', 1], ['dce', 2], ['cse', 1], ['unused_initializers', 1],
    ]);
    // The caller's model is untouched.
    expect(g.nodes.size).toBe(6);
  });

  it('orders a segment by the registry constraints', () => {
    const r = registryWith([{ name: 'late', after: ['dce'] }, { name: 'early', before: ['identity_cleanup'] }]);
    const pipes = new PipelineRegistry();
    pipes.register('p', ['late', 'identity_cleanup', 'dce', 'early'], 'test');
    // Kahn's order, always taking the earliest listed pass that is ready.
    expect(pipes.passNames('p', r)).toEqual(['dce', 'late', 'early', 'identity_cleanup']);
  });

  it('nests pipelines as sequences; inner repeat settings apply', () => {
    const r = registryWith([{ name: 'a' }, { name: 'b' }]);
    const pipes = new PipelineRegistry();
    pipes.register('inner', ['b'], 'inner', { repeatUntilStable: true, maxIterations: 3 });
    pipes.register('outer', ['a', { pipeline: 'inner' }, 'dce'], 'outer');
    const entries = pipes.entries('outer', r);
    expect(entries.map((e) => e.name)).toEqual(['a', 'inner', 'dce']);
    const inner = entries[1];
    expect('sequence' in inner && inner.sequence.repeatUntilStable).toBe(true);
    const report = pipes.createPassManager('outer', { registry: r }).run(newModel(), {});
    expect(report.passes.map((p) => p.name)).toEqual(['a', 'inner/b', 'dce']);
  });

  it('reports missing required passes, unknown and duplicate pipelines, and self-inclusion', () => {
    const pipes = new PipelineRegistry();
    pipes.register('needs', ['dce', 'not_there'], 'x');
    const e = thrown(PipelineRegistryError, () => pipes.entries('needs'));
    expect(e.code).toBe('PIPELINE_MISSING_PASS');
    expect(e.message).toContain("'not_there'");
    expect(e.message).toContain('dce');
    pipes.register('maybe', ['dce', optional('not_there')], 'x');
    expect(pipes.passNames('maybe')).toEqual(['dce']);

    expect(thrown(PipelineRegistryError, () => pipes.get('nope')).message).toContain('known pipelines: maybe, needs');
    expect(thrown(PipelineRegistryError, () => pipes.register('needs', [], 'again')).code).toBe('PIPELINE_DUPLICATE');

    pipes.register('loop1', [{ pipeline: 'loop2' }], 'x');
    pipes.register('loop2', [{ pipeline: 'loop1' }], 'x');
    const cyc = thrown(PipelineRegistryError, () => pipes.entries('loop1'));
    expect(cyc.code).toBe('PIPELINE_CYCLE');
    expect(cyc.message).toContain('loop1 → loop2 → loop1');
  });

  it('registerPipeline adds to the default pipelines, resolved when built', () => {
    registerPipeline('test_pipeline_late', [{ pass: 'test_pass_late' }, 'dce'], 'registered before its pass');
    expect(defaultPipelines.has('test_pipeline_late')).toBe(true);
    expect(() => defaultPipelines.entries('test_pipeline_late')).toThrow(PipelineRegistryError);
    defaultRegistry.register({ name: 'test_pass_late', description: 'late', factory: () => new Recorder('test_pass_late') });
    defaultPipelines.createPassManager('test_pipeline_late').run(newModel(), {});
    expect(Recorder.calls).toEqual(['test_pass_late']);
  });

  it('passes PassManager options through (verify errors surface as PipelineError)', () => {
    const r = registryWith([]);
    r.register({
      name: 'breaks',
      description: 'breaks SSA order',
      factory: () => ({
        inPlace: true,
        run: (model: Model) => {
          const g = model.graph;
          const n = g.add({ op: 'Neg', inputs: [g.inputs[0]] });
          g.insertBefore(n, g.add({ op: 'Relu', inputs: [n.output] }));
          return { model, modified: true };
        },
      }),
    });
    const pipes = new PipelineRegistry();
    pipes.register('p', ['breaks'], 'x');
    const m = newModel();
    floatInput(m.graph, 'x');
    expect(thrown(PipelineError, () => pipes.createPassManager('p', { registry: r }).run(m, {})).code).toBe('PASS_FAILED');
  });
});
