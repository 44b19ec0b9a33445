import { UsageError } from '../ir/errors';
import { loadModel, saveModel } from '../ir/serde';
import { parseFlags, requirePositional } from './args';

export const lowerHelp = `onnx-lower lower IN -o OUT [--passes a,b|none] [--pipeline NAME]
  Loads IN, runs passes, and saves OUT atomically (external data kept external).`;

export function lowerCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    output: { type: 'string', short: 'o' },
    passes: { type: 'string' },
    'external-data': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, 'lower');
  if (values.help) {
    out(lowerHelp);
    return 0;
  }
  const [input] = requirePositional(positionals, 1, 'onnx-lower lower IN -o OUT');
  if (!values.output) throw new UsageError('USAGE', 'lower needs -o OUT');
  if (values.passes !== 'none' && values.passes !== undefined) throw new UsageError('USAGE', `unknown passes '${values.passes}'`);
  const model = loadModel(input);
  saveModel(model, String(values.output), { externalData: values['external-data'] ? true : 'auto' });
  return 0;
}
