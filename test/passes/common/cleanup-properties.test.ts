import fc from 'fast-check';
import { Attribute, DataType, Model, tensor, tensorType, Value, assertValid } from '../../../src/ir';
import { createSession, ort } from '../../../src/runtime/ort-session';
import { PassManager } from '../../../src/passes/pass-manager';
import { defaultRegistry } from '../../../src/passes/registry';
import '../../../src/passes/common';
import { evaluate, newModel } from '../helpers';

/**
 * Property: on random DAGs of elementwise float ops (with duplicated subexpressions, dead branches and
 * removable no-ops), identity_cleanup, dce, cse and the whole cleanup sequence keep every graph output's
 * name and value. Values come from onnxruntime with its graph optimisations off, cross-checked by the
 * tiny reference evaluator in ../helpers.
 */

const LEN = 4;
type Step =
  | { kind: 'binary'; op: 'Add' | 'Sub' | 'Mul'; a: number; b: number }
  | { kind: 'unary'; op: 'Neg' | 'Relu' | 'Identity' | 'Cast' | 'Reshape' | 'Expand' | 'Dropout'; a: number }
  | { kind: 'repeat'; of: number };

interface Spec {
  inputs: number;
  steps: Step[];
  outputs: number[];
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('binary' as const), op: fc.constantFrom('Add' as const, 'Sub' as const, 'Mul' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({
    kind: fc.constant('unary' as const),
    op: fc.constantFrom('Neg' as const, 'Relu' as const, 'Identity' as const, 'Cast' as const, 'Reshape' as const, 'Expand' as const, 'Dropout' as const),
    a: fc.nat(),
  }),
  fc.record({ kind: fc.constant('repeat' as const), of: fc.nat() }),
);

const specArb: fc.Arbitrary<Spec> = fc.record({
  inputs: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 24 }),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
});

const vec = () => tensorType(DataType.FLOAT, [LEN]);

function build(spec: Spec): Model {
  const m = newModel(18);
  const g = m.graph;
  const pool: Value[] = [];
  for (let i = 0; i < spec.inputs; i++) pool.push(g.addInput({ name: `in${i}`, type: vec() }));
  const shape = g.addInitializer('shape', tensor.int64([1], [LEN]));
  const ones = g.addInitializer('ones', tensor.int64([1], [1]));
  const made: { op: string; inputs: (Value | null)[]; attrs: Attribute[] }[] = [];
  const produced: Value[] = [];
  const pick = (k: number) => pool[k % pool.length];
  for (const s of spec.steps) {
    let desc: { op: string; inputs: (Value | null)[]; attrs: Attribute[] };
    if (s.kind === 'repeat' && made.length) desc = made[s.of % made.length];
    else if (s.kind === 'binary') desc = { op: s.op, inputs: [pick(s.a), pick(s.b)], attrs: [] };
    else if (s.kind === 'unary') {
      const x = pick(s.a);
      const extra = s.op === 'Reshape' ? [shape] : s.op === 'Expand' ? [ones] : [];
      const attrs = s.op === 'Cast' ? [Attribute.int('to', DataType.FLOAT)] : [];
      desc = { op: s.op, inputs: [x, ...extra], attrs };
    } else desc = { op: 'Neg', inputs: [pick(0)], attrs: [] };
    made.push(desc);
    const out = g.add({ op: desc.op, inputs: desc.inputs, attributes: desc.attrs, outputs: [{ type: vec() }] }).output;
    pool.push(out);
    produced.push(out);
  }
  const outs = new Set(spec.outputs.map((k) => produced[k % produced.length]));
  for (const o of outs) g.addOutput(o);
  assertValid(m);
  return m;
}

function feedsFor(spec: Spec, seed: number): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (let i = 0; i < spec.inputs; i++) {
    feeds[`in${i}`] = Float32Array.from({ length: LEN }, (_, j) => ((((seed + 31 * i + 7 * j) % 17) - 8) / 4) || 0.5);
  }
  return feeds;
}

async function runOrt(model: Model, feeds: Record<string, Float32Array>): Promise<Map<string, Float32Array>> {
  const session = await createSession(model);
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', v, [LEN]);
    const res = await session.run(ortFeeds);
    return new Map(model.graph.outputs.map((o) => [o.name, res[o.name].data as Float32Array]));
  } finally {
    await session.release();
  }
}

/**
 * Same names in the same order, exactly equal values (NaN equals NaN; -0 equals +0: onnxruntime's kernels may
 * produce either sign of zero for the same arithmetic, seen with fast-check seed 717770213): no pass here may
 * change arithmetic.
 */
function expectSameOutputs(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  const canon = (x: number) => (Number.isNaN(x) ? 'NaN' : x === 0 ? 0 : x);
  for (const [name, want] of expected) {
    const got = actual.get(name) as Float32Array;
    expect(Array.from(got, canon)).toEqual(Array.from(want, canon));
  }
}

const SEQUENCES: string[][] = [['identity_cleanup'], ['dce'], ['cse'], ['identity_cleanup', 'dce', 'cse', 'unused_initializers', 'topological_sort']];

describe('cleanup passes on random DAGs', () => {
  it('preserve every output (onnxruntime, optimisations off)', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.nat(1000), async (spec, seed) => {
        const model = build(spec);
        const feeds = feedsFor(spec, seed);
        const before = await runOrt(model, feeds);
        expectSameOutputs(evaluate(model, feeds), before);
        for (const names of SEQUENCES) {
          const report = new PassManager(defaultRegistry.instantiate(names)).run(model, {});
          expectSameOutputs(await runOrt(report.model, feeds), before);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the full sequence leaves no dead node, no removable no-op and no duplicate', () => {
    fc.assert(
      fc.property(specArb, fc.nat(1000), (spec, seed) => {
        const model = build(spec);
        const feeds = feedsFor(spec, seed);
        const report = new PassManager(defaultRegistry.instantiate(SEQUENCES[3])).run(model, {});
        const g = report.model.graph;
        expectSameOutputs(evaluate(report.model, feeds), evaluate(model, feeds));
        expect(g.initializers.size).toBeLessThanOrEqual(2);
        expect(g.nodes.size).toBeLessThanOrEqual(model.graph.nodes.size);
        const keys = new Set<string>();
        for (const n of g.nodes) {
          expect(n.outputs.some((o) => o.hasUses() || o.isGraphOutput)).toBe(true);
          // A no-op survives only where its input is a graph input or already an output (the interface).
          if (['Identity', 'Cast', 'Reshape', 'Expand', 'Dropout'].includes(n.op)) {
            const src = n.inputs[0] as Value;
            expect(n.output.isGraphOutput && (src.isGraphInput || src.isGraphOutput)).toBe(true);
          }
          const key = `${n.op}(${n.inputs.map((v) => v?.name).join(',')})`;
          // Duplicates survive only when both are graph outputs.
          if (keys.has(key)) expect(n.output.isGraphOutput).toBe(true);
          keys.add(key);
        }
      }),
      { numRuns: 150 },
    );
  });
});
