import { cloneModel, Model, Node, Value, VerifyError } from '../../src/ir';
import { Pass, PassContext, PassResult, PostconditionError, PreconditionError } from '../../src/passes/pass';
import { fingerprintModel, PassContractError, PassManager, PipelineError } from '../../src/passes/pass-manager';
import { floatInput, newModel, opSequence } from './helpers';

/** x → Neg → Identity → Identity → y */
function chainModel(identities = 2): Model {
  const m = newModel();
  const g = m.graph;
  let v: Value = g.add({ op: 'Neg', name: 'neg', inputs: [floatInput(g, 'x')], outputs: ['n'] }).output;
  for (let i = 0; i < identities; i++) v = g.add({ op: 'Identity', name: `id${i}`, inputs: [v], outputs: [`i${i}`] }).output;
  g.addOutput(v);
  return m;
}

/** An in-place pass built from a function. */
function inPlace(run: (model: Model, ctx: PassContext) => Partial<PassResult> | void, hooks: Partial<Pass> = {}): Pass {
  return {
    inPlace: true,
    ...hooks,
    run: (model, ctx) => ({ model, modified: false, ...(run(model, ctx) ?? {}) }),
  };
}

const noop = () => inPlace(() => undefined);

/** Removes one Identity per run (by bypassing it), so convergence takes several iterations. */
function removeOneIdentity(): Pass {
  return inPlace((model) => {
    const node = model.graph.nodes.toArray().find((n) => n.op === 'Identity' && !n.output.isGraphOutput);
    if (!node) return { modified: false };
    node.output.replaceAllUsesWith(node.inputs[0] as Value);
    model.graph.remove(node);
    return { modified: true, changes: 1, counts: { identities: 1 } };
  });
}

function failure(fn: () => unknown): PipelineError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineError);
    return e as PipelineError;
  }
  throw new Error('expected a PipelineError');
}

describe('PassManager', () => {
  it('runs passes in order on a clone and reports each one', () => {
    const model = chainModel();
    const before = fingerprintModel(model);
    const seen: string[][] = [];
    const record = (name: string) => inPlace((_m, ctx) => void seen.push([name, ...ctx.history]));
    const report = new PassManager([
      { name: 'first', pass: record('first') },
      { name: 'strip', pass: removeOneIdentity() },
      { name: 'last', pass: record('last') },
    ]).run(model, { maxSeqLen: 16 });

    expect(report.model).not.toBe(model);
    expect(fingerprintModel(model)).toBe(before); // the caller's model is untouched
    expect(opSequence(report.model)).toEqual(['Neg', 'Identity']);
    expect(report.modified).toBe(true);
    expect(report.passes.map((p) => [p.name, p.modified, p.changes])).toEqual([['first', false, 0], ['strip', true, 1], ['last', false, 0]]);
    expect(report.passes[1].counts).toEqual({ identities: 1 });
    for (const p of report.passes) expect(p.ms).toBeGreaterThanOrEqual(0);
    // ctx.history holds the passes that ran before.
    expect(seen).toEqual([['first'], ['last', 'first', 'strip']]);
  });

  it('hands options to passes and routes their log lines', () => {
    const lines: string[] = [];
    let maxSeqLen: unknown;
    const pass = inPlace((_m, ctx) => {
      maxSeqLen = ctx.options.maxSeqLen;
      ctx.log('hello');
    });
    new PassManager([{ name: 'talker', pass }], { log: (m) => lines.push(m) }).run(chainModel(), { maxSeqLen: 128 });
    expect(maxSeqLen).toBe(128);
    expect(lines[0]).toBe('[talker] hello');
    expect(lines[1]).toMatch(/^talker: no change in \d+\.\d ms$/);
  });

  it('names the failing pass and its predecessors, keeps the cause, leaves the caller model unchanged', () => {
    const model = chainModel();
    const nodesBefore = model.graph.nodes.toArray();
    const before = fingerprintModel(model);
    const boom = new Error('boom');
    const pm = new PassManager([
      { name: 'alpha', pass: removeOneIdentity() },
      { name: 'beta', pass: noop() },
      { name: 'gamma', pass: inPlace(() => { throw boom; }) },
      { name: 'delta', pass: noop() },
    ]);
    const e = failure(() => pm.run(model, {}));
    expect(e.code).toBe('PASS_FAILED');
    expect(e.pass).toBe('gamma');
    expect(e.history).toEqual(['alpha', 'beta']);
    expect(e.message).toBe("pass 'gamma' failed after [alpha, beta]: boom");
    expect(e.cause).toBe(boom);
    // alpha removed an Identity from the working copy; the caller's model still has both.
    const nodesAfter = model.graph.nodes.toArray();
    expect(nodesAfter).toHaveLength(nodesBefore.length);
    nodesAfter.forEach((n, i) => expect(n).toBe(nodesBefore[i]));
    expect(fingerprintModel(model)).toBe(before);
  });

  it('wraps requires/ensures failures', () => {
    const pre = new PassManager([{ name: 'needs', pass: inPlace(() => undefined, { requires: () => { throw new PreconditionError('no Attention'); } }) }]);
    const e1 = failure(() => pre.run(chainModel(), {}));
    expect(e1.cause).toBeInstanceOf(PreconditionError);
    expect(e1.message).toContain("pass 'needs' failed after no earlier passes: no Attention");

    let ran = false;
    const post = new PassManager([
      { name: 'ok', pass: noop() },
      { name: 'promises', pass: inPlace(() => void (ran = true), { ensures: () => { throw new PostconditionError('still there'); } }) },
    ]);
    const e2 = failure(() => post.run(chainModel(), {}));
    expect(ran).toBe(true);
    expect(e2.cause).toBeInstanceOf(PostconditionError);
    expect(e2.history).toEqual(['ok']);
  });

  it('detects an in-place pass that returns another model', () => {
    const liar: Pass = { inPlace: true, run: (model) => ({ model: cloneModel(model), modified: true }) };
    const e = failure(() => new PassManager([{ name: 'liar', pass: liar }]).run(chainModel(), {}));
    expect(e.cause).toBeInstanceOf(PassContractError);
    expect(e.message).toContain('declared in place but returned a different Model');
  });

  it('detects an in-place pass that changes the model but reports no change', () => {
    const silent = inPlace((model) => {
      const n = model.graph.nodes.first as Node;
      n.name = 'renamed';
      return { modified: false };
    });
    const e = failure(() => new PassManager([{ name: 'silent', pass: silent }]).run(chainModel(), {}));
    expect(e.message).toContain('changed the model but reported modified: false');
  });

  it('accepts a functional pass that returns a new model', () => {
    const functional: Pass = {
      inPlace: false,
      run: (model) => {
        const copy = cloneModel(model);
        const id = copy.graph.nodes.last as Node;
        copy.graph.setOutput(0, id.inputs[0] as Value);
        copy.graph.remove(id);
        return { model: copy, modified: true };
      },
    };
    const report = new PassManager([{ name: 'pure', pass: functional }]).run(chainModel(), {});
    expect(opSequence(report.model)).toEqual(['Neg', 'Identity']);
  });

  it('detects a functional pass that mutates its input', () => {
    const sneaky: Pass = {
      inPlace: false,
      run: (model) => {
        const copy = cloneModel(model);
        const g = model.graph;
        g.add({ op: 'Relu', inputs: [g.inputs[0]] }); // a stray node in the input
        return { model: copy, modified: true };
      },
    };
    const e = failure(() => new PassManager([{ name: 'sneaky', pass: sneaky }]).run(chainModel(), {}));
    expect(e.cause).toBeInstanceOf(PassContractError);
    expect(e.message).toContain('declared functional but mutated its input');
  });

  it('detects a functional pass that returns its input', () => {
    const lazy: Pass = { inPlace: false, run: (model) => ({ model, modified: false }) };
    const e = failure(() => new PassManager([{ name: 'lazy', pass: lazy }]).run(chainModel(), {}));
    expect(e.message).toContain('declared functional but returned its input');
  });

  it('verifies after each pass: a use before its definition is caught', () => {
    const breaker = inPlace((model) => {
      const g = model.graph;
      const neg = g.nodes.first as Node;
      // A consumer inserted ahead of its producer: the use is not dominated by the definition.
      const early = new Node({ op: 'Relu', name: 'early', inputs: [neg.output] });
      g.insertBefore(neg, early);
      return { modified: true };
    });
    const e = failure(() => new PassManager([{ name: 'ok', pass: noop() }, { name: 'breaker', pass: breaker }]).run(chainModel(), {}));
    expect(e.pass).toBe('breaker');
    expect(e.cause).toBeInstanceOf(VerifyError);
    expect(e.message).toContain('not in topological order');
    // With verification off the same pipeline completes.
    expect(() => new PassManager([{ name: 'breaker', pass: breaker }], { verify: false }).run(chainModel(), {})).not.toThrow();
  });

  it('verifies after each pass: a value with no definition is caught', () => {
    const dangler = inPlace((model) => {
      const g = model.graph;
      const orphan = new Node({ op: 'Neg', name: 'orphan', inputs: [g.inputs[0]], outputs: ['ghost'] }); // never added
      g.add({ op: 'Relu', name: 'user', inputs: [orphan.output] });
      return { modified: true };
    });
    const e = failure(() => new PassManager([{ name: 'dangler', pass: dangler }]).run(chainModel(), {}));
    expect((e.cause as VerifyError).violations.join('\n')).toContain("uses 'ghost'");
  });

  it('repeats until stable and records iterations', () => {
    const report = new PassManager([{ name: 'strip', pass: removeOneIdentity() }, { name: 'noop', pass: noop() }], {
      repeatUntilStable: true,
    }).run(chainModel(4), {});
    // Four Identities, the last one is a graph output and stays: three changing iterations plus a quiet one.
    expect(opSequence(report.model)).toEqual(['Neg', 'Identity']);
    expect(report.passes.filter((p) => p.name === 'strip').map((p) => [p.iteration, p.modified])).toEqual([
      [1, true], [2, true], [3, true], [4, false],
    ]);
  });

  it('fails when a repeated sequence does not converge within maxIterations', () => {
    const pm = new PassManager([{ name: 'strip', pass: removeOneIdentity() }], { repeatUntilStable: true, maxIterations: 2 });
    const e = failure(() => pm.run(chainModel(5), {}));
    expect(e.code).toBe('PIPELINE_NOT_CONVERGED');
    expect(e.message).toContain('after 2 iteration(s)');
  });

  it('runs nested sequences with qualified names; only the inner one repeats', () => {
    const report = new PassManager([
      { name: 'pre', pass: noop() },
      { name: 'fixpoint', sequence: { entries: [{ name: 'strip', pass: removeOneIdentity() }], repeatUntilStable: true } },
      { name: 'post', pass: noop() },
    ]).run(chainModel(3), {});
    expect(report.passes.map((p) => `${p.name}#${p.iteration}`)).toEqual([
      'pre#1', 'fixpoint/strip#1', 'fixpoint/strip#2', 'fixpoint/strip#3', 'post#1',
    ]);
    expect(report.modified).toBe(true);
  });

  it('reports unmodified when nothing changes', () => {
    const report = new PassManager([{ name: 'a', pass: noop() }], { repeatUntilStable: true }).run(chainModel(), {});
    expect(report.modified).toBe(false);
    expect(report.passes).toHaveLength(1);
  });
});
