/** Names of the static-cache interface (the seed's signature), shared by the passes and the runtime. */
export const cacheNames = {
  keyInput: (layer: number) => `key_cache_${layer}`,
  valueInput: (layer: number) => `value_cache_${layer}`,
  keyOutput: (layer: number) => `present_key_cache_${layer}`,
  valueOutput: (layer: number) => `present_value_cache_${layer}`,
  start: 'start_idx',
  end: 'end_idx',
  keyInputPattern: /^key_cache_(\d+)$/,
} as const;
