import { loadModel } from '../ir/serde';
import { summarize, ModelSummary, ValueSummary } from '../ir/summary';
import { formatShape } from '../ir/type';
import { createSession, int64Tensor } from '../runtime/ort-session';
import { parseFlags, requirePositional } from './args';
import { UsageError } from '../ir/errors';

export const diffHelp = `onnx-lower diff A B [--json] [--input_ids 1,2,3]
  Compares two models: opsets, interface (inputs/outputs with dtype and shape), op histogram, parameters; with
  --input_ids, also runs both on onnxruntime (graph optimisations off) and reports the largest logits difference
  (both models must take input_ids/position_ids and give logits, i.e. no static cache).`;

interface Diff {
  opsets: { a: Record<string, number>; b: Record<string, number> } | null;
  inputs: { a: string[]; b: string[] } | null;
  outputs: { a: string[]; b: string[] } | null;
  ops: Record<string, { a: number; b: number }>;
  nodeCount: { a: number; b: number };
  parameterBytes: { a: number; b: number };
  maxAbsLogitsDiff?: number;
}

const io = (vs: ValueSummary[]) => vs.map((v) => `${v.name}: ${v.dtype}${formatShape(v.shape ?? undefined)}`);
const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);

export function structuralDiff(a: ModelSummary, b: ModelSummary): Diff {
  const ops: Diff['ops'] = {};
  for (const op of new Set([...Object.keys(a.opHistogram), ...Object.keys(b.opHistogram)])) {
    const x = a.opHistogram[op] ?? 0;
    const y = b.opHistogram[op] ?? 0;
    if (x !== y) ops[op] = { a: x, b: y };
  }
  return {
    opsets: same(a.opsetImports, b.opsetImports) ? null : { a: a.opsetImports, b: b.opsetImports },
    inputs: same(io(a.inputs), io(b.inputs)) ? null : { a: io(a.inputs), b: io(b.inputs) },
    outputs: same(io(a.outputs), io(b.outputs)) ? null : { a: io(a.outputs), b: io(b.outputs) },
    ops, nodeCount: { a: a.nodeCount, b: b.nodeCount }, parameterBytes: { a: a.parameterBytes, b: b.parameterBytes },
  };
}

export async function diffCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, input_ids: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'diff');
  if (values.help) {
    out(diffHelp);
    return 0;
  }
  const [fa, fb] = requirePositional(positionals, 2, 'onnx-lower diff A B');
  const [ma, mb] = [loadModel(fa), loadModel(fb)];
  const d = structuralDiff(summarize(ma), summarize(mb));
  if (values.input_ids !== undefined) {
    const ids = String(values.input_ids).split(',').map((s) => {
      if (!/^\d+$/.test(s.trim())) throw new UsageError('USAGE', `--input_ids must be comma-separated integers, got '${s}'`);
      return Number(s);
    });
    const feeds = { input_ids: int64Tensor(ids, [1, ids.length]), position_ids: int64Tensor(ids.map((_, i) => i), [1, ids.length]) };
    const [la, lb] = await Promise.all([ma, mb].map(async (m) => (await (await createSession(m)).run(feeds)).logits.data as Float32Array));
    let max = 0;
    for (let i = 0; i < la.length; i++) max = Math.max(max, Math.abs(la[i] - lb[i]));
    d.maxAbsLogitsDiff = la.length === lb.length ? max : Infinity;
  }
  if (values.json) {
    out(JSON.stringify(d, null, 2));
    return 0;
  }
  out(`nodes: ${d.nodeCount.a} → ${d.nodeCount.b}; parameter bytes: ${d.parameterBytes.a} → ${d.parameterBytes.b}`);
  if (d.opsets) out(`opsets: ${JSON.stringify(d.opsets.a)} → ${JSON.stringify(d.opsets.b)}`);
  for (const k of ['inputs', 'outputs'] as const) {
    const x = d[k];
    if (x) out(`${k}:\n  A: ${x.a.join('\n     ')}\n  B: ${x.b.join('\n     ')}`);
  }
  const rows = Object.entries(d.ops).sort((p, q) => Math.abs(q[1].b - q[1].a) - Math.abs(p[1].b - p[1].a));
  if (rows.length) out(`ops (A → B):\n${rows.map(([op, c]) => `  ${op.padEnd(24)} ${String(c.a).padStart(6)} → ${c.b}`).join('\n')}`);
  if (d.maxAbsLogitsDiff !== undefined) out(`max |logits A − logits B|: ${d.maxAbsLogitsDiff.toExponential(3)}`);
  return 0;
}
