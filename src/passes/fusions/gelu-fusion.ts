import { RuleSetPass } from '../rule-set-pass';
import { Attribute } from '../../ir/attribute';
import { dataTypeName } from '../../ir/dtype';
import type { Value } from '../../ir/value';
import { oneOf, patternOps, v, ValuePattern } from '../pattern/builder';
import { defineRule, failure, Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { FLOAT_TYPES } from './util';

const op = patternOps();
const x = v('x');

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const SQRT_2 = Math.SQRT2;
const SQRT_1_2 = Math.SQRT1_2;
const GELU_CUBIC = 0.044715;

/** 0.5·x·phi in the orders exporters write: (0.5x)·phi, (x·phi)·0.5, x·(0.5·phi) (commutativity covers the rest). */
function halfTimesX(phi: ValuePattern<object>): ValuePattern<object> {
  return oneOf(op.Mul(op.Mul(x, 0.5), phi), op.Mul(op.Mul(x, phi), 0.5), op.Mul(x, op.Mul(phi, 0.5)), op.Mul(op.Div(x, 2), phi));
}

// tanh form: 1 + tanh(√(2/π)·(x + 0.044715·x³)), or gelu_fast's x·√(2/π)·(1 + 0.044715·x·x).
const cube = oneOf(op.Pow(x, 3), op.Mul(x, op.Mul(x, x)));
const xSquaredCubic = oneOf(op.Mul(op.Mul(x, x), GELU_CUBIC), op.Mul(op.Mul(x, GELU_CUBIC), x));
const tanhArgument = oneOf(
  op.Mul(op.Add(x, op.Mul(cube, GELU_CUBIC)), SQRT_2_OVER_PI),
  op.Mul(op.Mul(x, SQRT_2_OVER_PI), op.Add(xSquaredCubic, 1)),
);
const tanhPattern = halfTimesX(op.Add(op.Tanh(tanhArgument), 1));

// erf form: 1 + erf(x/√2) (or x·(1/√2)).
const erfPattern = halfTimesX(op.Add(op.Erf(oneOf(op.Div(x, SQRT_2), op.Mul(x, SQRT_1_2))), 1));

function checkInput(xValue: Value) {
  if (xValue.dtype !== undefined && !FLOAT_TYPES.has(xValue.dtype)) return failure(`'${xValue.name}' is ${dataTypeName(xValue.dtype)}, not a float type`, xValue);
  return true as const;
}

function gelu(approximate: 'tanh' | 'none', name: string, description: string, pattern: ValuePattern<{ x: Value }>): Rule<object> {
  return defineRule({
    name,
    description,
    pattern,
    check: (bindings) => checkInput(bindings.x),
    rewrite(b, bindings, ctx) {
      const y = b.op('Gelu', [bindings.x], { approximate: Attribute.string('approximate', approximate) });
      y.type = ctx.outputs[0].type ?? bindings.x.type;
      return y;
    },
  });
}

export const geluTanhRule = gelu('tanh', 'gelu_tanh', '0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) → Gelu(approximate="tanh")', tanhPattern as ValuePattern<{ x: Value }>);
export const geluErfRule = gelu('none', 'gelu_erf', '0.5·x·(1 + erf(x/√2)) → Gelu', erfPattern as ValuePattern<{ x: Value }>);
export const geluRules: readonly Rule<object>[] = [geluTanhRule, geluErfRule];

/** Decomposed GELU (tanh approximation and exact erf) → ONNX `Gelu` (opset 20, `approximate`). */
@loweringPass({
  name: 'gelu_fusion',
  description: 'decomposed GELU (tanh and erf forms) → Gelu-20 with approximate="tanh"|"none"',
  after: ['sdpa_canonicalize'],
})
export class GeluFusion extends RuleSetPass {
  readonly rules: readonly Rule<object>[] = geluRules;
  protected override readonly minOpset = 20;
  protected override readonly removeDead = true;
}
