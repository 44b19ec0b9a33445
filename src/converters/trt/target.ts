import { UsageError } from '../../ir/errors';

/** TensorRT versions whose ONNX parser support we model (see support-matrix.ts). */
export const TRT_VERSIONS = ['10.8', '10.14', '10.15'] as const;
export type TrtVersion = (typeof TRT_VERSIONS)[number];

/** The target `lower --target` uses when none is given. */
export const DEFAULT_TRT_TARGET = 'trt@10.15';

/** A parsed `trt@MAJOR.MINOR[.PATCH]` target. */
export interface TrtTarget {
  /** Canonical spelling, e.g. 'trt@10.15'. */
  readonly name: string;
  readonly version: TrtVersion;
  readonly major: number;
  readonly minor: number;
}

/** Numeric order of two TensorRT versions ('10.8' < '10.14'). */
export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

/** True when `target` is at least `version` (e.g. atLeast(t, '10.14')). */
export function atLeast(target: TrtTarget, version: string): boolean {
  return compareVersions(target.version, version) >= 0;
}

/**
 * Parses 'trt@10.15' (a patch number is accepted and ignored: the parser's operator support changes with
 * minor releases). Only modelled versions are accepted; anything else is a UsageError naming the choices.
 */
export function parseTrtTarget(spec: string | TrtTarget | undefined): TrtTarget {
  if (spec !== undefined && typeof spec !== 'string') return spec;
  const text = (spec ?? DEFAULT_TRT_TARGET).trim();
  const m = /^(?:trt|tensorrt)@(\d+)\.(\d+)(?:\.\d+)*$/i.exec(text);
  const choices = TRT_VERSIONS.map((v) => `trt@${v}`).join(', ');
  if (!m) throw new UsageError('USAGE', `target '${text}' is not of the form trt@MAJOR.MINOR; choose one of ${choices}`, text);
  const version = `${Number(m[1])}.${Number(m[2])}`;
  if (!(TRT_VERSIONS as readonly string[]).includes(version)) {
    throw new UsageError('USAGE', `no operator support data for TensorRT ${version}; choose one of ${choices}`, text);
  }
  return { name: `trt@${version}`, version: version as TrtVersion, major: Number(m[1]), minor: Number(m[2]) };
}
