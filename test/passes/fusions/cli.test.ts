// `onnx-lower lower --report` counts each fusion (from the passes' PassResult.counts) and `--explain RULE`
// explains fusion rules on the model as the pass sees it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lowerCommand } from '../../../src/cli/lower';
import '../../../src/passes/fusions';
import { exportPath } from '../../helpers/models';

interface Report {
  passes: { name: string; modified: boolean; counts: Record<string, number> }[];
}

describe('lower CLI with the fusion passes', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fusions-cli-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--report lists each fusion pass with its per-rule counts', () => {
    const lines: string[] = [];
    const out = path.join(dir, 'llama.onnx');
    expect(lowerCommand([exportPath('llama', 23), '-o', out, '--pipeline', 'llm', '--cache', 'none', '--report'], (s) => lines.push(s))).toBe(0);
    const report = JSON.parse(lines.join('\n')) as Report;
    const byName = new Map(report.passes.map((p) => [p.name, p]));
    expect(byName.get('rotary_fusion')?.counts).toEqual({ rotary: 0, rotary_partial: 0, rotary_cache: 4 });
    expect(byName.get('rmsnorm_fusion')?.counts).toEqual({ rmsnorm: 0, rmsnorm_unscaled: 0 });
    expect(byName.get('silu_gate_fusion')?.counts).toEqual({ silu_gate: 2 });
    expect(byName.get('skip_add')?.counts).toEqual({ skip_rmsnorm: 4, skip_layernorm: 0 });
    expect(byName.get('gelu_fusion')?.modified).toBe(false);
    expect(fs.existsSync(out)).toBe(true);
  });

  test('--explain RULE shows matches, and why a rule does not apply', () => {
    const lines: string[] = [];
    expect(lowerCommand([exportPath('llama', 23), '--pipeline', 'llm', '--cache', 'none', '--explain', 'rotary_cache'], (s) => lines.push(s))).toBe(0);
    expect(lines.join('\n')).toMatch(/rule 'rotary_cache': 4 candidate root\(s\) \(RotaryEmbedding\), 4 match\(es\)/);
    const gemm: string[] = [];
    expect(lowerCommand([exportPath('qwen2', 23), '--pipeline', 'llm', '--cache', 'none', '--explain', 'matmul_add_gemm'], (s) => gemm.push(s))).toBe(0);
    expect(gemm.join('\n')).toMatch(/rank 3; Gemm is 2D/);
  });
});
