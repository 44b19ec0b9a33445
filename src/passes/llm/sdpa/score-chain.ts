import type { Node } from '../../../ir/node';
import type { Value } from '../../../ir/value';
import { constantNumbers, scalarOf } from '../../pattern/constant';
import { Failure, failure } from '../../pattern/rule';
import { dimTerms, sameTerms, shapeVector } from './shape-vector';

/** How the attention mask enters the scores. */
export type MaskForm =
  /** Boolean mask, true = attend (from `Where(mask, 0, -inf)` or `Where(mask, scores, -inf)`). */
  | { kind: 'bool'; value: Value }
  /** Boolean mask, true = masked out (from `Where(mask, -inf, 0)` or `Where(mask, -inf, scores)`). */
  | { kind: 'boolNot'; value: Value }
  /** Float bias added to the scores (0 = attend, large negative = masked). */
  | { kind: 'bias'; value: Value };

/** What the decomposed attention computes: softmax(q·kᵀ·scale + mask)·v, with k before its transpose. */
export interface ScoreChain {
  q: Value;
  k: Value;
  /** Product of every constant multiplier on the scores; `default` = 1/sqrt(head_dim) computed from a shape. */
  scale: number | 'default';
  mask?: MaskForm;
  /** Softmax ran on an fp32 upcast of the scores (the fp16 exports' softmax_precision). */
  upcast: boolean;
}

const NEG_LARGE = -1e4;
const isNegLarge = (v: Value | null) => {
  const s = scalarOf(v);
  return s !== undefined && s <= NEG_LARGE;
};
const isZero = (v: Value | null) => scalarOf(v) === 0;

/**
 * Analyses the input of a Softmax: peels masks, constant scalings and casts down to MatMul(q, kᵀ), then
 * recognises kᵀ. Pure function of the graph (rules keep no state): `check` and `rewrite` both call it.
 */
export function analyzeScores(scores: Value): ScoreChain | Failure {
  let cur = scores;
  let scale = 1;
  let defaultScale = false;
  /** The value whose last dim the default scale is computed from (TorchScript: Shape(q)[-1]). */
  let defaultFrom: Value | undefined;
  let mask: MaskForm | undefined;
  let upcast = false;
  for (let depth = 0; depth < 12; depth++) {
    const p = cur.producer;
    if (!p) return failure(`the attention scores '${cur.name}' are not computed by a node`, cur);
    if (p.domain !== '') return failure(`the scores come from ${p.describe()}, outside the ONNX domain`, p);
    switch (p.op) {
      case 'MatMul': {
        const q = peelScalarMul(p.inputs[0] as Value);
        const kt = peelScalarMul(p.inputs[1] as Value);
        const k = untranspose(kt.value);
        if (k instanceof Failure) return k;
        if (defaultFrom && defaultFrom !== q.value && defaultFrom !== p.inputs[0] && defaultFrom !== k && !sameLastDim(defaultFrom, q.value)) {
          return failure(`the scores are divided by the square root of the last dim of '${defaultFrom.name}', which is neither the query nor the key`, defaultFrom);
        }
        const total = scale * q.factor * kt.factor;
        return { q: q.value, k, scale: defaultScale ? (total === 1 ? 'default' : total) : total, mask, upcast };
      }
      case 'Cast':
        upcast = true;
        cur = p.inputs[0] as Value;
        continue;
      case 'Mul': {
        const [a, b] = p.inputs as Value[];
        const s = scalarOf(b) ?? scalarOf(a);
        if (s === undefined) return failure(`Mul ${p.describe()} on the scores is not by a constant scalar`, p);
        scale *= s;
        cur = scalarOf(b) !== undefined ? a : b;
        continue;
      }
      case 'Div': {
        const s = scalarOf(p.inputs[1]);
        const from = s === undefined && !defaultScale ? headDimSource(p.inputs[1] as Value) : undefined;
        if (s !== undefined) scale /= s;
        else if (from) {
          defaultScale = true;
          defaultFrom = from;
        } else return failure(`Div ${p.describe()} on the scores is not by a constant or by sqrt(head_dim)`, p);
        cur = p.inputs[0] as Value;
        continue;
      }
      case 'Add': {
        if (mask) return failure(`two masks are added to the scores (second at ${p.describe()})`, p);
        const [a, b] = p.inputs as Value[];
        const aScores = leadsToMatMul(a);
        const bScores = leadsToMatMul(b);
        if (aScores === bScores) return failure(`cannot tell scores from mask in ${p.describe()}`, p);
        const [scoresSide, maskSide] = aScores ? [a, b] : [b, a];
        mask = classifyBias(maskSide);
        cur = scoresSide;
        continue;
      }
      case 'Where': {
        if (mask) return failure(`two masks are applied to the scores (second at ${p.describe()})`, p);
        const [cond, x, y] = p.inputs as Value[];
        if (isNegLarge(y)) {
          mask = { kind: 'bool', value: cond };
          cur = x;
        } else if (isNegLarge(x)) {
          mask = { kind: 'boolNot', value: cond };
          cur = y;
        } else return failure(`Where ${p.describe()} on the scores is not a masked fill with a large negative constant`, p);
        continue;
      }
      default:
        return failure(`the scores come from ${p.describe()}, not MatMul(q, kᵀ) with optional scaling and mask`, p);
    }
  }
  return failure(`the score chain above '${scores.name}' is too long`, scores);
}

function peelScalarMul(v: Value): { value: Value; factor: number } {
  const p = v.producer;
  if (p && p.op === 'Mul' && p.domain === '') {
    const [a, b] = p.inputs as Value[];
    const sb = scalarOf(b);
    if (sb !== undefined) return { value: a, factor: sb };
    const sa = scalarOf(a);
    if (sa !== undefined) return { value: b, factor: sa };
  }
  return { value: v, factor: 1 };
}

function leadsToMatMul(v: Value): boolean {
  let cur: Value | null = v;
  for (let i = 0; i < 8 && cur; i++) {
    const p: Node | null = cur.producer;
    if (!p) return false;
    if (p.op === 'MatMul') return true;
    if (p.op === 'Mul' || p.op === 'Div' || p.op === 'Cast') cur = scalarOf(p.inputs[0]) !== undefined ? p.inputs[1] : p.inputs[0];
    else if (p.op === 'Where') cur = isNegLarge(p.inputs[2]) ? p.inputs[1] : p.inputs[2];
    else return false;
  }
  return false;
}

function classifyBias(v: Value): MaskForm {
  const p = v.producer;
  if (p && p.op === 'Where' && p.domain === '') {
    const [cond, x, y] = p.inputs as Value[];
    if (isZero(x) && isNegLarge(y)) return { kind: 'bool', value: cond };
    if (isNegLarge(x) && isZero(y)) return { kind: 'boolNot', value: cond };
  }
  return { kind: 'bias', value: v };
}

/** kᵀ → k for the exporters' forms: Transpose(perm 0,1,3,2) and dynamo's Reshape→Transpose(0,2,1)→Reshape. */
function untranspose(kt: Value): Value | Failure {
  const t = kt.producer;
  if (!t) return failure(`kᵀ '${kt.name}' is not computed by a node`, kt);
  if (t.op === 'Transpose') {
    const perm = t.attrInts('perm', []);
    if (perm.join() === '0,1,3,2') return t.inputs[0] as Value;
    return failure(`Transpose ${t.describe()} has perm [${perm}], expected [0, 1, 3, 2]`, t);
  }
  if (t.op === 'Reshape') {
    const tr = t.inputs[0]?.producer;
    if (!tr || tr.op !== 'Transpose' || tr.attrInts('perm', []).join() !== '0,2,1') {
      return failure(`Reshape ${t.describe()} is not applied to Transpose(perm=[0, 2, 1])`, t);
    }
    const inner = tr.inputs[0]?.producer;
    if (!inner || inner.op !== 'Reshape') return failure(`Transpose ${tr.describe()} is not applied to a Reshape of k`, tr);
    const k = inner.inputs[0] as Value;
    const dims = dimTerms(k);
    // Targets are compared symbolically, so Slice(Shape(k)) pieces and their constant-folded numbers both pass.
    if (!collapsesLeadingDims(inner.inputs[1] as Value, k) && !(dims && dims.length >= 2 && sameTerms(shapeVector(inner.inputs[1]), [-1, ...dims.slice(-2)]))) {
      return failure(`Reshape ${inner.describe()} is not [-1, T, D] taken from the shape of '${k.name}'`, inner);
    }
    // The outer Reshape must restore k's leading dims: [*lead, D, T].
    const outer = shapeVector(t.inputs[1]);
    if (dims && dims.length >= 2 && outer && !sameTerms(outer, [...dims.slice(0, -2), dims[dims.length - 1], dims[dims.length - 2]])) {
      return failure(`Reshape ${t.describe()} does not restore the leading dims of '${k.name}' as [*lead, D, T]`, t);
    }
    return k;
  }
  return failure(`kᵀ comes from ${t.describe()}, not a transpose of k`, t);
}

/** Is `target` the dynamo exporter's [-1, shape(k)[-2], shape(k)[-1]]? */
function collapsesLeadingDims(target: Value, k: Value): boolean {
  const c = target.producer;
  if (!c || c.op !== 'Concat' || c.inputs.length !== 3) return false;
  const first = constantNumbers(c.inputs[0]);
  if (!first || first.length !== 1 || first[0] !== -1) return false;
  const fromShape = (v: Value | null, start: number): boolean => {
    const s = v?.producer;
    if (!s || s.op !== 'Slice') return false;
    const shape = s.inputs[0]?.producer;
    if (!shape || shape.op !== 'Shape' || shape.inputs[0] !== k || shape.attrInt('start', 0) !== 0 || shape.attr('end')) return false;
    const starts = constantNumbers(s.inputs[1]);
    const ends = constantNumbers(s.inputs[2]);
    if (!starts || starts[0] !== start) return false;
    return start === -2 ? ends?.[0] === -1 : ends === undefined || ends[0] >= 2 ** 31 - 1;
  };
  return fromShape(c.inputs[1], -2) && fromShape(c.inputs[2], -1);
}

/**
 * TorchScript's default scale divisor: Sqrt(Cast(Shape(x)[-1])), possibly through Gather/Slice/Squeeze/Cast.
 * Returns x when the dim taken is provably x's last one (the head size of q or k), else undefined.
 */
function headDimSource(v: Value): Value | undefined {
  const sq = v.producer;
  if (!sq || sq.op !== 'Sqrt' || sq.domain !== '') return undefined;
  let cur: Value | null = sq.inputs[0];
  /** Element of the shape vector a Gather/Slice took, when one did. */
  let index: number | undefined;
  for (let i = 0; i < 6 && cur; i++) {
    const p: Node | null = cur.producer;
    if (!p || p.domain !== '') return undefined;
    if (p.op === 'Cast' || p.op === 'Squeeze') cur = p.inputs[0];
    else if ((p.op === 'Gather' || p.op === 'Slice') && index === undefined) {
      index = shapeElement(p);
      if (index === undefined) return undefined;
      cur = p.inputs[0];
    } else if (p.op === 'Shape') return takesLastAxis(p, index) ? (p.inputs[0] ?? undefined) : undefined;
    else return undefined;
  }
  return undefined;
}

/** Do both values have the same known last dim (static number or symbol)? */
function sameLastDim(a: Value, b: Value): boolean {
  const x = a.shape?.[a.shape.length - 1];
  const y = b.shape?.[b.shape.length - 1];
  return x !== undefined && x !== null && x === y;
}

/** The one element a Gather (axis 0) or Slice takes from a shape vector, or undefined. */
function shapeElement(p: Node): number | undefined {
  if (p.op === 'Gather') {
    if (p.attrInt('axis', 0) !== 0) return undefined;
    const idx = constantNumbers(p.inputs[1]);
    return idx && idx.length === 1 ? idx[0] : undefined;
  }
  const starts = constantNumbers(p.inputs[1]);
  const ends = constantNumbers(p.inputs[2]);
  const axes = p.inputs[3] ? constantNumbers(p.inputs[3]) : [0];
  const steps = p.inputs[4] ? constantNumbers(p.inputs[4]) : [1];
  if (!starts || !ends || starts.length !== 1 || ends.length !== 1 || axes?.length !== 1 || axes[0] !== 0 || steps?.[0] !== 1) return undefined;
  if (starts[0] === -1 && ends[0] >= 2 ** 31 - 1) return -1;
  return ends[0] === starts[0] + 1 ? starts[0] : undefined;
}

/** Does Shape(x, start, end)[index] (the whole output when index is undefined and it has one element) name x's last axis? */
function takesLastAxis(shape: Node, index: number | undefined): boolean {
  const rank = shape.inputs[0]?.shape?.length;
  const start = shape.attrInt('start', 0);
  const end = shape.attr('end') ? shape.attrInt('end') : undefined;
  if (end === undefined && (index === -1 || (index === undefined && start === -1))) return true;
  if (rank === undefined) return false;
  const norm = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const s = norm(start);
  const e = end === undefined ? rank : norm(end);
  const len = e - s;
  if (index === undefined) return len === 1 && s === rank - 1;
  const at = index < 0 ? index + len : index;
  return at >= 0 && at < len && s + at === rank - 1;
}
