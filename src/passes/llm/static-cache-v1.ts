import type { Model } from '../../ir/model';
import { Pass, PassContext, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { insertStaticCache, sliceSeq } from './static-cache';

/**
 * static_cache_v1 (Torch-TensorRT's seed): new_cache = cat(cache[:, :, :start], k, cache[:, :, end:]) and attention
 * reads new_cache[:, :, :end].
 */
@loweringPass({ name: 'static_cache_v1', description: 'static KV cache, v1: one 3-way Concat per cache, attention reads cache[:, :, :end]', after: ['sdpa_canonicalize', 'shape_inference'] })
export class StaticCacheV1 implements Pass {
  readonly inPlace = true;
  run(model: Model, ctx: PassContext): PassResult {
    return insertStaticCache(model, ctx, 'static_cache_v1', (b, cache, current, idx) => {
      const before = sliceSeq(b, cache, idx.zero1, idx.start1, idx);
      const after = sliceSeq(b, cache, idx.end1, idx.max1, idx);
      const updated = b.op('Concat', [before, current, after], { axis: 2 });
      return { updated, attend: sliceSeq(b, updated, idx.zero1, idx.end1, idx) };
    });
  }
}
