import type { Node } from '../../../ir/node';
import type { Value } from '../../../ir/value';
import { constantNumbers } from '../../pattern/constant';

/**
 * One element of a small int64 shape vector, symbolically: a number, or a symbolic dim — `sym:NAME` for a named
 * dim (equal names are equal sizes), `#ID:AXIS` for an unnamed dim of one value.
 */
export type DimTerm = number | string;

const ids = new WeakMap<Value, number>();
let nextId = 0;

/** The dims of `x` as terms, or undefined when its rank is unknown. */
export function dimTerms(x: Value): DimTerm[] | undefined {
  const s = x.shape;
  if (!s) return undefined;
  return s.map((d, i) => {
    if (typeof d === 'number') return d;
    if (typeof d === 'string' && d) return `sym:${d}`;
    let id = ids.get(x);
    if (id === undefined) ids.set(x, (id = nextId++));
    return `#${id}:${i}`;
  });
}

/**
 * Evaluates a 1-D int64 shape vector symbolically — constants, Shape (with start/end), Slice, Concat, Gather,
 * Squeeze/Unsqueeze/Identity/Cast — so a vector built from Shape(k) and the same vector constant-folded to
 * numbers compare equal. Undefined when some part is not one of those.
 */
export function shapeVector(v: Value | null | undefined, depth = 0): DimTerm[] | undefined {
  if (!v || depth > 16) return undefined;
  const c = constantNumbers(v);
  if (c) return c;
  const p: Node | null = v.producer;
  if (!p || p.domain !== '') return undefined;
  switch (p.op) {
    case 'Shape': {
      const terms = p.inputs[0] ? dimTerms(p.inputs[0]) : undefined;
      if (!terms) return undefined;
      const [s, e] = [clampIndex(p.attrInt('start', 0), terms.length), clampIndex(p.attr('end') ? p.attrInt('end') : terms.length, terms.length)];
      return terms.slice(s, Math.max(s, e));
    }
    case 'Slice': {
      const data = shapeVector(p.inputs[0], depth + 1);
      const starts = constantNumbers(p.inputs[1]);
      const ends = constantNumbers(p.inputs[2]);
      const axes = p.inputs[3] ? constantNumbers(p.inputs[3]) : [0];
      const steps = p.inputs[4] ? constantNumbers(p.inputs[4]) : [1];
      if (!data || starts?.length !== 1 || ends?.length !== 1 || axes?.length !== 1 || (axes[0] !== 0 && axes[0] !== -1) || steps?.[0] !== 1) return undefined;
      const s = clampIndex(starts[0], data.length);
      const e = clampIndex(ends[0], data.length);
      return data.slice(s, Math.max(s, e));
    }
    case 'Concat': {
      const axis = p.attrInt('axis', 0);
      if (axis !== 0 && axis !== -1) return undefined;
      const parts = p.inputs.map((i) => shapeVector(i, depth + 1));
      return parts.every((x) => x !== undefined) ? (parts as DimTerm[][]).flat() : undefined;
    }
    case 'Gather': {
      const data = shapeVector(p.inputs[0], depth + 1);
      const idx = constantNumbers(p.inputs[1]);
      if (!data || !idx || p.attrInt('axis', 0) !== 0) return undefined;
      const picked = idx.map((i) => data[i < 0 ? i + data.length : i]);
      return picked.every((x) => x !== undefined) ? picked : undefined;
    }
    case 'Squeeze':
    case 'Unsqueeze':
    case 'Identity':
    case 'Cast':
      return shapeVector(p.inputs[0], depth + 1);
    default:
      return undefined;
  }
}

/** ONNX Slice / Shape index normalisation: negative from the end, clamped to [0, length]. */
function clampIndex(i: number, length: number): number {
  const j = i < 0 ? i + length : i;
  return Math.min(Math.max(j, 0), length);
}

/** Same length and element-wise equal terms. */
export function sameTerms(a: readonly DimTerm[] | undefined, b: readonly DimTerm[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);
}
