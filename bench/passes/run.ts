/**
 * bench/passes: the `cleanup` pipeline on a synthetic 100k-node graph (nodes/s, peak RSS).
 * Baseline measured in the same run: cloneModel of the same graph (one full walk that rebuilds every node),
 * so the ratio says how many "graph copies" the pipeline costs.
 * Run: npm run bench:passes [-- NODES]
 */
import * as os from 'os';
import { cloneModel } from '../../src/ir/clone';
import { DataType } from '../../src/ir/dtype';
import { Graph } from '../../src/ir/graph';
import { Model } from '../../src/ir/model';
import { Node } from '../../src/ir/node';
import { tensor } from '../../src/ir/tensor';
import { tensorType } from '../../src/ir/type';
import type { Value } from '../../src/ir/value';
import { defaultPipelines } from '../../src/passes/pipelines';
import '../../src/passes';

/** A chain with duplicated subexpressions (for CSE), Identity nodes (cleanup) and dead branches (DCE). */
function synthetic(targetNodes: number): Model {
  const g = new Graph('synthetic');
  let prev: Value = g.addInput({ name: 'x', type: tensorType(DataType.FLOAT, [1, 64]) });
  const c1 = g.addInitializer('c1', tensor.float32([64], Array.from({ length: 64 }, (_, i) => i / 64)));
  const c2 = g.addInitializer('c2', tensor.float32([64], Array.from({ length: 64 }, (_, i) => 1 - i / 128)));
  const add = (op: string, inputs: Value[]) => g.append(new Node({ op, inputs })).outputs[0];
  while (g.nodes.size < targetNodes) {
    const a = add('Add', [prev, c1]);
    const b = add('Mul', [a, c2]);
    const dup = add('Mul', [a, c2]); // CSE merges it with b
    const id = add('Identity', [b]); // identity_cleanup removes it
    add('Neg', [a]); // dead: DCE removes it
    prev = add('Add', [id, dup]);
  }
  g.addOutput(prev);
  const m = new Model(g);
  m.opsetImports.set('', 18);
  return m;
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, performance.now() - t];
}

const nodes = Number(process.argv[2] ?? 100_000);
const [model, buildMs] = time(() => synthetic(nodes));
const n = model.graph.nodes.size;
const [, cloneMs] = time(() => cloneModel(model));
const manager = defaultPipelines.createPassManager('cleanup', { verify: false });
const [report, cleanupMs] = time(() => manager.run(model, {}));
const verifying = defaultPipelines.createPassManager('cleanup', { verify: true });
const [, verifiedMs] = time(() => verifying.run(model, {}));
const rssMb = process.resourceUsage().maxRSS / 1024;

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}, node ${process.version}`);
console.log(`graph: ${n} nodes (built in ${buildMs.toFixed(0)} ms) → ${report.model.graph.nodes.size} after cleanup`);
for (const p of report.passes) console.log(`  ${p.name.padEnd(28)} ${p.ms.toFixed(1).padStart(8)} ms  changes ${p.changes}`);
console.log(`cleanup pipeline:          ${cleanupMs.toFixed(0)} ms  (${((n / cleanupMs) * 1000).toFixed(0)} nodes/s, includes the PassManager's clone)`);
console.log(`cleanup + verify each pass: ${verifiedMs.toFixed(0)} ms`);
console.log(`baseline cloneModel:       ${cloneMs.toFixed(0)} ms  → pipeline = ${(cleanupMs / cloneMs).toFixed(1)}× a clone`);
console.log(`peak RSS: ${rssMb.toFixed(0)} MB`);
