/**
 * Typed errors. Every error onnx-lower raises on purpose is an OnnxLowerError with a stable `code`,
 * so the CLI can print one clear line and callers can branch on the kind of failure.
 */
export class OnnxLowerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The node, value, file or field the error is about, when there is one. */
    readonly subject?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed or unsupported ONNX bytes, or a model that cannot be saved. */
export class SerdeError extends OnnxLowerError {}

/** An external-data location that is absolute, escapes the model folder, or cannot be read. */
export class ExternalDataError extends OnnxLowerError {}

/** Misuse of the IR API (a contract of DESIGN.md would be broken). */
export class IrError extends OnnxLowerError {}

/** A model that fails `verify`. */
export class VerifyError extends OnnxLowerError {
  constructor(readonly violations: readonly string[]) {
    super('IR_VERIFY', `model fails verification (${violations.length} violation(s)): ${violations.slice(0, 5).join('; ')}`);
  }
}

/** Bad user input to a command (flags, files, values). */
export class UsageError extends OnnxLowerError {}
