import type { DataType } from '../../../ir/dtype';
import type { Node } from '../../../ir/node';
import type { Tensor } from '../../../ir/tensor';
import type { Dim } from '../../../ir/type';
import { addDims, compareDims, dimsEqual, staticValue } from '../symbolic-dim';

/** What inference knows of a tensor: element type and shape (undefined = unknown rank). */
export interface TensorInfo {
  readonly dtype?: DataType;
  readonly shape?: readonly Dim[];
}

/**
 * A "shape value": a small integer tensor of rank 0 or 1 whose elements are dims (numbers, symbolic
 * expressions, or null when unknown). `Shape(x)` of `x: [1, seq, 64]` is `{dims: [3], elems: [1, 'seq', 64]}`;
 * Gather/Slice/Concat/arithmetic on such values keep them symbolic, so Reshape/Expand/Range targets built
 * from them still give symbolic output shapes.
 */
export interface ShapeValue {
  /** [] for a scalar, [n] for a vector. */
  readonly dims: readonly number[];
  readonly elems: readonly Dim[];
}

/** The outcome for one output; all fields optional (unknown). */
export interface OutputInfo {
  dtype?: DataType;
  shape?: readonly Dim[];
  value?: ShapeValue;
}

/** What a rule sees: the node and what is known about its inputs. */
export interface InferContext {
  readonly node: Node;
  /** ai.onnx opset of the model. */
  readonly opset: number;
  /** Number of input slots (omitted optional ones included). */
  readonly inputCount: number;
  /** Whether input i is present (not omitted). */
  has(i: number): boolean;
  dtype(i: number): DataType | undefined;
  /** Shape of input i (undefined when unknown rank or omitted). */
  shape(i: number): readonly Dim[] | undefined;
  /** The constant tensor of input i, when it is one. */
  constant(i: number): Tensor | undefined;
  /** Shape value of input i (from constants or tracked shape arithmetic). */
  value(i: number): ShapeValue | undefined;
  /** Input i's elements when all are known integers. */
  ints(i: number): number[] | undefined;
  /** Integer list from input i if present, else attribute `attr`; undefined if neither is known. */
  intsFromInputOrAttr(i: number, attr: string): number[] | undefined;
  /** Throws SHAPE_INVALID naming the node. */
  fail(message: string): never;
}

export type ShapeRule = (ctx: InferContext) => (OutputInfo | undefined)[];
export type RuleTable = Readonly<Record<string, ShapeRule>>;

/** Normalises an axis against `rank`, failing when out of range. */
export function axisOf(ctx: InferContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Unifies two dims that must be equal at run time: a number wins over a symbol, a symbol over unknown;
 * two different numbers are an error.
 */
export function unifyDims(ctx: InferContext, a: Dim, b: Dim, what: string): Dim {
  if (a === null) return b;
  if (b === null) return a;
  if (dimsEqual(a, b)) return a;
  const sa = staticValue(a);
  const sb = staticValue(b);
  if (sa !== undefined && sb !== undefined) ctx.fail(`${what}: ${sa} vs ${sb}`);
  if (compareDims(a, b) !== undefined) ctx.fail(`${what}: ${a} vs ${b} can never be equal`);
  return sa !== undefined ? sa : sb !== undefined ? sb : a;
}

/**
 * One output dim of numpy broadcasting. 1 yields to the other side; a static dim other than 1 wins (the
 * other side must be 1 or equal); equal expressions stay; anything else is unknown (a symbol may be 1).
 */
export function broadcastDim(ctx: InferContext, a: Dim, b: Dim): Dim {
  const sa = staticValue(a);
  const sb = staticValue(b);
  if (sa === 1) return b;
  if (sb === 1) return a;
  if (sa !== undefined && sb !== undefined) {
    if (sa !== sb) ctx.fail(`dimensions ${sa} and ${sb} do not broadcast`);
    return sa;
  }
  if (sa !== undefined) return sa;
  if (sb !== undefined) return sb;
  if (a !== null && b !== null && dimsEqual(a, b)) return a;
  return null;
}

/** Numpy broadcast of several shapes; undefined when any rank is unknown. */
export function broadcastShapes(ctx: InferContext, shapes: readonly (readonly Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const known = shapes as readonly (readonly Dim[])[];
  const rank = Math.max(0, ...known.map((s) => s.length));
  const out: Dim[] = new Array<Dim>(rank).fill(1);
  for (const s of known) {
    for (let i = 0; i < s.length; i++) {
      const at = rank - s.length + i;
      out[at] = broadcastDim(ctx, out[at], s[i]);
    }
  }
  return out;
}

/** Sum of dims (Concat). */
export function sumDims(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => addDims(acc, d), 0);
}

/** A shape value from known integer elements. */
export function valueOf(dims: readonly number[], elems: readonly Dim[]): ShapeValue {
  return { dims: [...dims], elems: [...elems] };
}
