import { lowerLlm } from '../../../src/passes/llm';
import { opsetRaiseBlocker } from '../../../src/passes/opset';
import { loadExport } from '../../helpers/models';

describe('raising the opset to 23 for canonical Attention', () => {
  test('a model below opset 18 is refused with the reason, not silently mis-lowered', () => {
    const m = loadExport('llama', 18);
    m.opsetImports.set('', 17);
    expect(opsetRaiseBlocker(m, 23)).toMatch(/opset 17/);
    expect(() => lowerLlm(m, { cache: 'none' })).toThrow(/sdpa_canonicalize.*opset 17.*re-export with opset 18/s);
  });

  test('opset 18 models raise cleanly; ops whose meaning changed after 18 block the raise', () => {
    const m = loadExport('llama', 18);
    expect(opsetRaiseBlocker(m, 23)).toBeUndefined();
    const first = m.graph.nodes.first!;
    const saved = first.op;
    first.op = 'GroupNormalization';
    expect(opsetRaiseBlocker(m, 23)).toMatch(/GroupNormalization/);
    first.op = saved;
  });
});
