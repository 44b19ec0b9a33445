import { UsageError } from '../ir/errors';
import type { Model } from '../ir/model';
import { loadModel, saveModel } from '../ir/serde';
import { CACHE_KINDS, CacheKind, llmSteps, PRECISIONS, Precision } from '../passes/llm/pipeline';
import { PassManager, PipelineReport } from '../passes/pass-manager';
import { defaultPipelines, PipelineRegistry, PipelineStep } from '../passes/pipelines';
import { defaultRegistry } from '../passes/registry';
import { explain, formatExplanation } from '../passes/pattern/explain';
import { readProfileHints, trtexecCommand } from '../converters/trt/profiles';
import { choiceFlag, intFlag, parseFlags, requirePositional } from './args';
import { findRules, loadPlugins } from './pass-catalog';

export const lowerHelp = `onnx-lower lower IN -o OUT [--pipeline NAME | --passes a,b|none] [options]
  Loads IN, runs a pass pipeline, and saves OUT atomically (weights copied by byte range, never decoded).
Options:
  --pipeline NAME        a named pipeline (see 'onnx-lower passes'): cleanup, llm
  --passes a,b | none    run exactly these passes (ordered by their constraints); 'none' = load and save
  --cache KIND           llm pipeline: static_v1 | static_v2 | static_v3 | none (default static_v2)
  --max-seq-len N        llm pipeline: static cache length (default: symbolic 'max_seq_len')
  --precision P          llm pipeline: FP32 | FP16 | BF16 (default FP32)
  --target trt@X         llm pipeline: TensorRT legalisation target (trt@10.8 | trt@10.14 | trt@10.15); prints the trtexec line
  --trt-fp32-acc         with --target below trt@10.14: fp32 accumulation around the decomposed attention matmuls
  --plugin FILE          load a module that registers passes with @loweringPass (repeatable)
  --explain RULE         print the closest partial matches of a rule (or every rule of a pass) and why they failed
  --report               print per-pass timing and change counts as JSON
  --external-data        save weights to OUT.data (default: only when over 2 GB)
  --reference-external-data  keep weights in IN's data file: OUT points at it (OUT must be in that file's
                         folder or above it), nothing is copied; new tensors are placed as usual
  --no-verify            skip verify() after each pass`;

export interface LowerFlags {
  pipeline?: string;
  passes?: string;
  cache?: CacheKind;
  maxSeqLen?: number;
  precision?: Precision;
  target?: string;
  trtFp32Acc?: boolean;
}

/** The PassManager for the flags: a pipeline, an explicit pass list, or nothing (--passes none). */
export function buildManager(f: LowerFlags, verify: boolean): PassManager | undefined {
  if (f.pipeline && f.passes) throw new UsageError('USAGE', 'give either --pipeline or --passes, not both');
  if (f.passes === 'none') return undefined;
  if (f.passes) {
    const names = f.passes.split(',').map((s) => s.trim()).filter(Boolean);
    return new PassManager(defaultRegistry.instantiate(names), { verify });
  }
  const name = f.pipeline ?? 'cleanup';
  const pipelines = new PipelineRegistry();
  for (const def of defaultPipelines.list()) {
    const steps: PipelineStep[] = def.name === 'llm' ? llmSteps({ cache: f.cache, precision: f.precision, target: f.target }) : [...def.steps];
    pipelines.register(def.name, steps, def.description, { repeatUntilStable: def.repeatUntilStable, maxIterations: def.maxIterations });
  }
  return pipelines.createPassManager(name, { registry: defaultRegistry, verify });
}

export function lowerCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    output: { type: 'string', short: 'o' },
    pipeline: { type: 'string' },
    passes: { type: 'string' },
    cache: { type: 'string' },
    'max-seq-len': { type: 'string' },
    precision: { type: 'string' },
    target: { type: 'string' },
    'trt-fp32-acc': { type: 'boolean' },
    plugin: { type: 'string', multiple: true },
    explain: { type: 'string' },
    report: { type: 'boolean' },
    'external-data': { type: 'boolean' },
    'reference-external-data': { type: 'boolean' },
    'no-verify': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, 'lower');
  if (values.help) {
    out(lowerHelp);
    return 0;
  }
  const [input] = requirePositional(positionals, 1, 'onnx-lower lower IN -o OUT');
  const output = values.output as string | undefined;
  if (!output && !values.explain) throw new UsageError('USAGE', 'lower needs -o OUT');
  loadPlugins((values.plugin as string[] | undefined) ?? []);
  const flags: LowerFlags = {
    pipeline: values.pipeline as string | undefined,
    passes: values.passes as string | undefined,
    cache: values.cache === undefined ? undefined : choiceFlag(values.cache as string, 'cache', CACHE_KINDS, 'static_v2'),
    maxSeqLen: intFlag(values['max-seq-len'] as string | undefined, 'max-seq-len', { min: 1 }),
    precision: values.precision === undefined ? undefined : choiceFlag((values.precision as string).toUpperCase(), 'precision', PRECISIONS, 'FP32'),
    target: values.target as string | undefined,
    trtFp32Acc: Boolean(values['trt-fp32-acc']),
  };
  const verify = !values['no-verify'];
  const manager = buildManager(flags, verify);
  let model: Model = loadModel(input);

  if (values.explain) out(explainRule(String(values.explain), model, flags, verify));
  let report: PipelineReport | undefined;
  if (manager) {
    // The loaded model is not used again: lower it in place (no clone).
    report = manager.run(model, passOptions(flags), { takeModel: true });
    model = report.model;
  }
  if (output) {
    saveModel(model, output, {
      externalData: values['external-data'] ? true : 'auto',
      referenceExternalData: Boolean(values['reference-external-data']),
      onProgress: copyProgress(),
    });
  }
  const hints = flags.target ? readProfileHints(model) : undefined;
  if (output && hints && !values.report) out(trtexecCommand(output, hints));
  if (values.report) {
    out(JSON.stringify({
      input, output, modified: report?.modified ?? false,
      ...(output && hints ? { trtexec: trtexecCommand(output, hints) } : {}),
      passes: (report?.passes ?? []).map((p) => ({ name: p.name, iteration: p.iteration, ms: Number(p.ms.toFixed(3)), modified: p.modified, changes: p.changes, counts: p.counts })),
    }, null, 2));
  }
  return 0;
}

/** Progress of the weight copy on stderr (copies of 256 MB or more): every 10 %, or live on a terminal. */
function copyProgress(): (done: number, total: number) => void {
  const tty = Boolean(process.stderr.isTTY);
  let lastAt = 0;
  let lastStep = -1;
  return (done, total) => {
    if (total < 256 * 2 ** 20) return;
    const step = Math.floor((done / total) * 10);
    const now = Date.now();
    if (done < total && (tty ? now - lastAt < 250 : step <= lastStep)) return;
    lastAt = now;
    lastStep = step;
    const line = `onnx-lower lower: copying weights ${(done / 1e9).toFixed(2)} / ${(total / 1e9).toFixed(2)} GB (${Math.floor((done / total) * 100)}%)`;
    process.stderr.write(tty ? `\r${line}${done >= total ? '\n' : ''}` : `${line}\n`);
  };
}

function passOptions(f: LowerFlags) {
  return { maxSeqLen: f.maxSeqLen, precision: f.precision, target: f.target, trtFp32Acc: f.trtFp32Acc };
}

/** Explains a rule on the model as that rule's pass would see it: after the passes that run before it. */
function explainRule(name: string, model: Model, flags: LowerFlags, verify: boolean): string {
  const found = findRules(name);
  if (!found) throw new UsageError('USAGE', `--explain: no pass or rule named '${name}'`);
  let seen = model;
  const manager = buildManager(flags, verify);
  if (manager) {
    const prefix = manager.entriesBefore(found.pass);
    if (prefix.length) seen = new PassManager(prefix, { verify }).run(model, passOptions(flags)).model;
  }
  return found.rules.map((r) => formatExplanation(r, explain(r, seen))).join('\n');
}
