import { RuleSetPass } from '../rule-set-pass';
import type { Model } from '../../ir/model';
import { PassContext, PreconditionError } from '../pass';
import type { Rule } from '../pattern/rule';
import { loweringPass } from '../registry';
import { DEFAULT_ROTARY_MAX_POSITIONS, rotaryRules } from './rotary/rules';

/** Model metadata: the positions the RoPE caches cover (a runtime must not feed position_ids beyond). */
export const ROTARY_MAX_POSITIONS_KEY = 'onnx_lower.rotary_max_positions';

/**
 * Positions the caches cover: `maxSeqLen` (the static cache length: no position can exceed it), else the
 * `rotaryMaxPositions` option, else DEFAULT_ROTARY_MAX_POSITIONS (4096).
 */
export function rotaryMaxPositions(options: PassContext['options']): number {
  const given = options.maxSeqLen ?? (options.rotaryMaxPositions as number | undefined);
  if (given === undefined) return DEFAULT_ROTARY_MAX_POSITIONS;
  if (!Number.isInteger(given) || given < 1) throw new PreconditionError(`rotary_fusion: max positions must be a positive integer, got ${String(given)}`);
  return given;
}

/**
 * Rotary embeddings → ONNX `RotaryEmbedding` (opset 23) with half-width cos/sin caches precomputed as
 * initializers for positions 0..N-1 and `position_ids` as input: the rotate-half and interleaved forms, partial
 * rotation (`rotary_embedding_dim`), and exporter RotaryEmbedding nodes fed per-token cos/sin. The caches are
 * tabulated by evaluating the graph's own cos/sin computation, after proving it is a per-position table.
 */
@loweringPass({
  name: 'rotary_fusion',
  description: 'rotate-half / interleaved RoPE (and RotaryEmbedding without position_ids) → RotaryEmbedding-23 with cos/sin caches and position_ids',
  after: ['sdpa_canonicalize'],
})
export class RotaryFusion extends RuleSetPass {
  /** The rules with the default cache length, for `lower --explain`. */
  readonly rules: readonly Rule<object>[] = rotaryRules();
  protected override readonly minOpset = 23;
  protected override readonly removeDead = true;

  /** The cos/sin tables cover maxSeqLen (or rotaryMaxPositions, or the default) positions. */
  protected override rulesFor(ctx: PassContext): readonly Rule<object>[] {
    return rotaryRules(rotaryMaxPositions(ctx.options));
  }

  protected override afterRewrite(model: Model, ctx: PassContext): void {
    model.metadata.set(ROTARY_MAX_POSITIONS_KEY, String(rotaryMaxPositions(ctx.options)));
  }
}
