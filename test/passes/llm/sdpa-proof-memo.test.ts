// The causal-mask proof is memoised per applyRules run (RunMemo): every layer reads one mask, so the llama export
// is proved once, not once per layer and again in each rewrite. What the proof decides is covered by the fixture
// and property tests; this checks only that the memo removes the repeats and keeps the outcome.
import * as causalProof from '../../../src/passes/llm/causal-proof';
import { attentionNodes } from '../../../src/passes/llm';
import { canonicalizeOnly, fixtureConfig, reference } from '../../helpers/llm';
import { loadExport } from '../../helpers/models';

// The module's exports are getters (not spy-able in place): wrap proveCausal where the rules import it.
jest.mock('../../../src/passes/llm/causal-proof', () => {
  const actual = jest.requireActual('../../../src/passes/llm/causal-proof');
  return { ...actual, proveCausal: jest.fn(actual.proveCausal) };
});

describe.each([18, 23] as const)('llama opset %i: one causal proof per mask and run', (opset) => {
  test('every layer is_causal, with one proveCausal call per distinct mask value', () => {
    const cfg = fixtureConfig(reference('llama'));
    expect(cfg.layers).toBeGreaterThan(1);
    const original = loadExport('llama', opset);
    const spy = causalProof.proveCausal as jest.MockedFunction<typeof causalProof.proveCausal>;
    spy.mockClear();
    const lowered = canonicalizeOnly(original);
    const attns = attentionNodes(lowered);
    expect(attns).toHaveLength(cfg.layers);
    for (const a of attns) expect(a.attrInt('is_causal', 0)).toBe(1);
    const masks = new Set(spy.mock.calls.map((c) => c[1]));
    expect(spy.mock.calls.length).toBe(masks.size);
    expect(spy.mock.calls.length).toBeLessThan(cfg.layers);
  });
});
