import { OnnxLowerError } from '../../../ir/errors';

/**
 * Shape inference failures, naming the node: `SHAPE_CONFLICT` (a declared dim or type contradicts the
 * inferred one), `SHAPE_INVALID` (the inputs' shapes cannot be valid for the op, e.g. 3 vs 4 in Add).
 */
export class ShapeInferenceError extends OnnxLowerError {}
