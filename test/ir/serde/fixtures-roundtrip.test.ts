import * as fs from 'fs';
import { encodeModel, decodeModel } from '../../../src/ir/serde';
import { verify } from '../../../src/ir/verify';
import { dumpModel } from '../../helpers/model-dump';
import { exportPath, loadExport, loadReference, MODEL_NAMES, OPSETS, runLogits, maxAbsDiff, referencePrompt } from '../../helpers/models';

describe.each(MODEL_NAMES.flatMap((m) => OPSETS.map((o) => [m, o] as const)))('%s opset %d', (name, opset) => {
  test('decode → encode → decode is equal; the re-encoded file is the original byte for byte', () => {
    const original = new Uint8Array(fs.readFileSync(exportPath(name, opset)));
    const model = loadExport(name, opset);
    expect(verify(model)).toEqual([]);
    const bytes = encodeModel(model);
    const again = decodeModel(bytes);
    expect(verify(again)).toEqual([]);
    expect(dumpModel(again)).toEqual(dumpModel(model));
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(original))).toBe(0);
  });

  test('onnxruntime gives the same logits for the re-encoded model as for the original, and the reference ones', async () => {
    const ref = loadReference(name);
    const prompt = referencePrompt(ref);
    const original = await runLogits(new Uint8Array(fs.readFileSync(exportPath(name, opset))), prompt);
    const reencoded = await runLogits(encodeModel(decodeModel(encodeModel(loadExport(name, opset)))), prompt);
    expect(maxAbsDiff(reencoded, original)).toBe(0);
    expect(maxAbsDiff(reencoded, ref.logits)).toBeLessThan(1e-5);
  });
});
