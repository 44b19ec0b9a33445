import { checkTrt, formatViolation } from '../converters/trt/checker';
import { DEFAULT_TRT_TARGET, parseTrtTarget } from '../converters/trt/target';
import { loadModel } from '../ir/serde';
import { parseFlags, requirePositional } from './args';

export const checkHelp = `onnx-lower check FILE [--target trt@10.15] [--json]
  Lists every node the target's TensorRT ONNX parser would reject (onnx-tensorrt support matrix), with the
  reason and the rule's source. Targets: trt@10.8, trt@10.14, trt@10.15 (default). Exit 0 clean, 1 otherwise.`;

export function checkCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    target: { type: 'string', short: 't' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, 'check');
  if (values.help) {
    out(checkHelp);
    return 0;
  }
  const [file] = requirePositional(positionals, 1, 'onnx-lower check FILE --target trt@X [--json]');
  const target = parseTrtTarget(typeof values.target === 'string' ? values.target : DEFAULT_TRT_TARGET);
  const violations = checkTrt(loadModel(file), target);
  if (values.json) {
    out(JSON.stringify({ file, target: target.name, ok: violations.length === 0, violations }, null, 2));
  } else if (violations.length === 0) {
    out(`${file}: ready for TensorRT ${target.version} (no node the parser rejects)`);
  } else {
    out(`${file}: ${violations.length} problem(s) for TensorRT ${target.version}`);
    for (const v of violations) out(`  ${formatViolation(v)}`);
  }
  return violations.length === 0 ? 0 : 1;
}
