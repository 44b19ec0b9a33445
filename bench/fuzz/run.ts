/**
 * The long fuzz run of the ONNX decoder (CI runs ≥ 10k cases in test/ir/serde/fuzz.test.ts; this runs ≥ 100k).
 *
 *   npm run bench:fuzz                      # 100,000 cases on every core
 *   npm run bench:fuzz -- --cases 1000000 --seed 7 --workers 4
 *
 * Each worker thread takes every W-th case index; case i of seed S is regenerated from (S, i) alone, so a
 * failure is reproduced with `--only i --seed S`. A watchdog in the main thread treats a case that runs
 * longer than --hang-ms as a hang: it reports the case and stops that worker. Crashing inputs are written
 * to bench/.out/fuzz-crashes/. Prints counts per outcome and per error code, and exits 1 on any crash or hang.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import { describeError, fixtureSeeds, makeCase, Pools, randomModelSeeds, runCase, trimmedSeeds } from '../../test/ir/serde/fuzz-corpus';

interface Options {
  cases: number;
  seed: number;
  workers: number;
  hangMs: number;
  only?: number;
  write: boolean;
}

interface Report {
  done: number;
  outcomes: Record<string, number>;
  crashes: { index: number; what: string; stage: string; error: string; file: string }[];
  slowestMs: number;
  slowestWhat: string;
}

/** The bundle runs from bench/.out/: put the ONNX schema next to it (the codec looks there). */
function provideSchema(): void {
  const target = path.join(__dirname, 'onnx.proto');
  if (!fs.existsSync(target)) fs.copyFileSync(path.resolve('src', 'ir', 'serde', 'onnx.proto'), target);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { cases: 100_000, seed: 1, workers: Math.max(1, os.cpus().length), hangMs: 10_000, write: true };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    switch (argv[i]) {
      case '--cases': o.cases = v; i++; break;
      case '--seed': o.seed = v; i++; break;
      case '--workers': o.workers = v; i++; break;
      case '--hang-ms': o.hangMs = v; i++; break;
      case '--only': o.only = v; i++; break;
      case '--no-write': o.write = false; break;
      default: throw new Error(`unknown flag ${argv[i]} (flags: --cases N --seed S --workers W --hang-ms MS --only INDEX --no-write)`);
    }
  }
  return o;
}

function pools(): Pools {
  return { big: fixtureSeeds(), small: [...trimmedSeeds(), ...randomModelSeeds(48)] };
}

const CRASH_DIR = path.resolve('bench', '.out', 'fuzz-crashes');

/** Worker: runs cases start, start+stride, ... and reports; `clock[slot]` holds the running case index. */
function workerMain(): void {
  const { opts, slot, stride, clock } = workerData as { opts: Options; slot: number; stride: number; clock: SharedArrayBuffer };
  const running = new Int32Array(clock);
  const p = pools();
  const report: Report = { done: 0, outcomes: {}, crashes: [], slowestMs: 0, slowestWhat: '' };
  for (let i = slot; i < opts.cases; i += stride) {
    Atomics.store(running, slot, i);
    const { what, bytes } = makeCase(opts.seed, i, p);
    const start = performance.now();
    const o = runCase(bytes);
    const ms = performance.now() - start;
    if (ms > report.slowestMs) {
      report.slowestMs = ms;
      report.slowestWhat = `case ${i}: ${what}`;
    }
    const key = o.kind === 'error' ? `error ${o.code}` : o.kind;
    report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
    if (o.kind === 'crash' && report.crashes.length < 20) {
      fs.mkdirSync(CRASH_DIR, { recursive: true });
      const file = path.join(CRASH_DIR, `seed${opts.seed}-case${i}.onnx`);
      fs.writeFileSync(file, bytes);
      report.crashes.push({ index: i, what, stage: o.stage, error: describeError(o.error), file });
    }
    report.done++;
    if (report.done % 2000 === 0) parentPort!.postMessage({ kind: 'progress', report });
  }
  Atomics.store(running, slot, -1);
  parentPort!.postMessage({ kind: 'done', report });
}

async function main(): Promise<number> {
  provideSchema();
  const opts = parseOptions(process.argv.slice(2));
  if (opts.only !== undefined) {
    const { what, bytes } = makeCase(opts.seed, opts.only, pools());
    const o = runCase(bytes);
    console.log(`case ${opts.only} (${what}, ${bytes.length} bytes):`, o.kind === 'crash' ? `${o.stage}: ${describeError(o.error)}` : o);
    return o.kind === 'crash' ? 1 : 0;
  }
  const started = performance.now();
  const clock = new SharedArrayBuffer(4 * opts.workers);
  const running = new Int32Array(clock);
  const reports: Report[] = Array.from({ length: opts.workers }, () => ({ done: 0, outcomes: {}, crashes: [], slowestMs: 0, slowestWhat: '' }));
  const hangs: string[] = [];
  let peakRss = 0;
  console.log(`fuzzing decodeModel: ${opts.cases.toLocaleString('en-US')} cases, seed ${opts.seed}, ${opts.workers} worker(s)`);

  await Promise.all(reports.map((_, slot) => new Promise<void>((resolve) => {
    Atomics.store(running, slot, -2); // starting (building seeds)
    const w = new Worker(__filename, { workerData: { opts, slot, stride: opts.workers, clock } });
    let lastCase = -2;
    let since = performance.now();
    const watchdog = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const now = Atomics.load(running, slot);
      if (now !== lastCase) {
        lastCase = now;
        since = performance.now();
      } else if (now >= 0 && performance.now() - since > opts.hangMs) {
        hangs.push(`worker ${slot}: case ${now} ran over ${opts.hangMs} ms (reproduce: --seed ${opts.seed} --only ${now})`);
        clearInterval(watchdog);
        void w.terminate();
      }
    }, 250);
    w.on('message', (m: { kind: string; report: Report }) => {
      reports[slot] = m.report;
      if (m.kind === 'progress' && slot === 0) {
        const done = reports.reduce((s, r) => s + r.done, 0);
        process.stdout.write(`  ${done.toLocaleString('en-US')} / ${opts.cases.toLocaleString('en-US')}\r`);
      }
    });
    w.on('error', (e) => {
      hangs.push(`worker ${slot} died: ${describeError(e)}`);
    });
    w.on('exit', () => {
      clearInterval(watchdog);
      resolve();
    });
  })));

  const seconds = (performance.now() - started) / 1000;
  const outcomes = new Map<string, number>();
  for (const r of reports) for (const [k, n] of Object.entries(r.outcomes)) outcomes.set(k, (outcomes.get(k) ?? 0) + n);
  const done = reports.reduce((s, r) => s + r.done, 0);
  const crashes = reports.flatMap((r) => r.crashes);
  const slowest = reports.reduce((a, b) => (b.slowestMs > a.slowestMs ? b : a));
  console.log(`\n${done.toLocaleString('en-US')} cases in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString('en-US')} cases/s), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  console.log(`slowest case: ${slowest.slowestMs.toFixed(1)} ms (${slowest.slowestWhat})`);
  console.log('outcomes:');
  for (const [k, n] of [...outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(9)}  ${k}`);
  for (const c of crashes) console.log(`CRASH case ${c.index} (${c.what}) in ${c.stage}, saved to ${c.file}:\n  ${c.error.replace(/\n/g, '\n  ')}`);
  for (const h of hangs) console.log(`HANG ${h}`);
  const ok = crashes.length === 0 && hangs.length === 0 && done >= opts.cases;
  console.log(ok ? 'no crash, no hang: every input gave a typed error or a valid model' : 'FAILED');
  if (opts.write && opts.only === undefined) {
    const models = outcomes.get('model') ?? 0;
    const errors = [...outcomes].filter(([k]) => k.startsWith('error ')).sort((a, b) => b[1] - a[1]);
    writeSection(`## fuzz

\`npm run bench:fuzz\` (bench/fuzz/run.ts) — ${new Date().toISOString()}
Machine: ${machine()}.
${done.toLocaleString('en-US')} inputs (seed ${opts.seed}, ${opts.workers} worker threads) in ${seconds.toFixed(1)} s (${Math.round(done / seconds)} inputs/s); peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB;
slowest input ${slowest.slowestMs.toFixed(0)} ms (${slowest.slowestWhat}). Mix: 20 % random byte strings, 6 % mutations of the six
~700 KB fixtures, the rest mutations of trimmed fixtures (24 nodes, external weights) and 48 random models; mutators:
bit flips, byte sets, truncations, deletions, duplications, splices, length-prefix and varint corruptions, and
wire-aware field drops/duplications/transplants/varint changes that keep the protobuf well-formed.

Result: **${crashes.length} crashes, ${hangs.length} hangs**. ${models.toLocaleString('en-US')} inputs decoded to models (each then verified, summarized,
re-encoded and decoded again); the rest were refused with typed errors:

| error code | inputs |
|---|---:|
${errors.map(([k, n]) => `| ${k.slice(6)} | ${n.toLocaleString('en-US')} |`).join('\n')}
`);
  }
  return ok ? 0 : 1;
}

function machine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  return `${os.cpus().length} CPU(s), ${cpu}; Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
}

/** Replaces (or appends) this benchmark's section of bench/RESULTS.md, leaving the others alone. */
function writeSection(text: string): void {
  const file = path.resolve('bench', 'RESULTS.md');
  const heading = text.split('\n', 1)[0];
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n\nOne section per benchmark; each says how to rerun it and on which machine it ran.\n';
  const start = current.indexOf(`\n${heading}\n`);
  let next = start < 0 ? -1 : current.indexOf('\n## ', start + 1);
  if (next < 0) next = current.length;
  const updated = start < 0 ? `${current.trimEnd()}\n\n${text}` : `${current.slice(0, start)}\n${text}${current.slice(next)}`;
  fs.writeFileSync(file, updated.endsWith('\n') ? updated : `${updated}\n`);
  console.log(`wrote the ${heading.slice(3)} section of ${path.relative(process.cwd(), file)}`);
}

if (isMainThread) {
  main().then((code) => {
    process.exitCode = code;
  });
} else {
  workerMain();
}
