import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../src/cli/main';
import { DataType } from '../../../src/ir/dtype';
import { saveModel } from '../../../src/ir/serde';
import { exportPath } from '../../helpers/models';
import { tiny } from './graphs';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('onnx-lower check', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-check-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an un-lowered opset-23 export for trt@10.8: every rejected node with reason and source, exit 1', async () => {
    const file = exportPath('llama', 23);
    const r = await cli('check', file, '--target', 'trt@10.8');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/problem\(s\) for TensorRT 10\.8/);
    expect(r.out).toContain("(Attention): Attention is imported by the TensorRT ONNX parser only from TensorRT 10.14 (target: 10.8) [op_not_yet_supported; ");
    expect(r.out).toContain('[opset_range; ');
    const json = await cli('check', file, '--target', 'trt@10.8', '--json');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.out);
    expect(parsed).toMatchObject({ file, target: 'trt@10.8', ok: false });
    expect(parsed.violations.filter((v: { op?: string }) => v.op === 'Attention')).toHaveLength(2);
    for (const v of parsed.violations) expect(Object.keys(v)).toEqual(expect.arrayContaining(['rule', 'reason', 'source']));
  });

  test('a clean model exits 0; the default target is trt@10.15', async () => {
    const t = tiny(23);
    t.output(t.b.op('Relu', [t.input('x', DataType.FLOAT, [2])]), 'y', DataType.FLOAT, [2]);
    const file = path.join(dir, 'clean.onnx');
    saveModel(t.model, file);
    const r = await cli('check', file);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('ready for TensorRT 10.15');
    const json = JSON.parse((await cli('check', file, '--json', '-t', 'trt@10.14')).out);
    expect(json).toEqual({ file, target: 'trt@10.14', ok: true, violations: [] });
  });

  test('usage errors exit 2; unreadable files exit 1', async () => {
    expect((await cli('check')).code).toBe(2);
    const bad = await cli('check', exportPath('gpt2', 23), '--target', 'trt@9.0');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('trt@10.8, trt@10.14, trt@10.15');
    expect((await cli('check', exportPath('gpt2', 23), '--frobnicate')).code).toBe(2);
    const missing = await cli('check', path.join(dir, 'nope.onnx'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/onnx-lower check: error \[/);
    expect((await cli('check', '--help')).out).toContain('onnx-lower check FILE');
  });
});
