// Importing this module registers the LLM passes and the `llm` pipeline.
export * from './pipeline';
export * from './cache-names';
export * from './attention-nodes';
export { SdpaCanonicalize } from './sdpa-canonicalize';
export { StaticCacheV1 } from './static-cache-v1';
export { StaticCacheV2 } from './static-cache-v2';
export { StaticCacheV3 } from './static-cache-v3';
export { sdpaRules, sdpaDecomposedRule, attentionCanonicalRule } from './sdpa/rules';
export { proveCausal } from './causal-proof';
export { stripRepeatKv } from './repeat-kv';
import '../fusions';
