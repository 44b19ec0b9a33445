import { Attribute } from '../../../ir/attribute';
import type { Builder } from '../../../ir/builder';
import { dataTypeName } from '../../../ir/dtype';
import type { Model } from '../../../ir/model';
import type { Node } from '../../../ir/node';
import type { Value } from '../../../ir/value';
import { PassError } from '../../pass';
import { attr } from '../../pattern/attr';
import { oneOf, patternOps, v } from '../../pattern/builder';
import { constantNumbers } from '../../pattern/constant';
import { defineRule, Failure, failure, Rule } from '../../pattern/rule';
import { intAttr, rankOf, staticDims } from '../util';
import { RunMemo } from '../../pattern/run-memo';
import { computationKey, positionsOf, proveTables, TableColumns, TableLayout, TableProof, tabulateAll } from './position-table';

const op = patternOps();

/** Positions RoPE caches cover when the pass is given no max_seq_len (documented in docs/fusions.md). */
export const DEFAULT_ROTARY_MAX_POSITIONS = 4096;

/** Initializer metadata: the computation a cache tabulates (so layers share one cache). */
const CACHE_KEY = 'onnx_lower.rotary_cache';

// ---- shared pieces -----------------------------------------------------------------------------------
interface SliceSpec {
  axis: number;
  start: number;
  end: number;
  step: number;
}

/** A one-axis Slice with constant parameters; the axis as a negative index. */
function sliceSpec(node: Node, rank: number): SliceSpec | Failure {
  const [, s, e, a, st] = node.inputs;
  const starts = constantNumbers(s);
  const ends = constantNumbers(e);
  const axes = a ? constantNumbers(a) : [0];
  const steps = st ? constantNumbers(st) : [1];
  if (!starts || !ends || !axes || !steps) return failure(`Slice ${node.describe()} has non-constant parameters`, node);
  if (starts.length !== 1 || ends.length !== 1 || axes.length !== 1 || steps.length !== 1) return failure(`Slice ${node.describe()} slices several axes`, node);
  const axis = axes[0] < 0 ? axes[0] : axes[0] - rank;
  return { axis, start: starts[0], end: ends[0], step: steps[0] };
}

/** Whether a Concat/Unsqueeze axis is the last one of a tensor of `rank` (-1 or rank-1). */
function isLastAxis(axis: number, rank: number): boolean {
  return axis === -1 || axis === rank - 1;
}

function unsqueezeAxes(node: Node): number[] | undefined {
  const input = node.inputs[1];
  if (input) return constantNumbers(input);
  return node.attr('axes') ? node.attrInts('axes') : undefined;
}

/** Ends at or beyond `width` (exporters write INT64_MAX for `x[..., h:]`). */
function reachesEnd(end: number, width: number): boolean {
  return end >= width;
}

/**
 * The shared cos and sin half-width caches for a pair of operands: each reused when another rewrite already made
 * it (one table per computation, whatever layer reads it); the missing ones tabulated together (one evaluation of
 * what cos and sin share).
 */
function cachesFor(b: Builder, memo: RunMemo, model: Model, cos: Value, sin: Value, layout: TableLayout, columns: TableColumns, count: number): [Value, Value] {
  const root = b.graph.root;
  const operands = [cos, sin];
  const labels = ['cos', 'sin'];
  // Memoised per run: equal keys mean equal values, and rewrites keep an operand's values, so a key computed
  // before another rewrite still names what the operand computes.
  const keys = operands.map((o) => `${memo.get(['rotary.key', o], () => computationKey(o))}|${layout}|${columns}|${count}`);
  const found: (Value | undefined)[] = keys.map(() => undefined);
  for (const init of root.initializers.values()) {
    const k = init.metadata.get(CACHE_KEY);
    keys.forEach((key, i) => {
      if (k === key && !found[i]) found[i] = init;
    });
  }
  const missing = operands.map((_, i) => i).filter((i) => !found[i]);
  if (missing.length) {
    const tables = tabulateAll(model, missing.map((i) => operands[i]), layout, columns, count);
    // The check proved the operands tabulable; failing now (e.g. the element budget) is an error, not a miss.
    if (tables instanceof Failure) {
      const names = missing.map((i) => `'${operands[i].name}'`).join(', ');
      throw new PassError('ROTARY_TABLE', `rotary: cannot tabulate ${names}: ${tables.reason}`, operands[missing[0]].name);
    }
    missing.forEach((i, j) => {
      // Operands of one computation share one table (the first made).
      const same = found.findIndex((f, m) => f !== undefined && keys[m] === keys[i]);
      if (same >= 0) {
        found[i] = found[same];
        return;
      }
      const value = root.addInitializer(root.names.fresh(`rotary_${labels[i]}_cache`), tables[j]);
      value.metadata.set(CACHE_KEY, keys[i]);
      found[i] = value;
    });
  }
  return [found[0] as Value, found[1] as Value];
}

/** proveTables once per (operands, layout, columns, positions) and run: every layer's q and k read one cos/sin. */
function provedTables(memo: RunMemo, model: Model, cos: Value, sin: Value, layout: TableLayout, columns: TableColumns, maxPositions: number): TableProof | Failure {
  return memo.get(['rotary.tables', layout, columns, maxPositions, cos, sin], () => proveTables(model, [cos, sin], layout, columns, maxPositions));
}

// ---- rotary: the decomposed forms ------------------------------------------------------------------------
const x = v('x');
const lo = op.node('Slice', [x], {}, { as: 'lo', allowOtherInputs: true });
const hi = op.node('Slice', [x], {}, { as: 'hi', allowOtherInputs: true });
/** rotate_half(x) = cat(-x[..., h:], x[..., :h]). */
const rotateHalf = op.node('Concat', [oneOf(op.Neg(hi), op.Mul(hi, -1)), lo], { axis: attr.capture('catAxis') }, { as: 'cat' });
const even = op.node('Slice', [x], {}, { as: 'even', allowOtherInputs: true });
const odd = op.node('Slice', [x], {}, { as: 'odd', allowOtherInputs: true });
const negOdd = op.node('Unsqueeze', [oneOf(op.Neg(odd), op.Mul(odd, -1))], {}, { as: 'unsqOdd', allowOtherInputs: true });
const negOddAfter = oneOf(op.Neg(op.node('Unsqueeze', [odd], {}, { as: 'unsqOdd', allowOtherInputs: true })), negOdd);
/** rotate_every_two(x) = stack(-x[..., 1::2], x[..., ::2], -1).flatten(-2) (GPT-J / interleaved). */
const rotateEveryTwo = op.Reshape(
  op.node('Concat', [negOddAfter, op.node('Unsqueeze', [even], {}, { as: 'unsqEven', allowOtherInputs: true })], { axis: attr.capture('stackAxis') }, { as: 'stack' }),
  v('flatShape'),
);

interface RotaryPlan {
  x: Value;
  cos: Value;
  sin: Value;
  positions: Value;
  interleaved: boolean;
}

type RotaryBindings = {
  x: Value; cos: Value; sin: Value;
  lo?: Node; hi?: Node; catAxis?: Attribute;
  even?: Node; odd?: Node; unsqOdd?: Node; unsqEven?: Node; stackAxis?: Attribute; flatShape?: Value;
};

/** Width W of the rotation the slices describe, or a Failure. */
function rotateHalfWidth(bd: RotaryBindings, rank: number): number | Failure {
  const loS = sliceSpec(bd.lo as Node, rank);
  if (loS instanceof Failure) return loS;
  const hiS = sliceSpec(bd.hi as Node, rank);
  if (hiS instanceof Failure) return hiS;
  if (loS.axis !== -1 || hiS.axis !== -1) return failure('rotate-half slices are not on the last axis', bd.lo);
  const h = loS.end;
  if (loS.start !== 0 || loS.step !== 1 || h <= 0) return failure(`first half is not x[..., 0:h] (start ${loS.start}, end ${loS.end}, step ${loS.step})`, bd.lo);
  if (hiS.start !== h || hiS.step !== 1 || !reachesEnd(hiS.end, 2 * h)) return failure(`second half is not x[..., ${h}:] (start ${hiS.start}, end ${hiS.end}, step ${hiS.step})`, bd.hi);
  if (!isLastAxis(Number((bd.catAxis as Attribute).value), rank)) return failure('rotate-half Concat is not on the last axis', bd.lo);
  return 2 * h;
}

function interleavedWidth(bd: RotaryBindings, rank: number, headSize: number | undefined): number | Failure {
  const e = sliceSpec(bd.even as Node, rank);
  if (e instanceof Failure) return e;
  const o = sliceSpec(bd.odd as Node, rank);
  if (o instanceof Failure) return o;
  if (e.axis !== -1 || o.axis !== -1 || e.step !== 2 || o.step !== 2 || e.start !== 0 || o.start !== 1) {
    return failure('interleaved slices are not x[..., ::2] and x[..., 1::2]', bd.even);
  }
  for (const u of [bd.unsqOdd as Node, bd.unsqEven as Node]) {
    const axes = unsqueezeAxes(u);
    if (!axes || axes.length !== 1 || !(axes[0] === -1 || axes[0] === rank)) return failure(`${u.describe()} does not add a last axis`, u);
  }
  if (!isLastAxis(Number((bd.stackAxis as Attribute).value), rank + 1)) return failure('interleaved stack is not on a new last axis', bd.even);
  if (headSize === undefined) return failure(`the head size of '${bd.x.name}' is unknown`, bd.x);
  if (!reachesEnd(e.end, headSize) || !reachesEnd(o.end, headSize)) return failure('interleaved slices do not cover the head', bd.even);
  // flatten(-2) back to x's shape: a constant target with x's rank that keeps the leading dims.
  const shape = constantNumbers(bd.flatShape);
  const xs = bd.x.shape as readonly (number | string | null)[];
  const okConst = shape !== undefined && shape.length === rank && (shape[rank - 1] === headSize || shape[rank - 1] === -1)
    && shape.slice(0, -1).every((d, i) => d === 0 || (d === -1 && shape[rank - 1] !== -1) || d === xs[i])
    && shape.filter((d) => d === -1).length <= 1;
  if (!okConst) return failure(`the Reshape after the interleaved stack is not flatten(-2) back to x's shape`, bd.flatShape);
  return headSize;
}

/**
 * The rewrite plan. `prove` evaluates the cos/sin tables (the check does); the rewrite, which runs only after a
 * passing check on the same match, skips that and takes the positions input from the same walk.
 */
function rotaryPlan(model: Model | undefined, bd: RotaryBindings, maxPositions: number, memo: RunMemo, prove = true): RotaryPlan | Failure {
  if (!model) return failure('rotary fusion needs the model (to tabulate cos/sin)');
  const rank = rankOf(bd.x);
  if (rank !== 4) return failure(`'${bd.x.name}' is not 4D [batch, heads, seq, head_size] (rank ${rank ?? 'unknown'})`, bd.x);
  const last = bd.x.shape?.[3];
  const headSize = typeof last === 'number' ? last : undefined;
  const interleaved = bd.even !== undefined;
  const width = interleaved ? interleavedWidth(bd, rank, headSize) : rotateHalfWidth(bd, rank);
  if (width instanceof Failure) return width;
  if (headSize !== undefined && headSize !== width) return failure(`the rotation covers ${width} of head size ${headSize} (partial rotation must slice x first)`, bd.x);
  if (!prove) {
    const positions = positionsOf(model, bd.cos);
    return positions instanceof Failure ? positions : { x: bd.x, cos: bd.cos, sin: bd.sin, positions, interleaved };
  }
  const proof = provedTables(memo, model, bd.cos, bd.sin, 'heads', interleaved ? 'pairs' : 'halves', maxPositions);
  if (proof instanceof Failure) return proof;
  if (proof.width !== width) return failure(`cos/sin have width ${proof.width}, the rotation ${width}`, bd.cos);
  if (bd.x.dtype !== undefined && proof.dtype !== bd.x.dtype) return failure(`cos/sin are ${dataTypeName(proof.dtype)}, '${bd.x.name}' is ${dataTypeName(bd.x.dtype)}`, bd.cos);
  return { x: bd.x, cos: bd.cos, sin: bd.sin, positions: proof.positions, interleaved };
}

/** x·cos + rotate(x)·sin (rotate-half or interleaved), cos/sin a function of position_ids → RotaryEmbedding. */
function makeRotaryRule(maxPositions: number): Rule<object> {
  return defineRule({
    name: 'rotary',
    description: 'x·cos + rotate_half(x)·sin (or the interleaved rotate_every_two), cos/sin from position_ids → RotaryEmbedding with cos/sin caches',
    pattern: op.Add(op.Mul(x, v('cos')), op.Mul(oneOf(rotateHalf, rotateEveryTwo), v('sin'))),
    check(bindings, ctx) {
      const p = rotaryPlan(ctx.model, bindings, maxPositions, ctx.memo);
      return p instanceof Failure ? p : true;
    },
    rewrite(b, bindings, ctx) {
      const p = rotaryPlan(ctx.model, bindings, maxPositions, ctx.memo, false) as RotaryPlan;
      const model = ctx.model as Model;
      const columns: TableColumns = p.interleaved ? 'pairs' : 'halves';
      const [cos, sin] = cachesFor(b, ctx.memo, model, p.cos, p.sin, 'heads', columns, maxPositions);
      const y = b.op('RotaryEmbedding', [p.x, cos, sin, p.positions], { interleaved: Attribute.int('interleaved', p.interleaved ? 1 : 0) });
      y.type = ctx.outputs[0].type ?? p.x.type;
      return y;
    },
  });
}

// ---- rotary_partial: RoPE on the first rotary_dim channels, the rest passed through ---------------------
const px = v('x');
const rotSlice = op.node('Slice', [px], {}, { as: 'rotSlice', allowOtherInputs: true });
const passSlice = op.node('Slice', [px], {}, { as: 'passSlice', allowOtherInputs: true });
const innerRope = op.node('RotaryEmbedding', [rotSlice, v('cos'), v('sin'), v('positions')], {}, { as: 'rope' });
const partialPattern = op.node('Concat', [innerRope, passSlice], { axis: attr.capture('catAxis') });

function partialDim(bd: { x: Value; cos: Value; rope: Node; rotSlice: Node; passSlice: Node; catAxis: Attribute }): number | Failure {
  const rank = rankOf(bd.x);
  if (rank !== 4) return failure(`'${bd.x.name}' is not 4D (rank ${rank ?? 'unknown'})`, bd.x);
  if (!isLastAxis(Number(bd.catAxis.value), rank)) return failure('the Concat is not on the last axis', bd.rope);
  if (intAttr(bd.rope, 'rotary_embedding_dim', 0) !== 0) return failure(`${bd.rope.describe()} is already partial`, bd.rope);
  const r = sliceSpec(bd.rotSlice, rank);
  if (r instanceof Failure) return r;
  const p = sliceSpec(bd.passSlice, rank);
  if (p instanceof Failure) return p;
  const dim = r.end;
  if (r.axis !== -1 || r.start !== 0 || r.step !== 1 || dim <= 0) return failure('the rotated part is not x[..., :rotary_dim]', bd.rotSlice);
  if (p.axis !== -1 || p.start !== dim || p.step !== 1) return failure(`the passed-through part is not x[..., ${dim}:]`, bd.passSlice);
  const last = bd.x.shape?.[3];
  if (typeof last === 'number' ? !reachesEnd(p.end, last) : p.end < 2 ** 31) return failure('the passed-through part does not reach the end of the head', bd.passSlice);
  const cacheDims = staticDims(bd.cos);
  if (!cacheDims || cacheDims.length !== 2 || cacheDims[1] * 2 !== dim) return failure(`cos cache '${bd.cos.name}' is not [positions, ${dim / 2}]`, bd.cos);
  return dim;
}

const rotaryPartialRule: Rule<object> = defineRule({
  name: 'rotary_partial',
  description: 'Concat(RotaryEmbedding(x[..., :d]), x[..., d:]) → RotaryEmbedding(x, rotary_embedding_dim=d) (GPT-NeoX/Phi partial rotation)',
  pattern: partialPattern,
  check(bindings) {
    const d = partialDim(bindings);
    return d instanceof Failure ? d : true;
  },
  rewrite(b, bindings, ctx) {
    const dim = partialDim(bindings) as number;
    const attrs: Record<string, Attribute> = {};
    for (const a of bindings.rope.attributes.values()) attrs[a.name] = a;
    attrs.rotary_embedding_dim = Attribute.int('rotary_embedding_dim', dim);
    const y = b.op('RotaryEmbedding', [bindings.x, bindings.cos, bindings.sin, bindings.positions], attrs);
    y.type = ctx.outputs[0].type ?? bindings.x.type;
    return y;
  },
});

// ---- rotary_cache: RotaryEmbedding without position_ids (the dynamo ≥ 23 export) ----------------------
const cacheInputPattern = op.node('RotaryEmbedding', [v('x'), v('cos'), v('sin')], {}, { as: 'rope' });

function cachePlan(model: Model | undefined, bd: { x: Value; cos: Value; sin: Value; rope: Node }, maxPositions: number, memo: RunMemo, prove = true): Value | Failure {
  if (!model) return failure('needs the model');
  if (!prove) return positionsOf(model, bd.cos);
  const proof = provedTables(memo, model, bd.cos, bd.sin, 'rows', 'all', maxPositions);
  if (proof instanceof Failure) return proof;
  const rd = intAttr(bd.rope, 'rotary_embedding_dim', 0);
  const last = bd.x.shape?.[bd.x.shape.length - 1];
  const heads = intAttr(bd.rope, 'num_heads', 0);
  const head = rankOf(bd.x) === 3 ? (typeof last === 'number' && heads > 0 ? last / heads : undefined) : (typeof last === 'number' ? last : undefined);
  const want = rd > 0 ? rd / 2 : head !== undefined ? head / 2 : undefined;
  if (want !== undefined && proof.width !== want) return failure(`cos/sin rows have width ${proof.width}, the rotation needs ${want}`, bd.cos);
  return proof.positions;
}

/**
 * `RotaryEmbedding(x, cos[b, s, :], sin[b, s, :])` with cos/sin computed per token from position_ids →
 * the same op with [max_positions, d/2] caches and `position_ids` (one table for all layers, no Cos/Sin per layer).
 */
function makeRotaryCacheRule(maxPositions: number): Rule<object> {
  return defineRule({
    name: 'rotary_cache',
    description: 'RotaryEmbedding(x, cos, sin) with per-token cos/sin from position_ids → RotaryEmbedding(x, cos_cache, sin_cache, position_ids)',
    pattern: cacheInputPattern,
    check(bindings, ctx) {
      const p = cachePlan(ctx.model, bindings, maxPositions, ctx.memo);
      return p instanceof Failure ? p : true;
    },
    rewrite(b, bindings, ctx) {
      const positions = cachePlan(ctx.model, bindings, maxPositions, ctx.memo, false) as Value;
      const model = ctx.model as Model;
      const [cos, sin] = cachesFor(b, ctx.memo, model, bindings.cos, bindings.sin, 'rows', 'all', maxPositions);
      const attrs: Record<string, Attribute> = {};
      for (const a of bindings.rope.attributes.values()) attrs[a.name] = a;
      const y = b.op('RotaryEmbedding', [bindings.x, cos, sin, positions], attrs);
      y.type = ctx.outputs[0].type ?? bindings.x.type;
      return y;
    },
  });
}

/** The rotary rules, tabulating caches for positions 0..maxPositions-1. */
export function rotaryRules(maxPositions: number = DEFAULT_ROTARY_MAX_POSITIONS): readonly Rule<object>[] {
  return [makeRotaryRule(maxPositions), rotaryPartialRule, makeRotaryCacheRule(maxPositions)];
}
