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

describe('position limit recorded by rotary_fusion', () => {
  test('generation past the RoPE tables is refused before running', async () => {
    const { OrtBackend } = await import('../../../src/runtime/ort-backend');
    const { cacheLayout, positionLimit } = await import('../../../src/runtime/cache-layout');
    const { generateWithStaticCache } = await import('../../../src/runtime/generate');
    const lowered = lowerLlm(loadExport('llama', 18), { cache: 'static_v2', maxSeqLen: 32 }).model;
    const limit = positionLimit(lowered);
    expect(limit).toBe(32);
    const backend = await OrtBackend.create(lowered);
    const layout = cacheLayout(lowered)!;
    await expect(generateWithStaticCache(backend, { ...layout, maxSeqLen: undefined }, [[1, 2, 3]], { maxNewTokens: 40, maxPositions: limit }))
      .rejects.toThrow(/position 41.*positions below 32/);
    const ok = await generateWithStaticCache(backend, layout, [[1, 2, 3]], { maxNewTokens: 8, maxPositions: limit, ignoreEos: true });
    expect(ok.tokens[0]).toHaveLength(8);
  });
});
