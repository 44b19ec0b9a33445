import { DataType, tensorType } from '../../src/ir';
import type { Model } from '../../src/ir/model';
import type { Pass, PassResult } from '../../src/passes/pass';
import { PassManager, PipelineError } from '../../src/passes/pass-manager';
import { floatInput, newModel } from './helpers';

/** Declares a shape that contradicts what the graph computes. */
class LiesAboutShapes implements Pass {
  readonly inPlace = true;
  run(model: Model): PassResult {
    const out = model.graph.outputs[0];
    out.type = tensorType(DataType.FLOAT, [7]);
    return { model, modified: true };
  }
}

describe('PassManager checks declared shapes after each pass', () => {
  function model(): Model {
    const m = newModel();
    const x = floatInput(m.graph, 'x', [4]);
    const y = m.graph.add({ op: 'Neg', inputs: [x], outputs: [{ name: 'y', type: tensorType(DataType.FLOAT, [4]) }] }).output;
    m.graph.addOutput(y);
    return m;
  }

  test('a pass that leaves a wrong declared shape fails, naming the pass and the value', () => {
    const pm = new PassManager([{ name: 'lies', pass: new LiesAboutShapes() }]);
    let error: unknown;
    try {
      pm.run(model());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelineError);
    expect(String((error as Error).message)).toMatch(/lies/);
    expect(String(((error as Error).cause as Error).message)).toMatch(/'y'/);
  });

  test('with verification off the same pass runs', () => {
    const pm = new PassManager([{ name: 'lies', pass: new LiesAboutShapes() }], { verify: false });
    expect(pm.run(model()).model.graph.outputs[0].shape).toEqual([7]);
  });
});
