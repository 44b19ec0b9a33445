// PassManager shortcuts that must not change what it checks: verify is skipped only after a pass that reports no
// change on the model verified last (the first pass always verifies, so a broken input is still caught), and
// `takeModel` lowers the caller's model itself instead of a clone.
import { Model, Node, Value, VerifyError } from '../../src/ir';
import * as verifyModule from '../../src/ir/verify';
import { Pass, PassResult } from '../../src/passes/pass';
import { PassManager, PipelineError } from '../../src/passes/pass-manager';
import { floatInput, newModel } from './helpers';

// The module's exports are getters: wrap verify where the PassManager imports it, to count its runs.
jest.mock('../../src/ir/verify', () => {
  const actual = jest.requireActual('../../src/ir/verify');
  return { ...actual, verify: jest.fn(actual.verify) };
});
const verifyCalls = verifyModule.verify as jest.MockedFunction<typeof verifyModule.verify>;

function chainModel(): Model {
  const m = newModel();
  const g = m.graph;
  const n = g.add({ op: 'Neg', name: 'neg', inputs: [floatInput(g, 'x')], outputs: ['n'] }).output;
  g.addOutput(g.add({ op: 'Identity', name: 'id', inputs: [n], outputs: ['y'] }).output);
  return m;
}

function inPlace(run: (model: Model) => Partial<PassResult> | void): Pass {
  return { inPlace: true, run: (model) => ({ model, modified: false, ...(run(model) ?? {}) }) };
}
const noop = () => inPlace(() => undefined);
/** Renames the Identity output's producer each run: a reported change. */
const touch = () => inPlace((m) => {
  const id = m.graph.nodes.last as Node;
  id.name = `${id.name}_`;
  return { modified: true };
});

describe('PassManager verify and clone shortcuts', () => {
  beforeEach(() => verifyCalls.mockClear());

  it('verifies after every reported change, and not again after passes that report none', () => {
    new PassManager([
      { name: 'a', pass: noop() }, { name: 'b', pass: noop() }, { name: 't', pass: touch() }, { name: 'c', pass: noop() }, { name: 'd', pass: noop() },
    ]).run(chainModel(), {});
    // a (first: always), t (changed); b, c, d changed nothing on a verified model.
    expect(verifyCalls).toHaveBeenCalledTimes(2);
  });

  it('a broken input is still caught by the first pass, even one that changes nothing', () => {
    const broken = chainModel();
    const g = broken.graph;
    const neg = g.nodes.first as Node;
    g.insertBefore(neg, new Node({ op: 'Relu', name: 'early', inputs: [neg.output as Value] }));
    let caught: unknown;
    try {
      new PassManager([{ name: 'a', pass: noop() }]).run(broken, {});
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    expect((caught as PipelineError).cause).toBeInstanceOf(VerifyError);
  });

  it('takeModel lowers the given model itself; the default works on a clone', () => {
    const model = chainModel();
    const cloned = new PassManager([{ name: 't', pass: touch() }]).run(model, {});
    expect(cloned.model).not.toBe(model);
    expect((model.graph.nodes.last as Node).name).toBe('id');
    const taken = new PassManager([{ name: 't', pass: touch() }]).run(model, {}, { takeModel: true });
    expect(taken.model).toBe(model);
    expect((model.graph.nodes.last as Node).name).toBe('id_');
  });
});
