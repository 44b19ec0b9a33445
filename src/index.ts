/**
 * onnx-lower's public API: the IR and its ONNX serde, the pass infrastructure (registry, @loweringPass,
 * PassManager, pattern rewriting), the built-in passes and pipelines, and the runtime.
 * Plugin authors: `import { loweringPass, Pass } from 'onnx-lower'` and register passes on import.
 */
export * from './ir';
export * from './ir/serde';
export * from './passes';
export * as pattern from './passes/pattern';
export * from './passes/llm';
export { OrtBackend } from './runtime/ort-backend';
export type { Backend } from './runtime/backend';
export { generate, generateWithStaticCache } from './runtime/generate';
export type { GenerateOptions, StaticCacheOptions, GenerationResult } from './runtime/generate';
export { cacheLayout } from './runtime/cache-layout';
export { createBackend } from './runtime/backends';
export { TextTokenizer } from './runtime/tokenizer';
