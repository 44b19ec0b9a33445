// `onnx-lower run` end to end (issue 5, Tests): the built CLI in a child process (`node dist/cli/main.js run …`,
// rebuilt once when dist is older than src), each call in an empty scratch folder as its working directory.
// Exit codes, the --json schema, `outputs match: true` for every cache kind (fixture with --input_ids, bundled
// model with a text prompt; --enable_baseline_run and its alias --enable_pytorch_run), batch 2 on a dynamic-batch
// export, --benchmark, the real defaults, FP16, every error case (one line, exit 1 or 2 for usage), and that run
// writes no files.
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataType } from '../../src/ir/dtype';
import { Graph } from '../../src/ir/graph';
import { Model } from '../../src/ir/model';
import { encodeModel } from '../../src/ir/serde';
import { tensorType } from '../../src/ir/type';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const FIXTURES = path.join(ROOT, 'fixtures');
const LLAMA_EXPORT = path.join(FIXTURES, 'exports', 'llama.dynamo23.onnx');
const LLAMA_GREEDY = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'exports', 'llama.greedy.json'), 'utf8')) as Record<string, number[]>;
const EAGER = path.join(FIXTURES, 'models', 'llama-eager18');
const EAGER_REF = JSON.parse(fs.readFileSync(path.join(EAGER, 'ref.json'), 'utf8')) as Record<string, number[]>;
const BUNDLED = path.join(FIXTURES, 'models', 'sotu-llama');
const SOTU_REF = JSON.parse(fs.readFileSync(path.join(BUNDLED, 'ref.json'), 'utf8')) as Record<string, number[]>;
const PROMPT_IDS = LLAMA_GREEDY.prompt_7.join(',');
/** Progress lines `run` prints on stderr (load → lower → session → generate). */
const PROGRESS = /^(load|lower|session|generate) +\d+ ms/;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let scratch: string;

function cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.ONNX_LOWER_DEBUG;
    execFile(process.execPath, [CLI, 'run', ...args], { cwd: scratch, env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs CLI calls two at a time (the CI machines have two cores); results in call order. */
async function cliAll(calls: string[][], timeoutMs?: number): Promise<CliResult[]> {
  const results: CliResult[] = new Array(calls.length);
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const i = next++;
      results[i] = await cli(calls[i], timeoutMs);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/** Newest modification time under a folder (files ending in `ext`). */
function newest(dir: string, ext: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Every file under a folder with its size and mtime (to show run writes nothing). */
function listing(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listing(p));
    else {
      const s = fs.statSync(p);
      out.push(`${path.relative(ROOT, p)} ${s.size} ${s.mtimeMs}`);
    }
  }
  return out.sort();
}

/** The error of a failed run: the last stderr line, and every other stderr line is progress. */
function errorLine(r: CliResult): string {
  const lines = r.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1];
  expect(lines.slice(0, -1).filter((l) => !PROGRESS.test(l))).toEqual([]);
  expect(last).toMatch(/^onnx-lower run: /);
  return last;
}

function parseJson(r: CliResult): Record<string, unknown> {
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
const isIdRows = (x: unknown) => Array.isArray(x) && x.every((row) => Array.isArray(row) && row.every((v) => Number.isInteger(v)));

/** The `--json` report's keys and value types. */
function expectReportSchema(j: Record<string, unknown>, o: { baseline: boolean; benchmark: boolean }): void {
  const keys = ['model', 'backend', 'cache', 'precision', 'batch_size', 'prompt_tokens', 'num_tokens', 'input_ids', 'output_ids', 'text', 'timings'];
  expect(Object.keys(j).sort()).toEqual([...keys, ...(o.baseline ? ['baseline'] : []), ...(o.benchmark ? ['benchmark'] : [])].sort());
  expect(typeof j.model).toBe('string');
  expect(['cpu', 'cuda']).toContain(j.backend);
  expect(['static_v1', 'static_v2', 'static_v3', 'none']).toContain(j.cache);
  expect(['FP32', 'FP16', 'BF16']).toContain(j.precision);
  for (const k of ['batch_size', 'prompt_tokens', 'num_tokens']) expect([k, Number.isInteger(j[k])]).toEqual([k, true]);
  expect(isIdRows(j.input_ids)).toBe(true);
  expect(isIdRows(j.output_ids)).toBe(true);
  expect((j.input_ids as number[][]).length).toBe(j.batch_size);
  expect((j.output_ids as number[][]).length).toBe(j.batch_size);
  expect((j.input_ids as number[][])[0].length).toBe(j.prompt_tokens);
  expect((j.text as unknown[]).every((t) => t === null || typeof t === 'string')).toBe(true);
  const t = j.timings as Record<string, unknown>;
  expect(Object.keys(t).sort()).toEqual(['decode_ms', 'generate_ms', 'load_ms', 'lower_ms', 'prefill_ms']);
  for (const k of ['generate_ms', 'load_ms', 'lower_ms', 'prefill_ms']) expect([k, isNumber(t[k])]).toEqual([k, true]);
  const d = t.decode_ms as Record<string, unknown>;
  expect(Object.keys(d).sort()).toEqual(['count', 'mean', 'p50', 'p90']);
  expect(Number.isInteger(d.count)).toBe(true);
  if ((d.count as number) > 0) for (const k of ['mean', 'p50', 'p90']) expect(isNumber(d[k])).toBe(true);
  if (o.baseline) {
    const b = j.baseline as Record<string, unknown>;
    expect(Object.keys(b).sort()).toEqual(['output_ids', 'outputs_match', 'text']);
    expect(typeof b.outputs_match).toBe('boolean');
    expect(isIdRows(b.output_ids)).toBe(true);
  }
  if (o.benchmark) {
    const b = j.benchmark as Record<string, unknown>;
    expect(Object.keys(b).sort()).toEqual(['batch_size', 'isl', 'iterations', 'osl', 'runs']);
    for (const k of ['batch_size', 'isl', 'iterations', 'osl']) expect(Number.isInteger(b[k])).toBe(true);
    for (const row of b.runs as Record<string, unknown>[]) {
      expect(Object.keys(row).sort()).toEqual(['backend', 'cache', 'decode_p50_ms', 'decode_p90_ms', 'lowering_ms', 'mean_ms', 'median_ms', 'precision', 'ratio_to_baseline', 'tokens_per_s', 'ttft_ms'].sort());
      for (const k of ['backend', 'cache', 'precision']) expect(typeof row[k]).toBe('string');
      for (const k of ['decode_p50_ms', 'decode_p90_ms', 'lowering_ms', 'mean_ms', 'median_ms', 'ratio_to_baseline', 'tokens_per_s', 'ttft_ms']) expect([k, isNumber(row[k])]).toEqual([k, true]);
    }
  }
}

let fixturesBefore: string[];

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-run-'));
  fixturesBefore = listing(FIXTURES);
  // Build once when the compiled CLI is missing or older than the sources.
  const built = fs.existsSync(CLI) ? fs.statSync(CLI).mtimeMs : 0;
  if (built < newest(path.join(ROOT, 'src'), '.ts')) {
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
    } catch (e) {
      // tsc still emits on type errors elsewhere in a tree under concurrent edit; only a missing emit is fatal.
      if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs <= built) throw e;
      process.stderr.write(`run.test: tsc reported type errors, testing the emitted dist anyway:\n${String((e as { stdout?: Buffer }).stdout ?? '').slice(0, 2000)}\n`);
    }
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'postbuild.js')], { cwd: ROOT, stdio: 'pipe' });
  }
}, 300_000);

afterAll(() => {
  // run writes nothing: not into its working directory, not next to the models.
  if (scratch) {
    expect(fs.readdirSync(scratch)).toEqual([]);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  expect(listing(FIXTURES)).toEqual(fixturesBefore);
});

const CACHE_FLAGS = ['static_v1', 'static_v2', 'static_v3', ''];

describe('outputs match the un-lowered baseline for every cache kind', () => {
  const fixtureArgs = (cache: string) => ['--model', LLAMA_EXPORT, '--input_ids', PROMPT_IDS, '--num_tokens', '12', '--cache', cache];
  /** The bundled model alternates the two spellings of the baseline flag. */
  const bundledArgs = (cache: string, i: number) => ['--model', BUNDLED, '--prompt', 'The state of the Union is', '--num_tokens', '8', '--cache', cache, i % 2 ? '--enable_baseline_run' : '--enable_pytorch_run'];
  const results = new Map<string, CliResult>();
  beforeAll(async () => {
    const calls: [string, string[]][] = CACHE_FLAGS.flatMap((c, i) => [
      [`text ${c}`, [...fixtureArgs(c), '--enable_baseline_run']],
      [`json ${c}`, [...fixtureArgs(c), '--enable_pytorch_run', '--json']],
      [`bundled ${c}`, bundledArgs(c, i)],
    ] as [string, string[]][]);
    const out = await cliAll(calls.map(([, args]) => args));
    calls.forEach(([key], i) => results.set(key, out[i]));
  }, 600_000);

  test.each(CACHE_FLAGS)("fixture with --input_ids, cache '%s': `outputs match: true` in text, baseline.outputs_match in --json", (cache) => {
    const text = results.get(`text ${cache}`) as CliResult;
    expect(text.code).toBe(0);
    const expected = LLAMA_GREEDY.greedy_48_from_7.slice(0, 12).join(',');
    expect(text.stdout.trimEnd().split('\n')).toEqual([expected, '--- baseline (un-lowered export, no cache, onnxruntime) ---', expected, 'outputs match: true']);
    expect(text.stderr.trimEnd().split('\n').every((l) => PROGRESS.test(l))).toBe(true);
    const json = results.get(`json ${cache}`) as CliResult;
    const j = parseJson(json);
    expectReportSchema(j, { baseline: true, benchmark: false });
    expect(j.cache).toBe(cache || 'none');
    expect((j.baseline as { outputs_match: boolean }).outputs_match).toBe(true);
    expect(j.output_ids).toEqual([LLAMA_GREEDY.greedy_48_from_7.slice(0, 12)]);
    expect(json.stderr).toBe(''); // --json: nothing on stderr
  });

  test.each(CACHE_FLAGS)("bundled model with a text prompt, cache '%s'", (cache) => {
    const r = results.get(`bundled ${cache}`) as CliResult;
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('prompt: The state of the Union is');
    expect(lines[1]).toMatch(/\w/);
    expect(lines.slice(2)).toEqual(['--- baseline (un-lowered export, no cache, onnxruntime) ---', lines[1], 'outputs match: true']);
  });
});

test('batch 2 on a dynamic-batch export: two identical rows, equal to the reference and the baseline', async () => {
  const r = await cli(['--model', EAGER, '--input_ids', EAGER_REF.prompt_7.join(','), '--num_tokens', '16', '--batch_size', '2', '--enable_baseline_run', '--json']);
  const j = parseJson(r);
  expectReportSchema(j, { baseline: true, benchmark: false });
  expect(j.batch_size).toBe(2);
  const rows = j.output_ids as number[][];
  expect(rows).toHaveLength(2);
  expect(rows[1]).toEqual(rows[0]);
  expect(rows[0]).toEqual(EAGER_REF.greedy_48_from_7.slice(0, 16));
  expect((j.baseline as { outputs_match: boolean }).outputs_match).toBe(true);
});

test('--benchmark --iterations 2: the table on stdout and benchmark rows in --json', async () => {
  const base = ['--model', LLAMA_EXPORT, '--input_ids', PROMPT_IDS, '--num_tokens', '8', '--benchmark', '--iterations', '2'];
  const [text, json] = await Promise.all([cli(base), cli([...base, '--json'])]);
  expect(text.code).toBe(0);
  const lines = text.stdout.trimEnd().split('\n');
  const head = lines.findIndex((l) => /backend +cache +precision +median ms +mean ms +tok\/s +TTFT ms +decode p50 +decode p90 +lower ms +vs baseline/.test(l));
  expect(head).toBeGreaterThan(0);
  expect(lines[head + 1]).toMatch(/^[- ]+$/);
  expect(lines[head + 2]).toMatch(/^ *cpu +static_v2 +FP32 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +\d+ +[\d.]+×$/);
  expect(lines[head + 3]).toMatch(/^ *cpu +none \(baseline\) +FP32 .* 1\.00×$/);
  const j = parseJson(json);
  expectReportSchema(j, { baseline: false, benchmark: true });
  const b = j.benchmark as { iterations: number; osl: number; isl: number; runs: { cache: string; ratio_to_baseline: number }[] };
  expect([b.iterations, b.osl, b.isl]).toEqual([2, 8, 7]);
  expect(b.runs.map((r) => r.cache)).toEqual(['static_v2', 'none (baseline)']);
  expect(b.runs[1].ratio_to_baseline).toBe(1);
});

test('the real defaults: `run` with no flags generates 128 tokens on the bundled model and benchmarks', async () => {
  const r = await cli([], 300_000);
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe('prompt: The state of the Union is');
  expect(lines[1].split(/\s+/).length).toBeGreaterThan(40); // 128 tokens of (trained, word-level-ish) text
  expect(lines.some((l) => /^ *cpu +static_v2 +FP32 /.test(l))).toBe(true);
  expect(lines.some((l) => /^ *cpu +none \(baseline\) +FP32 /.test(l))).toBe(true);
  expect(r.stderr).toMatch(/^load .*sotu-llama.*\n/);
  expect(r.stderr).toMatch(/generate +\d+ ms +\(128 tokens/);
}, 300_000);

test('FP16 on the bundled model: ≥ 90 % of 32 greedy tokens equal the fp32 PyTorch reference (docs/precision.md)', async () => {
  const r = await cli(['--model', BUNDLED, '--input_ids', SOTU_REF.prompt_7.join(','), '--num_tokens', '32', '--ignore_eos', '--precision', 'FP16', '--json']);
  const j = parseJson(r);
  expectReportSchema(j, { baseline: false, benchmark: false });
  expect(j.precision).toBe('FP16');
  const tokens = (j.output_ids as number[][])[0];
  expect(tokens).toHaveLength(32);
  const ref = SOTU_REF.greedy_48_from_7.slice(0, 32);
  expect(tokens.filter((t, i) => t === ref[i]).length / 32).toBeGreaterThanOrEqual(0.9);
});

describe('errors: one line, exit 1 (2 for usage), nothing written', () => {
  const cases: [string, string[], number, RegExp][] = [
    ['missing model', ['--model', path.join(FIXTURES, 'no-such-model')], 1, /error \[MODEL_MISSING\]: model '.*no-such-model' does not exist$/],
    ['unknown flag', ['--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ['bad --cache', ['--cache', 'static_v9'], 2, /--cache must be one of static_v1, static_v2, static_v3; got 'static_v9'$/],
    ['bad --precision', ['--precision', 'FP8'], 2, /--precision must be one of FP32, FP16, BF16; got 'FP8'$/],
    ['--batch_size 0', ['--batch_size', '0'], 2, /--batch_size must be at least 1, got 0$/],
    ['prompt longer than the cache', ['--max_seq_len', '4', '--num_tokens', '2'], 1, /error \[GEN_TOO_LONG\]: prompt \(8 tokens\) \+ 2 new tokens needs a cache of 9, but --max_seq_len is 4$/],
    ['batch 2 on a batch-1 export', ['--model', LLAMA_EXPORT, '--input_ids', '1,2,3', '--batch_size', '2'], 2, /the model was exported for batch 1; --batch_size 2 needs an export with a dynamic batch dimension$/],
    ['cuda here', ['--model', LLAMA_EXPORT, '--input_ids', '1,2,3', '--backend', 'cuda', '--num_tokens', '2'], 1, /error \[BACKEND_UNAVAILABLE\]: cuda backend not available: \S/],
    ['BF16 on the cpu backend', ['--precision', 'BF16', '--num_tokens', '2'], 1, /error \[BACKEND_PRECISION\]: BF16 cannot run on the cpu backend: onnxruntime's CPU provider has no bfloat16 kernels/],
  ];
  const results: CliResult[] = [];
  beforeAll(async () => {
    results.push(...(await cliAll(cases.map(([, args]) => args))));
  }, 300_000);
  test.each(cases.map((c, i) => [...c, i] as const))('%s', (_what, _args, code, message, i) => {
    const r = results[i];
    expect(r.code).toBe(code);
    expect(errorLine(r)).toMatch(message);
    expect(r.stdout).toBe('');
  });

  test('an unsupported graph (a non-LLM ONNX model without input_ids) and a file that is not ONNX', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-lower-nonllm-'));
    try {
      // A one-node Relu model, written by the test in its own folder (not the scratch folder).
      const g = new Graph('relu');
      const x = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [2, 3]) });
      g.addOutput(g.add({ op: 'Relu', inputs: [x], outputs: [{ name: 'y', type: tensorType(DataType.FLOAT, [2, 3]) }] }).outputs[0]);
      const model = new Model(g);
      model.opsetImports.set('', 18);
      fs.writeFileSync(path.join(dir, 'relu.onnx'), encodeModel(model));
      fs.writeFileSync(path.join(dir, 'junk.onnx'), 'not a protobuf at all');
      const [r, junk] = await Promise.all([
        cli(['--model', path.join(dir, 'relu.onnx'), '--input_ids', '1,2']),
        cli(['--model', path.join(dir, 'junk.onnx'), '--input_ids', '1,2']),
      ]);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(/error \[MODEL_UNSUPPORTED\]: unsupported graph: 'relu.onnx' is not a causal-LM export run can drive \(it has no input 'input_ids' or 'position_ids', other inputs \(x\), no output 'logits'\)/);
      expect(junk.code).toBe(1);
      expect(errorLine(junk)).toMatch(/^onnx-lower run: error \[\w+\]: .*junk\.onnx/);
      expect(fs.readdirSync(dir).sort()).toEqual(['junk.onnx', 'relu.onnx']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--help exits 0 and lists the flags', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--model', '--prompt', '--precision', '--num_tokens', '--cache', '--benchmark', '--iterations', '--isl', '--batch_size', '--enable_baseline_run', '--enable_pytorch_run', '--backend', '--input_ids', '--seed', '--json']) expect(r.stdout).toContain(flag);
  });
});
