// Importing this module registers the `trt_legalize` pass in the default registry.
export * from './target';
export * from './support-matrix';
export * from './checker';
export * from './legalize';
export * from './profiles';
export { convertAttention, sdpaUnsupported } from './sdpa-converter';
export type { SdpaConverterOptions } from './sdpa-converter';
export { decomposeRmsNorm } from './rms-norm';
export { decomposeRotaryEmbedding } from './rotary-embedding';
export { legacyTensorScatter } from './tensor-scatter';
export { lowerOpsetImport } from './opset';
export { TrtLegalizeError } from './build';
