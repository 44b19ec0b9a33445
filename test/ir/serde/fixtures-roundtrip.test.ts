import { encodeModel, decodeModel } from '../../../src/ir/serde';
import { verify } from '../../../src/ir/verify';
import { loadExport, loadReference, MODEL_NAMES, OPSETS, runLogits, maxAbsDiff, referencePrompt } from '../../helpers/models';

describe.each(MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const)))('%s opset %d', (name, opset) => {
  test('re-encoded model verifies and gives the reference logits on onnxruntime', async () => {
    const ref = loadReference(name);
    const model = loadExport(name, opset);
    expect(verify(model)).toEqual([]);
    const bytes = encodeModel(model);
    const again = decodeModel(bytes);
    expect(again.graph.nodes.size).toBe(model.graph.nodes.size);
    const logits = await runLogits(bytes, referencePrompt(ref));
    expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(1e-5);
  });
});
