import { verify } from '../../src/ir/verify';
import { defaultPipelines } from '../../src/passes/pipelines';
import { defaultRegistry } from '../../src/passes/registry';
import { PassManager } from '../../src/passes/pass-manager';
import { loadExport, loadReference, maxAbsDiff, MODEL_NAMES, OPSETS, referencePrompt, runLogits } from '../helpers/models';

/** The cleanup pipeline (verify after every pass) on the real exports keeps the PyTorch logits. */
describe.each(MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const)))('%s opset %d', (name, opset) => {
  test('cleanup keeps the interface and the reference logits', async () => {
    const ref = loadReference(name);
    const model = loadExport(name, opset);
    const report = defaultPipelines.createPassManager('cleanup').run(model, {});
    const lowered = report.model;
    expect(verify(lowered)).toEqual([]);
    expect(lowered.graph.inputs.map((v) => v.name)).toEqual(model.graph.inputs.map((v) => v.name));
    expect(lowered.graph.outputs.map((v) => v.name)).toEqual(model.graph.outputs.map((v) => v.name));
    expect(lowered.graph.nodes.size).toBeLessThanOrEqual(model.graph.nodes.size);
    const logits = await runLogits(lowered, referencePrompt(ref));
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-4);
    // A second run finds nothing left to do.
    const again = new PassManager(defaultRegistry.instantiate(defaultPipelines.passNames('cleanup'))).run(lowered, {});
    expect(again.passes.filter((p) => p.modified).map((p) => p.name)).toEqual([]);
  });
});
