// Acceptance (issue 4): explaining sdpa_canonicalize on a graph whose attention is slightly off says why, naming
// the node — through the API (explain / formatExplanation) and through `onnx-lower lower --explain`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lowerCommand } from '../../../src/cli/lower';
import { Builder } from '../../../src/ir/builder';
import { DataType } from '../../../src/ir/dtype';
import { Graph } from '../../../src/ir/graph';
import { Model } from '../../../src/ir/model';
import { saveModel } from '../../../src/ir/serde';
import { tensor } from '../../../src/ir/tensor';
import { tensorType } from '../../../src/ir/type';
import type { Value } from '../../../src/ir/value';
import { attentionNodes, sdpaDecomposedRule } from '../../../src/passes/llm';
import { explain, formatExplanation } from '../../../src/passes/pattern/explain';
import { canonicalizeOnly } from '../../helpers/llm';
import { loadExport } from '../../helpers/models';

/** HF-eager attention softmax(q·kᵀ ⊙ scale) · v with named nodes; `tweak` makes it slightly off. */
function eagerAttention(tweak: { softmaxAxis?: number; scale?: 'input' | 'seqLen' }): Model {
  const g = new Graph('off');
  const model = new Model(g);
  model.opsetImports.set('', 18);
  const b = new Builder(g);
  const q = g.addInput({ name: 'q', type: tensorType(DataType.FLOAT, [1, 2, 'seq', 4]) });
  const k = g.addInput({ name: 'k', type: tensorType(DataType.FLOAT, [1, 2, 'seq', 4]) });
  const v = g.addInput({ name: 'v', type: tensorType(DataType.FLOAT, [1, 2, 'seq', 4]) });
  const scores = b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] }, { name: 'k_transpose' })], {}, { name: 'qk_matmul' });
  let scaled: Value;
  if (tweak.scale === 'input') {
    const temperature = g.addInput({ name: 'temperature', type: tensorType(DataType.FLOAT, []) });
    scaled = b.op('Mul', [scores, temperature], {}, { name: 'scale_by_input' });
  } else if (tweak.scale === 'seqLen') {
    const len = b.op('Gather', [b.op('Shape', [q]), g.addInitializer('axis_seq', tensor.int64([], [2]))], { axis: 0 });
    scaled = b.op('Div', [scores, b.op('Sqrt', [b.op('Cast', [len], { to: DataType.FLOAT })])], {}, { name: 'div_by_sqrt_seq' });
  } else scaled = b.op('Mul', [scores, g.addInitializer('scaling', tensor.float32([], [0.5]))], {}, { name: 'scale_const' });
  const probs = b.op('Softmax', [scaled], { axis: tweak.softmaxAxis ?? -1 }, { name: 'attn_softmax' });
  const out = b.op('MatMul', [probs, v], {}, { name: 'pv_matmul' });
  out.name = 'out';
  out.type = tensorType(DataType.FLOAT, [1, 2, 'seq', 4]);
  g.addOutput(out);
  return model;
}

/** The explanation rooted at the attention's final MatMul. */
function atRoot(model: Model) {
  const all = explain(sdpaDecomposedRule, model);
  const e = all.find((x) => x.root.name === 'pv_matmul');
  if (!e) throw new Error('no explanation rooted at pv_matmul');
  return { e, text: formatExplanation(sdpaDecomposedRule, all) };
}

describe('explain sdpa_decomposed', () => {
  test('a well-formed attention matches (and is rewritten by the pass)', () => {
    const model = eagerAttention({});
    const { e, text } = atRoot(model);
    expect(e.status).toBe('matched');
    expect(text).toMatch(/'pv_matmul' \(MatMul\) .*matches/);
    expect(attentionNodes(canonicalizeOnly(model))).toHaveLength(1);
  });

  test('Softmax over axis 1: the reason names the Softmax and its axis', () => {
    const model = eagerAttention({ softmaxAxis: 1 });
    const { e, text } = atRoot(model);
    expect(e.status).toBe('match');
    expect(e.node?.name).toBe('attn_softmax');
    expect(e.reason).toMatch(/attribute 'axis' of 'attn_softmax' \(Softmax\): found 1/);
    expect(text).toMatch(/'pv_matmul' \(MatMul\) in graph 'off' — mismatch/);
    expect(text).toMatch(/stopped at 'attn_softmax' \(Softmax\): .*axis.*found 1/);
    expect(attentionNodes(canonicalizeOnly(model))).toHaveLength(0);
  });

  test('a scale that is a graph input: the check rejects it, naming the Mul', () => {
    const model = eagerAttention({ scale: 'input' });
    const { e, text } = atRoot(model);
    expect(e.status).toBe('check');
    expect(e.node?.name).toBe('scale_by_input');
    expect(e.reason).toBe("Mul 'scale_by_input' (Mul) on the scores is not by a constant scalar");
    expect(text).toMatch(/rejected by check .*\n {3}stopped at 'scale_by_input' \(Mul\): Mul 'scale_by_input' \(Mul\) on the scores is not by a constant scalar/);
  });

  test('division by sqrt(sequence length): not the default scale, and the reason names the Div', () => {
    const { e } = atRoot(eagerAttention({ scale: 'seqLen' }));
    expect(e.status).toBe('check');
    expect(e.node?.name).toBe('div_by_sqrt_seq');
    expect(e.reason).toMatch(/Div 'div_by_sqrt_seq' \(Div\) on the scores is not by a constant or by sqrt\(head_dim\)/);
  });

  test('on a real export every attention matches', () => {
    const ex = explain(sdpaDecomposedRule, loadExport('llama', 18)).filter((x) => x.status === 'matched');
    expect(ex).toHaveLength(2);
  });
});

describe('onnx-lower lower --explain', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-explain-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test.each(['sdpa_canonicalize', 'sdpa_decomposed'])('--explain %s prints why the attention is not rewritten', (name) => {
    const file = path.join(tmp, `off-${name}.onnx`);
    saveModel(eagerAttention({ softmaxAxis: 1 }), file);
    const lines: string[] = [];
    expect(lowerCommand([file, '--pipeline', 'llm', '--cache', 'none', '--explain', name], (s) => lines.push(s))).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/rule 'sdpa_decomposed': 2 candidate root\(s\) \(MatMul\), 0 match\(es\)/);
    expect(text).toMatch(/stopped at 'attn_softmax' \(Softmax\): attribute 'axis' .*found 1/);
    if (name === 'sdpa_canonicalize') expect(text).toMatch(/rule 'attention_canonical'/);
  });
});
