import { OnnxLowerError } from '../../ir/errors';

/**
 * Misuse of the pattern engine: a malformed pattern, a rule whose rewrite returns the wrong number of
 * values, duplicate rule names. Matching failures are not errors; they are `MatchFailure` results.
 */
export class PatternError extends OnnxLowerError {}
