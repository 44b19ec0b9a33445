/** The foundation's CLI surface: `inspect FILE [--json]`, `lower IN -o OUT --passes none`, errors and exit codes. */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { summarize } from '../../src/ir';
import { loadModel } from '../../src/ir/serde';
import { exportPath } from '../helpers/models';
import { tempDir } from './ir-util';

const ROOT = path.join(__dirname, '..', '..');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err };
}

describe('onnx-lower inspect', () => {
  test('--json: schema and values on a fixture', async () => {
    const file = exportPath('llama', 23);
    const { code, out, err } = await cli('inspect', file, '--json');
    expect(code).toBe(0);
    expect(err).toEqual([]);
    const s = JSON.parse(out);
    expect(Object.keys(s).sort()).toEqual([
      'externalBytes', 'externalFiles', 'file', 'functionCount', 'initializerCount', 'inputs', 'irVersion', 'metadata',
      'nodeCount', 'opHistogram', 'opsetImports', 'outputs', 'parameterBytes', 'parameterCount', 'producer',
    ]);
    expect(s.file).toBe(file);
    expect(s.irVersion).toBe(10);
    expect(s.opsetImports['ai.onnx']).toBe(23);
    expect(s.producer).toMatch(/pytorch/);
    const histogramTotal = Object.values(s.opHistogram as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(histogramTotal).toBe(s.nodeCount);
    expect(s.opHistogram.Attention).toBe(2);
    // Inputs: int64 with the symbolic dims by name.
    expect(s.inputs.map((v: { name: string }) => v.name)).toEqual(['input_ids', 'position_ids']);
    for (const v of s.inputs) {
      expect(v.dtype).toBe('INT64');
      expect(v.shape).toHaveLength(2);
      expect(v.shape.some((d: unknown) => typeof d === 'string' && d.length > 0)).toBe(true);
    }
    expect(s.outputs).toEqual([{ name: 'logits', dtype: 'FLOAT', shape: [expect.anything(), expect.anything(), 256] }]);
    // The numbers agree with the library's own summary.
    const lib = summarize(loadModel(file));
    expect(s.parameterBytes).toBe(lib.parameterBytes);
    expect(s.initializerCount).toBe(lib.initializerCount);
    expect(s.externalBytes).toBe(0);
  });

  test('text output names the same facts', async () => {
    const { code, out } = await cli('inspect', exportPath('gpt2', 18));
    expect(code).toBe(0);
    const s = summarize(loadModel(exportPath('gpt2', 18)));
    expect(out).toMatch(new RegExp(`nodes\\s+${s.nodeCount}\\b`));
    expect(out).toMatch(/opset imports\s+ai\.onnx=18/);
    expect(out).toMatch(/input_ids: INT64\[\w+, \w+\]/);
    expect(out).toMatch(/logits: FLOAT\[.*256\]/);
    expect(out).toMatch(new RegExp(`initializers\\s+${s.initializerCount} \\(`));
    for (const [op, n] of Object.entries(s.opHistogram)) expect(out).toMatch(new RegExp(`\\b${n}\\s+${op}\\b`));
  });

  test('a missing file: exit 1 and one line naming it', async () => {
    const { code, out, err } = await cli('inspect', '/no/such/model.onnx');
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toHaveLength(1);
    expect(err[0].split('\n')).toHaveLength(1);
    expect(err[0]).toMatch(/\/no\/such\/model\.onnx/);
    expect(err[0]).toMatch(/LOAD_MISSING/);
  });

  test('a file that is not ONNX: exit 1, one line', async () => {
    const file = path.join(tempDir('onnx-lower-cli-'), 'junk.onnx');
    fs.writeFileSync(file, 'this is not a protobuf');
    const { code, err } = await cli('inspect', file);
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/junk\.onnx/);
  });

  test('usage errors exit 2: an unknown flag, a missing argument, an unknown command', async () => {
    for (const argv of [['inspect', '--bogus', exportPath('gpt2', 18)], ['inspect'], ['inspekt', 'x']]) {
      const { code, err } = await cli(...argv);
      expect(code).toBe(2);
      expect(err).toHaveLength(1);
    }
  });
});

describe('onnx-lower lower --passes none', () => {
  test('loads and saves: the output is the input byte for byte', async () => {
    const dir = tempDir('onnx-lower-cli-');
    const outFile = path.join(dir, 'out.onnx');
    const { code, err } = await cli('lower', exportPath('qwen2', 18), '-o', outFile, '--passes', 'none');
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(Buffer.compare(fs.readFileSync(outFile), fs.readFileSync(exportPath('qwen2', 18)))).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['out.onnx']);
  });

  test('with --external-data: weights go to OUT.data and inspect reports them', async () => {
    const dir = tempDir('onnx-lower-cli-');
    const outFile = path.join(dir, 'out.onnx');
    expect((await cli('lower', exportPath('gpt2', 23), '-o', outFile, '--passes', 'none', '--external-data')).code).toBe(0);
    expect(fs.existsSync(`${outFile}.data`)).toBe(true);
    const s = JSON.parse((await cli('inspect', outFile, '--json')).out);
    expect(s.externalFiles).toEqual(['out.onnx.data']);
    expect(s.externalBytes).toBeGreaterThan(0);
    expect(s.parameterBytes).toBe(summarize(loadModel(exportPath('gpt2', 23))).parameterBytes);
  });

  test('lower without -o is a usage error (exit 2)', async () => {
    expect((await cli('lower', exportPath('gpt2', 18), '--passes', 'none')).code).toBe(2);
  });
});

describe('the built CLI', () => {
  test('node dist/cli/main.js --help works (building first when dist is missing)', () => {
    let entry = path.join(ROOT, 'dist', 'cli', 'main.js');
    let cleanup = () => undefined as void;
    if (!fs.existsSync(entry)) {
      // Build into a scratch folder (gitignored build/, inside the repo so node_modules resolve) rather than
      // dist/: tests must not race other builds of the project.
      fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
      const out = fs.mkdtempSync(path.join(ROOT, 'build', 'cli-test-'));
      cleanup = () => fs.rmSync(out, { recursive: true, force: true });
      spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { stdio: 'pipe' });
      fs.copyFileSync(path.join(ROOT, 'src', 'ir', 'serde', 'onnx.proto'), path.join(out, 'ir', 'serde', 'onnx.proto'));
      entry = path.join(out, 'cli', 'main.js');
    }
    const help = execFileSync(process.execPath, [entry, '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/^onnx-lower/);
    expect(help).toMatch(/inspect/);
    expect(help).toMatch(/lower/);
    const r = spawnSync(process.execPath, [entry, 'inspect', exportPath('gpt2', 18), '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).nodeCount).toBeGreaterThan(100);
    const missing = spawnSync(process.execPath, [entry, 'inspect', '/no/such.onnx'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    cleanup();
  }, 180_000);
});
