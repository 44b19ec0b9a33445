import { defaultPipelines } from '../passes/pipelines';
import { defaultRegistry } from '../passes/registry';
import { parseFlags, requirePositional } from './args';
import { loadPlugins } from './pass-catalog';

export const passesHelp = `onnx-lower passes [--json] [--plugin FILE]
  Lists the registered lowering passes (name, description, order constraints) and the named pipelines.`;

export function passesCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    json: { type: 'boolean' }, plugin: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
  }, 'passes');
  if (values.help) {
    out(passesHelp);
    return 0;
  }
  requirePositional(positionals, 0, 'onnx-lower passes [--json]');
  loadPlugins((values.plugin as string[] | undefined) ?? []);
  const passes = defaultRegistry.list().map((d, order) => ({ order, name: d.name, description: d.description, before: [...(d.before ?? [])], after: [...(d.after ?? [])] }));
  const pipelines = defaultPipelines.list().map((p) => ({ name: p.name, description: p.description, passes: defaultPipelines.passNames(p.name) }));
  if (values.json) {
    out(JSON.stringify({ passes, pipelines }, null, 2));
    return 0;
  }
  const width = Math.max(...passes.map((p) => p.name.length));
  out('Passes (in resolved order):');
  for (const p of passes) {
    const order = [...p.after.map((a) => `after ${a}`), ...p.before.map((b) => `before ${b}`)].join(', ');
    out(`  ${p.name.padEnd(width)}  ${p.description}${order ? `  [${order}]` : ''}`);
  }
  out('\nPipelines:');
  for (const p of pipelines) out(`  ${p.name}: ${p.passes.join(' → ')}\n    ${p.description}`);
  return 0;
}
