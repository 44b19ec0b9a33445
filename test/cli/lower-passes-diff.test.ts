import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { loadModel } from '../../src/ir/serde';
import { exportPath, runLogits, maxAbsDiff } from '../helpers/models';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('lower', () => {
  test('--pipeline llm --cache none keeps logits and reports passes as JSON', async () => {
    const outFile = path.join(tmp, 'llama-none.onnx');
    const r = await cli('lower', exportPath('llama', 18), '-o', outFile, '--pipeline', 'llm', '--cache', 'none', '--report');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { passes: { name: string; ms: number; modified: boolean; counts: Record<string, number> }[] };
    const names = report.passes.map((p) => p.name);
    expect(names).toContain('sdpa_canonicalize');
    expect(names.some((n) => n.startsWith('static_cache'))).toBe(false);
    const sdpa = report.passes.find((p) => p.name === 'sdpa_canonicalize')!;
    expect(sdpa.modified).toBe(true);
    expect(sdpa.counts.sdpa_decomposed).toBe(2);
    const lowered = loadModel(outFile);
    expect([...lowered.graph.nodes].filter((n) => n.op === 'Attention')).toHaveLength(2);
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    expect(maxAbsDiff(await runLogits(fs.readFileSync(outFile), ids), await runLogits(fs.readFileSync(exportPath('llama', 18)), ids))).toBeLessThan(1e-4);
  });

  test('--cache static_v3 --max-seq-len gives the static signature with a static cache length', async () => {
    const outFile = path.join(tmp, 'qwen-v3.onnx');
    const r = await cli('lower', exportPath('qwen2', 23), '-o', outFile, '--pipeline', 'llm', '--cache', 'static_v3', '--max-seq-len', '96');
    expect(r.code).toBe(0);
    const m = loadModel(outFile);
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['input_ids', 'position_ids', 'key_cache_0', 'value_cache_0', 'key_cache_1', 'value_cache_1', 'start_idx', 'end_idx']);
    expect(m.graph.inputs[2].shape).toEqual([1, 2, 96, 16]);
    expect([...m.graph.nodes].some((n) => n.op === 'TensorScatter')).toBe(true);
  });

  test('--passes runs exactly the named passes; unknown names and bad values are usage errors', async () => {
    const outFile = path.join(tmp, 'dce.onnx');
    const r = await cli('lower', exportPath('gpt2', 18), '-o', outFile, '--passes', 'dce,sdpa_canonicalize', '--report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).passes.map((p: { name: string }) => p.name)).toEqual(['dce', 'sdpa_canonicalize']);
    const bad = await cli('lower', exportPath('gpt2', 18), '-o', outFile, '--passes', 'no_such_pass');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/no_such_pass/);
    const badCache = await cli('lower', exportPath('gpt2', 18), '-o', outFile, '--pipeline', 'llm', '--cache', 'static_v9');
    expect(badCache.code).toBe(2);
    expect(badCache.err).toMatch(/--cache must be one of/);
    const both = await cli('lower', exportPath('gpt2', 18), '-o', outFile, '--pipeline', 'llm', '--passes', 'dce');
    expect(both.code).toBe(2);
  });

  test('a pass registered with @loweringPass in a plugin file runs through --plugin', async () => {
    const outFile = path.join(tmp, 'plugin.onnx');
    const plugin = path.join(__dirname, 'plugins', 'count-nodes-pass.ts');
    const r = await cli('lower', exportPath('llama', 23), '-o', outFile, '--plugin', plugin, '--passes', 'test_plugin_tag');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const m = loadModel(outFile);
    expect(m.metadata.get('test_plugin.node_count')).toBe(String(loadModel(exportPath('llama', 23)).graph.nodes.size));
    const listed = await cli('passes', '--json');
    expect(JSON.parse(listed.out).passes.map((p: { name: string }) => p.name)).toContain('test_plugin_tag');
    const missing = await cli('lower', exportPath('llama', 23), '-o', outFile, '--plugin', path.join(tmp, 'nope.js'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot load plugin/);
  });

  test('--explain says why an attention does not match', async () => {
    // Break one attention: Softmax over axis 1 instead of the last axis.
    const m = loadModel(exportPath('llama', 18));
    const sm = [...m.graph.nodes].find((n) => n.op === 'Softmax')!;
    sm.attributes.set('axis', { ...sm.attributes.get('axis')!, data: { type: 2, value: 1 } } as never);
    const { saveModel } = await import('../../src/ir/serde');
    const broken = path.join(tmp, 'broken.onnx');
    saveModel(m, broken);
    const r = await cli('lower', broken, '--pipeline', 'llm', '--explain', 'sdpa_decomposed');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rule 'sdpa_decomposed'/);
    expect(r.out).toMatch(new RegExp(`'${sm.name}'`));
    expect(r.out).toMatch(/axis/);
  });
});

describe('passes', () => {
  test('lists built-in passes in resolved order and the pipelines', async () => {
    const r = await cli('passes', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { passes: { name: string; order: number }[]; pipelines: { name: string; passes: string[] }[] };
    const names = j.passes.map((p) => p.name);
    for (const n of ['dce', 'cse', 'identity_cleanup', 'sdpa_canonicalize', 'static_cache_v1', 'static_cache_v2', 'static_cache_v3']) expect(names).toContain(n);
    expect(names.indexOf('sdpa_canonicalize')).toBeLessThan(names.indexOf('static_cache_v2'));
    const llm = j.pipelines.find((p) => p.name === 'llm')!;
    expect(llm.passes.indexOf('sdpa_canonicalize')).toBeLessThan(llm.passes.indexOf('static_cache_v2'));
    const text = await cli('passes');
    expect(text.out).toMatch(/Pipelines:/);
  });
});

describe('diff', () => {
  test('structural and numerical comparison of an export and its lowering', async () => {
    const lowered = path.join(tmp, 'gpt2-none.onnx');
    expect((await cli('lower', exportPath('gpt2', 18), '-o', lowered, '--pipeline', 'llm', '--cache', 'none')).code).toBe(0);
    const r = await cli('diff', exportPath('gpt2', 18), lowered, '--json', '--input_ids', '1,2,3,4,5');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.ops.Attention).toEqual({ a: 0, b: 2 });
    expect(d.ops.Softmax).toEqual({ a: 2, b: 0 });
    expect(d.inputs).toBeNull();
    expect(d.maxAbsLogitsDiff).toBeLessThan(1e-4);
    expect((await cli('diff', lowered)).code).toBe(2);
  });
});
