import { OnnxLowerError } from '../../ir/errors';
import type { Model } from '../../ir/model';
import type { Dim } from '../../ir/type';

/** Metadata key (model metadata_props) holding the profile hints as JSON. */
export const PROFILE_METADATA_KEY = 'onnx_lower.trt.profile';

/** Default cache / sequence length when neither the options nor the graph say (a common LLM context). */
export const DEFAULT_MAX_SEQ_LEN = 2048;

export interface ProfileOptions {
  /** Longest sequence (prompt + generated); default: the static cache length in the graph, else 2048. */
  maxSeqLen?: number;
  /** Largest batch (default 1). */
  maxBatch?: number;
  /** Sequence length TensorRT tunes for (default: 1 for static-cache models, whose hot loop is decode; else min(128, max)). */
  optSeqLen?: number;
}

/** min/opt/max shapes of one dynamic input. */
export interface InputProfile {
  readonly name: string;
  readonly min: readonly number[];
  readonly opt: readonly number[];
  readonly max: readonly number[];
}

export class ProfileError extends OnnxLowerError {}

type DimKind = 'batch' | 'cache' | 'seq';

/**
 * One optimisation profile for every graph input with a dynamic dimension. Symbolic dims are classified by
 * name and position: a `batch`-like name (or axis 0 of a rank ≥ 2 input) → 1..maxBatch; the static cache's
 * length (`max_seq_len`, axis 2 of `key_cache_*` / `value_cache_*`) → fixed at maxSeqLen (the buffers are
 * allocated whole); anything else is a sequence → 1..maxSeqLen. One symbol gets one value everywhere, so the
 * shapes are consistent across inputs. Static inputs are omitted.
 */
export function profileHints(model: Model, options: ProfileOptions = {}): InputProfile[] {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer);
  const isCache = (name: string) => /^(key|value)_cache_\d+$/.test(name);
  const staticCache = inputs.some((v) => isCache(v.name));
  const graphCacheLen = inputs.filter((v) => isCache(v.name)).map((v) => v.shape?.[2]).find((d): d is number => typeof d === 'number');
  const maxSeq = options.maxSeqLen ?? graphCacheLen ?? DEFAULT_MAX_SEQ_LEN;
  const maxBatch = options.maxBatch ?? 1;
  for (const [k, v] of [['maxSeqLen', maxSeq], ['maxBatch', maxBatch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ProfileError('PROFILE_OPTION', `${k} must be a positive integer, got ${v}`);
  }
  const optSeq = Math.min(maxSeq, options.optSeqLen ?? (staticCache ? 1 : Math.min(128, maxSeq)));
  const ranges: Record<DimKind, [number, number, number]> = {
    batch: [1, 1, maxBatch],
    cache: [maxSeq, maxSeq, maxSeq],
    seq: [1, Math.max(1, optSeq), maxSeq],
  };
  const kindOfSymbol = new Map<string, DimKind>();
  const classify = (input: string, rank: number, axis: number, d: Dim): DimKind => {
    if (typeof d === 'string' && kindOfSymbol.has(d)) return kindOfSymbol.get(d) as DimKind;
    let kind: DimKind;
    if (typeof d === 'string' && /batch/i.test(d)) kind = 'batch';
    else if ((typeof d === 'string' && /^max_seq/i.test(d)) || (isCache(input) && axis === 2)) kind = 'cache';
    else if (axis === 0 && rank >= 2) kind = 'batch';
    else kind = 'seq';
    if (typeof d === 'string') kindOfSymbol.set(d, kind);
    return kind;
  };
  const out: InputProfile[] = [];
  for (const v of inputs) {
    const s = v.shape;
    if (!s || s.every((d) => typeof d === 'number')) continue;
    const pick = (which: 0 | 1 | 2) => s.map((d, axis) => (typeof d === 'number' ? d : ranges[classify(v.name, s.length, axis, d)][which]));
    out.push({ name: v.name, min: pick(0), opt: pick(1), max: pick(2) });
  }
  return out;
}

/** Stores the hints in the model's metadata_props (key PROFILE_METADATA_KEY). */
export function writeProfileHints(model: Model, profiles: readonly InputProfile[]): void {
  model.metadata.set(PROFILE_METADATA_KEY, JSON.stringify(profiles.map((p) => ({ name: p.name, min: p.min, opt: p.opt, max: p.max }))));
}

/** The hints stored by `writeProfileHints`, or undefined when the model has none. */
export function readProfileHints(model: Model): InputProfile[] | undefined {
  const text = model.metadata.get(PROFILE_METADATA_KEY);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProfileError('PROFILE_METADATA', `metadata '${PROFILE_METADATA_KEY}' is not JSON`);
  }
  const ok = (a: unknown): a is number[] => Array.isArray(a) && a.every((x) => Number.isInteger(x) && x >= 0);
  if (!Array.isArray(parsed) || !parsed.every((p) => p && typeof p.name === 'string' && ok(p.min) && ok(p.opt) && ok(p.max))) {
    throw new ProfileError('PROFILE_METADATA', `metadata '${PROFILE_METADATA_KEY}' is not a list of {name, min, opt, max}`);
  }
  return parsed as InputProfile[];
}

/** Quotes a word for a POSIX shell when it needs it. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `trtexec` command line that builds an engine with these profiles:
 * `trtexec --onnx=FILE --minShapes=a:1x1,… --optShapes=… --maxShapes=…` (input names quoted when needed).
 */
export function trtexecCommand(onnxPath: string, profiles: readonly InputProfile[]): string {
  const parts = [`trtexec`, shellWord(`--onnx=${onnxPath}`)];
  if (profiles.length) {
    const spec = (which: 'min' | 'opt' | 'max') => profiles.map((p) => `${p.name}:${p[which].join('x')}`).join(',');
    parts.push(shellWord(`--minShapes=${spec('min')}`), shellWord(`--optShapes=${spec('opt')}`), shellWord(`--maxShapes=${spec('max')}`));
  }
  return parts.join(' ');
}
