/** fast-check: random DAG models round-trip through encode → decode → encode and stay verify-clean. */
import fc from 'fast-check';
import { verify } from '../../../src/ir';
import { decodeModel, encodeModel } from '../../../src/ir/serde';
import { dumpModel } from '../../helpers/model-dump';
import { buildModel, modelRecipe } from '../random-model';

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

describe('random models round-trip through serde', () => {
  test('encode → decode gives an equal, verify-clean model; re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(modelRecipe, (recipe) => {
        const m = buildModel(recipe);
        expect(verify(m)).toEqual([]);
        const bytes = encodeModel(m);
        const back = decodeModel(bytes);
        expect(verify(back)).toEqual([]);
        expect(dumpModel(back)).toEqual(dumpModel(m));
        expect(same(encodeModel(back), bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('the generator reaches what it promises (multi-output ops, omitted values, subgraphs, every attribute type)', () => {
    // A guard against a generator that silently stopped producing the interesting cases.
    const seen = new Set<string>();
    fc.assert(
      fc.property(modelRecipe, (recipe) => {
        const m = buildModel(recipe);
        for (const n of m.graph.allNodes()) {
          if (n.outputs.length > 1) seen.add('multi-output');
          if (n.outputs.some((o) => o.isOmitted)) seen.add('omitted-output');
          if (n.inputs.some((v) => v === null)) seen.add('omitted-input');
          if (n.subgraphs().length) seen.add('subgraph');
          for (const a of n.attributes.values()) seen.add(`attr:${a.type}`);
        }
        if (m.functions.length) seen.add('function');
        for (const v of m.graph.initializers.values()) seen.add(`dtype:${v.constValue!.dtype}`);
      }),
      { numRuns: 300, seed: 42 },
    );
    for (const k of ['multi-output', 'omitted-output', 'omitted-input', 'subgraph', 'function']) expect(seen).toContain(k);
    for (let t = 1; t <= 14; t++) expect(seen).toContain(`attr:${t}`);
    for (const dt of [1, 7, 10, 16, 22, 8]) expect(seen).toContain(`dtype:${dt}`);
  });
});
