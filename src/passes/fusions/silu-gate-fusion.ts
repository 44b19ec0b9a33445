import { RuleSetPass } from '../rule-set-pass';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { patternOps, v } from '../pattern/builder';
import { defineRule, failure, Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { FUSION_GROUP_KEY, FUSION_KEY, producedBy } from './util';

const op = patternOps();

/** Root-node metadata of a gated MLP: the gate and up values, and the input both projections share. */
export const SILU_GATE_KEYS = { gate: 'onnx_lower.silu_gate.gate', up: 'onnx_lower.silu_gate.up', sharedInput: 'onnx_lower.silu_gate.shared_input' } as const;

const gate = v('gate');
const swish = op.node('Mul', [gate, op.node('Sigmoid', [gate], {}, { as: 'sigmoid' })], {}, { as: 'swish' });
const pattern = op.node('Mul', [swish, v('up')], {}, { as: 'gated' });

/** The input both projections read, when gate = MatMul(h, Wg) and up = MatMul(h, Wu). */
function sharedInput(g: Value, u: Value): Value | undefined {
  const a = producedBy(g, 'MatMul');
  const b = producedBy(u, 'MatMul');
  return a && b && a.inputs[0] && a.inputs[0] === b.inputs[0] ? a.inputs[0] : undefined;
}

/**
 * SwiGLU gate `(g · Sigmoid(g)) · up` (Llama, Qwen, Mistral MLPs): recorded, not rewritten. ONNX has no gated
 * op, and `Swish` needs opset 24, which would force every model to 24; TensorRT fuses the pointwise pair
 * itself. The three nodes get `onnx_lower.fusion = silu_gate` and a group (the root's name) so a runtime can
 * emit one kernel, and the root names the gate, the up value and the input both projections share.
 */
export const siluGateRule: Rule<object> = defineRule({
  name: 'silu_gate',
  description: '(g · Sigmoid(g)) · up → same ops, tagged as one silu_gate group',
  pattern,
  check(bindings) {
    if (bindings.gated.metadata.get(FUSION_KEY) === 'silu_gate') return failure('already recorded', bindings.gated);
    return true;
  },
  rewrite(_b, bindings, ctx) {
    const group = bindings.gated.name;
    for (const n of [bindings.sigmoid, bindings.swish, bindings.gated] as Node[]) {
      n.metadata.set(FUSION_KEY, 'silu_gate');
      n.metadata.set(FUSION_GROUP_KEY, group);
    }
    bindings.gated.metadata.set(SILU_GATE_KEYS.gate, bindings.gate.name);
    bindings.gated.metadata.set(SILU_GATE_KEYS.up, bindings.up.name);
    const shared = sharedInput(bindings.gate, bindings.up);
    if (shared) bindings.gated.metadata.set(SILU_GATE_KEYS.sharedInput, shared.name);
    return ctx.outputs[0];
  },
});

@loweringPass({
  name: 'silu_gate_fusion',
  description: 'SwiGLU (g·Sigmoid(g))·up: recorded as a silu_gate group in node metadata (standard ops kept)',
  after: ['sdpa_canonicalize'],
})
export class SiluGateFusion extends RuleSetPass {
  readonly rules: readonly Rule<object>[] = [siluGateRule];
}
