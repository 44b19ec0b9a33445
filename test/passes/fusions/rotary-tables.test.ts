// The rotary caches are tabulated for all positions at once, cos and sin together (tabulateAll): each table must be,
// bit for bit, what the reference evaluator gives for the operand at one position at a time, and what tabulating
// each operand alone gives. On the fixtures' own cos/sin subgraphs (dynamo 18: decomposed RoPE, 'heads' layout;
// dynamo 23: RotaryEmbedding fed per-token cos/sin, 'rows' layout).
import { DataType } from '../../../src/ir/dtype';
import type { Model } from '../../../src/ir/model';
import { RawTensor, Tensor } from '../../../src/ir/tensor';
import type { Value } from '../../../src/ir/value';
import { evaluateSubgraph } from '../../../src/passes/common/evaluator';
import { rotaryRules } from '../../../src/passes/fusions';
import { tabulate, tabulateAll, TableColumns, TableLayout } from '../../../src/passes/fusions/rotary/position-table';
import { matchRule } from '../../../src/passes/pattern/rule';
import { canonicalizeOnly } from '../../helpers/llm';
import { loadExport } from '../../helpers/models';

const COUNT = 3000;

interface Operands {
  cos: Value;
  sin: Value;
  layout: TableLayout;
  columns: TableColumns;
}

/** The cos/sin operands of the first rotary match (decomposed or per-token RotaryEmbedding). */
function firstOperands(model: Model): Operands {
  const [rotary, , rotaryCache] = rotaryRules(COUNT);
  for (const node of model.graph.nodes) {
    const m = matchRule(rotary, node, model);
    if (m.ok) {
      const b = m.bindings as { cos: Value; sin: Value; even?: unknown };
      return { cos: b.cos, sin: b.sin, layout: 'heads', columns: b.even ? 'pairs' : 'halves' };
    }
    const c = matchRule(rotaryCache, node, model);
    if (c.ok) {
      const b = c.bindings as { cos: Value; sin: Value };
      return { cos: b.cos, sin: b.sin, layout: 'rows', columns: 'all' };
    }
  }
  throw new Error('no rotary match');
}

/** The operand evaluated by the reference evaluator for one token at `position` (batch 1, seq 1). */
function atPosition(model: Model, operand: Value, position: number): Tensor {
  const feeds = new Map<Value, Tensor>();
  for (const input of model.graph.inputs) {
    const value = input.name === 'position_ids' ? BigInt(position) : 0n;
    feeds.set(input, RawTensor.fromArray(DataType.INT64, [1, 1], BigInt64Array.of(value)));
  }
  return evaluateSubgraph(model.graph, feeds, [operand], { opset: model.opset('') }).get(operand) as Tensor;
}

describe.each([['llama', 18], ['llama', 23], ['qwen2', 18], ['qwen2', 23]] as const)('%s opset %i: rotary tables', (name, opset) => {
  const model = canonicalizeOnly(loadExport(name, opset));
  const ops = firstOperands(model);

  test('tabulateAll equals the per-position evaluation, bit for bit, and each operand tabulated alone', () => {
    const both = tabulateAll(model, [ops.cos, ops.sin], ops.layout, ops.columns, COUNT);
    if (!Array.isArray(both)) throw new Error(both.reason);
    [ops.cos, ops.sin].forEach((operand, k) => {
      const table = both[k];
      const alone = tabulate(model, operand, ops.layout, ops.columns, COUNT) as RawTensor;
      expect(Buffer.from(table.bytes()).equals(Buffer.from(alone.bytes()))).toBe(true);
      const [count, cols] = table.dims;
      expect(count).toBe(COUNT);
      const elem = table.bytes().length / (count * cols);
      for (const p of [0, 1, 2, 17, 255, 1024, 2047, COUNT - 1]) {
        const row = atPosition(model, operand, p);
        const width = row.dims[row.dims.length - 1];
        const bytes = row.bytes();
        // The kept columns: the first half (rotate-half), the even ones (interleaved) or all.
        const keep = ops.columns === 'pairs' ? Array.from({ length: cols }, (_, j) => 2 * j) : Array.from({ length: cols }, (_, j) => j);
        expect(width).toBe(ops.columns === 'all' ? cols : 2 * cols);
        const want = Buffer.concat(keep.map((j) => Buffer.from(bytes.subarray(j * elem, (j + 1) * elem))));
        const got = Buffer.from(table.bytes().subarray(p * cols * elem, (p + 1) * cols * elem));
        expect(got.equals(want)).toBe(true);
      }
    });
  });
});
