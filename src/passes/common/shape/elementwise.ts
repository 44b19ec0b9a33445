import { DataType } from '../../../ir/dtype';
import type { Dim } from '../../../ir/type';
import { addDims, compareDims, divDims, mulDims, scaleDim, staticValue, subDims } from '../symbolic-dim';
import { broadcastShapes, OutputInfo, RuleTable, ShapeRule, ShapeValue } from './rule';

/**
 * Elementwise ops: output shape is the numpy broadcast of the inputs; the element type is the first input's
 * (or BOOL for comparisons/logic/predicates). Integer arithmetic on shape values is tracked symbolically, so
 * `Add(Gather(Shape(x), 1), 1)` is known to be `seq+1`.
 */

/** Combines two shape values elementwise (scalar/[1]/[n] broadcasting); undefined if either is unknown. */
function combineValues(a: ShapeValue | undefined, b: ShapeValue | undefined, f: (x: Dim, y: Dim) => Dim): ShapeValue | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.elems.length, b.elems.length);
  if ((a.elems.length !== n && a.elems.length !== 1) || (b.elems.length !== n && b.elems.length !== 1)) return undefined;
  const dims = a.dims.length >= b.dims.length ? a.dims : b.dims;
  const elems = Array.from({ length: n }, (_, i) => f(a.elems[a.elems.length === 1 ? 0 : i], b.elems[b.elems.length === 1 ? 0 : i]));
  return { dims: dims.length === 0 && n === 1 ? [] : [n], elems };
}

/** Integer division as ONNX Div does it (truncation) when both are numbers; exact symbolic quotient otherwise. */
function divDim(x: Dim, y: Dim): Dim {
  const a = staticValue(x);
  const b = staticValue(y);
  if (a !== undefined && b !== undefined) return b === 0 ? null : Math.trunc(a / b);
  return divDims(x, y);
}

function maxDim(x: Dim, y: Dim, max: boolean): Dim {
  const c = compareDims(x, y);
  if (c === undefined) return null;
  return (c >= 0) === max ? x : y;
}

const VALUE_OPS: Record<string, (x: Dim, y: Dim) => Dim> = {
  Add: addDims,
  Sub: subDims,
  Mul: mulDims,
  Div: divDim,
  Max: (x, y) => maxDim(x, y, true),
  Min: (x, y) => maxDim(x, y, false),
};

const isIntType = (t: DataType | undefined) => t === DataType.INT64 || t === DataType.INT32;

/** Same type, broadcast shape; shape values combined for integer arithmetic. */
function nary(outType?: DataType, typeFrom = 0): ShapeRule {
  return (ctx) => {
    const present: number[] = [];
    for (let i = 0; i < ctx.inputCount; i++) if (ctx.has(i)) present.push(i);
    const shape = broadcastShapes(ctx, present.map((i) => ctx.shape(i)));
    const out: OutputInfo = { dtype: outType ?? ctx.dtype(typeFrom), shape };
    const combine = VALUE_OPS[ctx.node.op];
    if (combine && isIntType(ctx.dtype(0)) && present.length >= 1) {
      let v = ctx.value(present[0]);
      for (const i of present.slice(1)) v = combineValues(v, ctx.value(i), combine);
      out.value = v;
    }
    return [out];
  };
}

/** Same type and shape as input 0. */
export const sameAsInput: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(0), value: ctx.value(0) }];

const unary: ShapeRule = (ctx) => [{ dtype: ctx.dtype(0), shape: ctx.shape(0) }];
const predicate: ShapeRule = (ctx) => [{ dtype: DataType.BOOL, shape: ctx.shape(0) }];

const negRule: ShapeRule = (ctx) => {
  const v = ctx.value(0);
  return [{ dtype: ctx.dtype(0), shape: ctx.shape(0), value: v && isIntType(ctx.dtype(0)) ? { dims: v.dims, elems: v.elems.map((d) => scaleDim(d, -1)) } : undefined }];
};

const whereRule: ShapeRule = (ctx) => [{ dtype: ctx.dtype(1) ?? ctx.dtype(2), shape: broadcastShapes(ctx, [ctx.shape(0), ctx.shape(1), ctx.shape(2)]) }];

/** Cast keeps shape values between integer types (int64 ↔ int32 of small dims is exact). */
const castRule: ShapeRule = (ctx) => {
  const to = ctx.node.attrInt('to') as DataType;
  return [{ dtype: to, shape: ctx.shape(0), value: isIntType(to) && isIntType(ctx.dtype(0)) ? ctx.value(0) : undefined }];
};
const castLikeRule: ShapeRule = (ctx) => {
  const to = ctx.dtype(1);
  return [{ dtype: to, shape: ctx.shape(0), value: isIntType(to) && isIntType(ctx.dtype(0)) ? ctx.value(0) : undefined }];
};

const dropoutRule: ShapeRule = (ctx) => [
  { dtype: ctx.dtype(0), shape: ctx.shape(0) },
  { dtype: DataType.BOOL, shape: ctx.shape(0) },
];

const UNARY_OPS = [
  'Abs', 'Acos', 'Acosh', 'Asin', 'Asinh', 'Atan', 'Atanh', 'BitwiseNot', 'Ceil', 'Celu', 'Clip', 'Cos', 'Cosh', 'Elu',
  'Erf', 'Exp', 'Floor', 'Gelu', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'Log', 'Mish', 'Reciprocal', 'Relu', 'Round',
  'Selu', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Softplus', 'Softsign', 'Sqrt', 'Tan', 'Tanh', 'ThresholdedRelu',
];
const BINARY_OPS = ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu', 'Max', 'Min', 'Sum', 'Mean'];
const BOOL_OPS = ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor'];

export const elementwiseRules: RuleTable = {
  ...Object.fromEntries(UNARY_OPS.map((op) => [op, unary])),
  ...Object.fromEntries(BINARY_OPS.map((op) => [op, nary()])),
  ...Object.fromEntries(BOOL_OPS.map((op) => [op, nary(DataType.BOOL)])),
  Neg: negRule,
  Not: predicate,
  IsNaN: predicate,
  IsInf: predicate,
  Where: whereRule,
  Cast: castRule,
  CastLike: castLikeRule,
  Identity: sameAsInput,
  Dropout: dropoutRule,
};

/**
 * The generic elementwise rule (broadcast of all present inputs, first input's type), for ops a caller
 * knows to be elementwise but that have no rule of their own.
 */
export const genericElementwise: ShapeRule = nary();
