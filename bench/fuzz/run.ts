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
  const o: Options = { cases: 100_000, seed: 1, workers: Math.max(1, os.cpus().length), hangMs: 10_000 };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    switch (argv[i]) {
      case '--cases': o.cases = v; i++; break;
      case '--seed': o.seed = v; i++; break;
      case '--workers': o.workers = v; i++; break;
      case '--hang-ms': o.hangMs = v; i++; break;
      case '--only': o.only = v; i++; break;
      default: throw new Error(`unknown flag ${argv[i]} (flags: --cases N --seed S --workers W --hang-ms MS --only INDEX)`);
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
  return ok ? 0 : 1;
}

if (isMainThread) {
  main().then((code) => {
    process.exitCode = code;
  });
} else {
  workerMain();
}
