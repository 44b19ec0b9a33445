import { checkTrt } from '../../../src/converters/trt';
import { loadExport, MODEL_NAMES } from '../../helpers/models';

describe('un-lowered opset-23 exports', () => {
  test.each(MODEL_NAMES.map((m) => [m]))('%s.dynamo23 is flagged for trt@10.8: every Attention node, with the 10.14 reason', (name) => {
    const model = loadExport(name, 23);
    const attention = model.graph.nodes.toArray().filter((n) => n.op === 'Attention');
    expect(attention.length).toBeGreaterThan(0);
    const vs = checkTrt(model, 'trt@10.8');
    const flagged = vs.filter((v) => v.op === 'Attention');
    expect(flagged.map((v) => v.node).sort()).toEqual(attention.map((n) => n.name).sort());
    for (const v of flagged) {
      expect(v.rule).toBe('op_not_yet_supported');
      expect(v.reason).toBe('Attention is imported by the TensorRT ONNX parser only from TensorRT 10.14 (target: 10.8)');
      expect(v.source).toContain('Changelog.md (10.14: added Attention)');
    }
    // The model's opset import (23) is past 10.8's range too.
    expect(vs.some((v) => v.rule === 'opset_range' && v.node === undefined)).toBe(true);
    // Attention itself is fine for 10.14 (4-D, explicit 4-D boolean mask, no past/present/softcap).
    expect(checkTrt(model, 'trt@10.14').filter((v) => v.op === 'Attention')).toEqual([]);
  });
});
