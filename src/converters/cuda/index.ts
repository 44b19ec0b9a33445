/** Canonical op -> native kernel mapping of the CUDA runtime (see src/runtime/native/ops.h). */
import { attentionConverters } from './attention';
import type { Converter } from './context';
import { dataMovementConverters } from './data-movement';
import { elementwiseConverters } from './elementwise';
import { linearConverters } from './linear';
import { normalizationConverters } from './normalization';

export * from './context';
export * from './opcodes';
export { attentionSplits } from './attention';
export { GEMV_MAX_ROWS, weightsStoredTransposed } from './linear';
export { broadcastShape, contiguousStrides, numel, simplify } from './strided';

export const cudaConverters: Readonly<Record<string, Converter>> = {
  ...elementwiseConverters,
  ...dataMovementConverters,
  ...linearConverters,
  ...normalizationConverters,
  ...attentionConverters,
};

/** The ai.onnx ops the cuda backend runs on the device (host-computable shape arithmetic aside), sorted. */
export function cudaSupportedOps(): string[] {
  return Object.keys(cudaConverters).sort();
}
