import { OnnxLowerError } from '../../../ir/errors';

/**
 * Why the reference evaluator refused or failed a node. Codes: `EVAL_UNSUPPORTED` (op, dtype or form the
 * evaluator does not implement), `EVAL_BUDGET` (a tensor over the element budget), `EVAL_INVALID` (inputs
 * ONNX does not allow, e.g. shapes that do not broadcast), `EVAL_MISSING` (an input or feed is absent).
 * The subject is the node (or value) concerned.
 */
export class EvalError extends OnnxLowerError {}
