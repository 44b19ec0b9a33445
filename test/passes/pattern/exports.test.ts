// The engine on real Hugging Face exports: explain and rewrite the decomposed attention of dynamo opset-18 files.
import { Attribute, DataType, tensor, verify } from '../../../src/ir';
import { applyRules, constantOf, defineRule, explain, failure, formatExplanation, patternOps, RULE_TAG, scalar, scalarOf, v } from '../../../src/passes/pattern';
import { loadExport, loadReference, maxAbsDiff, referencePrompt, runLogits } from '../../helpers/models';

const op = patternOps();
const s = v('s', scalar());
const scores = (k: ReturnType<typeof v<'kT'>> | ReturnType<typeof op.Transpose>) => op.MatMul(op.Mul(v('q'), s), op.Mul(k, s));

/** Softmax(MatMul(q·s, kᵀ·s) + mask) → Softmax(MatMul(q·s², kᵀ) + mask): one Mul per layer less. */
const foldScale = defineRule({
  name: 'fold_sdpa_scale',
  pattern: op.Softmax(op.Add(scores(v('kT')), v('mask')), { axis: -1 }),
  check: (m) => (constantOf(m.s)?.dtype === DataType.FLOAT ? true : failure('only float32 scales are folded', m.s)),
  rewrite(b, m) {
    const s2 = b.constant('sdpa_scale_sq', tensor.float32([], [(scalarOf(m.s) as number) ** 2]));
    const logits = b.op('Add', [b.op('MatMul', [b.op('Mul', [m.q, s2]), m.kT]), m.mask]);
    return b.op('Softmax', [logits], { axis: Attribute.int('axis', -1) });
  },
});

/** Expects Transpose(k, perm=[0, 1, 3, 2]) where the exporters write Reshape(Transpose(k3d)). */
const strict = defineRule({
  name: 'strict_sdpa',
  pattern: op.Softmax(op.Add(scores(op.Transpose(v('k'), { perm: [0, 1, 3, 2] })), v('mask')), { axis: -1 }),
  rewrite: (_b, m) => m.q,
});

describe.each(['gpt2', 'llama', 'qwen2'])('%s dynamo18 export', (name) => {
  it('explain finds every layer and says where the strict form stops', () => {
    const model = loadExport(name, 18);
    const loose = explain(foldScale, model);
    expect(loose.length).toBeGreaterThanOrEqual(1);
    expect(loose.every((e) => e.status === 'matched')).toBe(true);
    const ex = explain(strict, model);
    expect(ex).toHaveLength(loose.length);
    for (const e of ex) {
      expect(e.status).toBe('match');
      expect(e.node?.op).toBe('Reshape');
      expect(e.reason).toMatch(/^expected Transpose, found .*\(Reshape\)$/);
    }
    expect(formatExplanation(strict, ex)).toContain('stopped at');
  });

  it('a rewrite over all layers keeps verify clean and the logits within 1e-4', async () => {
    const model = loadExport(name, 18);
    const ids = referencePrompt(loadReference(name));
    const before = await runLogits(model, ids);
    const layers = explain(foldScale, model).length;
    const r = applyRules(model, [foldScale]);
    expect(r.counts.fold_sdpa_scale).toBe(layers);
    expect(r.converged).toBe(true); // the rewritten form has no Mul on kᵀ, so it does not match again
    expect(verify(model)).toEqual([]);
    expect([...model.graph.nodes].filter((n) => n.metadata.get(RULE_TAG) === 'fold_sdpa_scale')).toHaveLength(4 * layers);
    const after = await runLogits(model, ids);
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-4);
  });
});
