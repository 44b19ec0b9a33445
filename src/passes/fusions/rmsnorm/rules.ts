import { Attribute } from '../../../ir/attribute';
import type { Builder } from '../../../ir/builder';
import { DataType, dataTypeName } from '../../../ir/dtype';
import type { Graph } from '../../../ir/graph';
import type { Node } from '../../../ir/node';
import { RawTensor } from '../../../ir/tensor';
import type { Value } from '../../../ir/value';
import { PassError } from '../../pass';
import { attr } from '../../pattern/attr';
import { oneOf, optional, patternOps, scalar, v } from '../../pattern/builder';
import { constantNumbers, scalarOf } from '../../pattern/constant';
import { matchRule } from '../../pattern/rule';
import { defineRule, Failure, failure, Rule } from '../../pattern/rule';
import { FLOAT_TYPES, intAttr, producedBy, rankOf, staticDims } from '../util';

const op = patternOps();

// x · 1/sqrt(mean(x², axes) + ε), in the forms exporters write: Pow or Mul for the square, Reciprocal(Sqrt),
// Div by the Sqrt, or 1/Sqrt as a Div. The epsilon must be added inside the square root.
const x = v('x');
const square = oneOf(op.Pow(x, 2), op.Mul(x, x));
const mean = op.node('ReduceMean', [square], { keepdims: attr.eq(1, { default: 1 }) }, { as: 'reduce', allowOtherInputs: true });
const rms = op.Sqrt(op.Add(mean, v('eps', scalar())));
const normalized = oneOf(op.Mul(x, op.Reciprocal(rms)), op.Div(x, rms), op.Mul(x, op.Div(1, rms)));

/** What the rewrite needs, computed the same way by check and rewrite (rules keep no state). */
interface Plan {
  /** The input of the fused node (the un-upcast input when the pattern casts to fp32 and back). */
  input: Value;
  axis: number;
  epsilon: number;
  /** The scale: a graph value, or dims of a constant to make (a ones vector, or the weight reshaped). */
  scale: Value | { ones: readonly number[]; dtype: DataType } | { reshape: Value; dims: readonly number[] };
}

/** Axes of a ReduceMean (input since opset 18, attribute before), or a Failure. */
function reduceAxes(reduce: Node): number[] | Failure {
  const input = reduce.inputs[1];
  if (input) {
    const nums = constantNumbers(input);
    if (!nums) return failure(`ReduceMean axes '${input.name}' are not a constant`, input);
    if (nums.length) return nums;
  } else if (reduce.attr('axes')) {
    const a = reduce.attrInts('axes');
    if (a.length) return a;
  }
  return failure(`ReduceMean ${reduce.describe()} reduces every axis (no axes given)`, reduce);
}

/** The normalised axes as the first normalised axis (negative), when they are a suffix of x's axes. */
function normalizedAxis(reduce: Node, xValue: Value): number | Failure {
  const axes = reduceAxes(reduce);
  if (axes instanceof Failure) return axes;
  const rank = rankOf(xValue) ?? rankOf(reduce.outputs[0]);
  if (axes.some((a) => a >= 0) && rank === undefined) return failure(`ReduceMean axes [${axes}] are not negative and the rank of '${xValue.name}' is unknown`, xValue);
  const neg = axes.map((a) => (a < 0 ? a : a - (rank as number))).sort((a, b) => a - b);
  const k = neg.length;
  const suffix = neg.every((a, i) => a === i - k);
  if (!suffix || (rank !== undefined && k > rank)) {
    return failure(`ReduceMean over axes [${axes}] is not over the trailing axes of '${xValue.name}' (RMSNormalization normalises axis..rank-1)`, reduce);
  }
  return -k;
}

function commonPlan(b: { x: Value; eps: Value; reduce: Node }): { axis: number; epsilon: number; normDims: number[] } | Failure {
  const epsilon = scalarOf(b.eps);
  if (epsilon === undefined || !Number.isFinite(epsilon) || epsilon < 0) return failure(`epsilon '${b.eps.name}' is not a finite non-negative scalar`, b.eps);
  if (b.x.dtype !== undefined && !FLOAT_TYPES.has(b.x.dtype)) return failure(`input '${b.x.name}' is ${dataTypeName(b.x.dtype)}, not a float type`, b.x);
  const axis = normalizedAxis(b.reduce, b.x);
  if (typeof axis !== 'number') return axis;
  const dims = b.x.shape;
  const normDims = dims?.slice(dims.length + axis);
  if (!normDims || normDims.length !== -axis || normDims.some((d) => typeof d !== 'number')) {
    return failure(`the normalised dims of '${b.x.name}' are not known numbers (shape ${dims ? `[${dims.join(', ')}]` : 'unknown'})`, b.x);
  }
  return { axis, epsilon, normDims: normDims as number[] };
}

/** The value whose Cast to float32 `value` is, when it is an exact upcast from `dtype`. */
function upcastSource(value: Value, dtype: DataType): Value | undefined {
  const cast = producedBy(value, 'Cast');
  const src = cast?.inputs[0];
  if (!cast || !src || src.dtype !== dtype) return undefined;
  return intAttr(cast, 'to', 0) === DataType.FLOAT ? src : undefined;
}

function scaledPlan(b: { x: Value; eps: Value; reduce: Node; weight: Value; castTo?: Attribute }): Plan | Failure {
  const common = commonPlan(b);
  if (common instanceof Failure) return common;
  let input = b.x;
  const weightType = b.weight.dtype;
  if (b.castTo) {
    // HF: weight * hidden.to(input_dtype), hidden computed in fp32 from hidden_in.to(fp32).
    const to = Number(b.castTo.value);
    const src = upcastSource(b.x, to);
    if (!src) return failure(`the normalised value is cast to ${dataTypeName(to)}, but '${b.x.name}' is not an fp32 upcast of a ${dataTypeName(to)} value`, b.x);
    if (weightType !== undefined && weightType !== to) return failure(`weight '${b.weight.name}' is ${dataTypeName(weightType)}, the norm is cast to ${dataTypeName(to)}`, b.weight);
    input = src;
  } else if (weightType !== undefined && b.x.dtype !== undefined && weightType !== b.x.dtype) {
    return failure(`weight '${b.weight.name}' is ${dataTypeName(weightType)}, input '${b.x.name}' is ${dataTypeName(b.x.dtype)}`, b.weight);
  }
  const wDims = staticDims(b.weight);
  if (!wDims) return failure(`the shape of weight '${b.weight.name}' is not known`, b.weight);
  let lead = 0;
  while (lead < wDims.length && wDims[lead] === 1 && wDims.length - lead > common.normDims.length) lead++;
  const core = wDims.slice(lead);
  if (core.length !== common.normDims.length || core.some((d, i) => d !== common.normDims[i])) {
    return failure(`weight '${b.weight.name}' [${wDims.join(', ')}] is not the normalised shape [${common.normDims.join(', ')}]`, b.weight);
  }
  if (lead === 0) return { input, axis: common.axis, epsilon: common.epsilon, scale: b.weight };
  if (!b.weight.constValue) return failure(`weight '${b.weight.name}' [${wDims.join(', ')}] has leading 1-dims and is not a constant`, b.weight);
  return { input, axis: common.axis, epsilon: common.epsilon, scale: { reshape: b.weight, dims: core } };
}

function unscaledPlan(b: { x: Value; eps: Value; reduce: Node }): Plan | Failure {
  const common = commonPlan(b);
  if (common instanceof Failure) return common;
  const dtype = b.x.dtype;
  if (dtype === undefined) return failure(`the element type of '${b.x.name}' is unknown (needed for a ones scale)`, b.x);
  return { input: b.x, axis: common.axis, epsilon: common.epsilon, scale: { ones: common.normDims, dtype } };
}

const ONES_KEY = 'onnx_lower.rmsnorm_ones';

/** A constant of ones (shared by every unscaled norm of that shape and type). */
function onesScale(graph: Graph, dims: readonly number[], dtype: DataType): Value {
  const key = `${dataTypeName(dtype)}[${dims.join(',')}]`;
  const root = graph.root;
  for (const init of root.initializers.values()) if (init.metadata.get(ONES_KEY) === key) return init;
  const count = dims.reduce((a, d) => a * d, 1);
  const bytes = onesBytes(dtype, count);
  const value = root.addInitializer(root.names.fresh('rmsnorm_ones'), new RawTensor(dtype, dims, bytes));
  value.metadata.set(ONES_KEY, key);
  return value;
}

function onesBytes(dtype: DataType, count: number): Uint8Array {
  switch (dtype) {
    case DataType.FLOAT: return new Uint8Array(new Float32Array(count).fill(1).buffer);
    case DataType.DOUBLE: return new Uint8Array(new Float64Array(count).fill(1).buffer);
    case DataType.FLOAT16: return new Uint8Array(new Uint16Array(count).fill(0x3c00).buffer);
    case DataType.BFLOAT16: return new Uint8Array(new Uint16Array(count).fill(0x3f80).buffer);
    default: throw new PassError('RMSNORM_DTYPE', `rmsnorm: no ones scale for ${dataTypeName(dtype)}`);
  }
}

function buildNorm(b: Builder, p: Plan, out: Value): Value {
  let scale: Value;
  if ('ones' in p.scale) scale = onesScale(b.graph, p.scale.ones, p.scale.dtype);
  else if ('reshape' in p.scale) {
    const t = p.scale.reshape.constValue as RawTensor;
    scale = b.constant(`${p.scale.reshape.name}_squeezed`, new RawTensor(t.dtype, p.scale.dims, t.bytes()));
  } else scale = p.scale;
  const y = b.op('RMSNormalization', [p.input, scale], {
    axis: Attribute.int('axis', p.axis),
    epsilon: Attribute.float('epsilon', p.epsilon),
    stash_type: Attribute.int('stash_type', 1),
  });
  y.type = out.type;
  return y;
}

/** weight · norm(x) (optionally cast back from fp32 before the weight) → RMSNormalization(x, weight). */
export const rmsnormRule: Rule<object> = defineRule({
  name: 'rmsnorm',
  description: 'Mul(weight, x / sqrt(mean(x², axes) + ε)) (Pow/Mul square, Reciprocal/Div, optional Cast back) → RMSNormalization',
  pattern: op.Mul(v('weight'), optional(op.Cast(normalized, { to: attr.capture('castTo') }))),
  check(bindings) {
    const p = scaledPlan(bindings);
    return p instanceof Failure ? p : true;
  },
  rewrite(b, bindings, ctx) {
    return buildNorm(b, scaledPlan(bindings) as Plan, ctx.outputs[0]);
  },
});

/**
 * A norm with no weight (or a weight the scaled rule cannot take) → RMSNormalization with a ones scale.
 * Defers to `rmsnorm` when the consumer is a weight multiplication it fuses.
 */
export const rmsnormUnscaledRule: Rule<object> = defineRule({
  name: 'rmsnorm_unscaled',
  description: 'x / sqrt(mean(x², axes) + ε) without a weight → RMSNormalization(x, ones)',
  pattern: normalized,
  check(bindings, ctx) {
    const out = ctx.outputs[0];
    for (const consumer of [out, ...out.consumers().filter((n) => n.op === 'Cast').map((n) => n.outputs[0])].flatMap((o) => o.consumers())) {
      if (consumer.op === 'Mul' && consumer.domain === '' && matchRule(rmsnormRule, consumer, ctx.model).ok) {
        return failure(`left to rule 'rmsnorm', which fuses it with the weight at ${consumer.describe()}`, consumer);
      }
    }
    const p = unscaledPlan(bindings);
    return p instanceof Failure ? p : true;
  },
  rewrite(b, bindings, ctx) {
    return buildNorm(b, unscaledPlan(bindings) as Plan, ctx.outputs[0]);
  },
});

export const rmsnormRules: readonly Rule<object>[] = [rmsnormRule, rmsnormUnscaledRule];
