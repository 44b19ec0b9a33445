import { loadModel } from '../ir/serde';
import { summarize, ModelSummary } from '../ir/summary';
import { formatShape } from '../ir/type';
import { parseFlags, requirePositional } from './args';

export const inspectHelp = `onnx-lower inspect FILE [--json]
  Prints IR version, opset imports, node count, op histogram, graph inputs/outputs (dtype, shape with
  symbolic dims by name), initializer count and parameter bytes. External weight bytes are never read.`;

export function inspectCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'inspect');
  if (values.help) {
    out(inspectHelp);
    return 0;
  }
  const [file] = requirePositional(positionals, 1, 'onnx-lower inspect FILE [--json]');
  const summary = summarize(loadModel(file));
  out(values.json ? JSON.stringify({ file, ...summary }, null, 2) : formatSummary(file, summary));
  return 0;
}

export function formatSummary(file: string, s: ModelSummary): string {
  const lines = [
    `${file}`,
    `  IR version      ${s.irVersion}${s.producer ? `  (producer: ${s.producer})` : ''}`,
    `  opset imports   ${Object.entries(s.opsetImports).map(([d, v]) => `${d}=${v}`).join(', ')}`,
    `  nodes           ${s.nodeCount}`,
    `  initializers    ${s.initializerCount} (${s.parameterCount.toLocaleString('en-US')} parameters, ${formatBytes(s.parameterBytes)}${s.externalBytes ? `, ${formatBytes(s.externalBytes)} external in ${s.externalFiles.join(', ')}` : ''})`,
    '  inputs',
    ...s.inputs.map((v) => `    ${v.name}: ${v.dtype}${formatShape(v.shape ?? undefined)}`),
    '  outputs',
    ...s.outputs.map((v) => `    ${v.name}: ${v.dtype}${formatShape(v.shape ?? undefined)}`),
    '  ops',
    ...Object.entries(s.opHistogram).map(([op, n]) => `    ${String(n).padStart(6)}  ${op}`),
  ];
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}
