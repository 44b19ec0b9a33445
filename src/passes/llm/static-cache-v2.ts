import type { Model } from '../../ir/model';
import { Pass, PassContext, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { insertStaticCache, sliceSeq } from './static-cache';

/**
 * static_cache_v2 (Torch-TensorRT's seed): kv = cat(cache[:, :, :start], k) is what attention reads, and
 * new_cache = cat(kv, cache[:, :, end:]).
 */
@loweringPass({ name: 'static_cache_v2', description: 'static KV cache, v2: attention reads cat(cache[:, :, :start], k); the cache output appends cache[:, :, end:]', after: ['sdpa_canonicalize', 'shape_inference'] })
export class StaticCacheV2 implements Pass {
  readonly inPlace = true;
  run(model: Model, ctx: PassContext): PassResult {
    return insertStaticCache(model, ctx, 'static_cache_v2', (b, cache, current, idx) => {
      const attend = b.op('Concat', [sliceSeq(b, cache, idx.zero1, idx.start1, idx), current], { axis: 2 });
      const updated = b.op('Concat', [attend, sliceSeq(b, cache, idx.end1, idx.max1, idx)], { axis: 2 });
      return { updated, attend };
    });
  }
}
