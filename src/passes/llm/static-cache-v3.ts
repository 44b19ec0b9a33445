import type { Model } from '../../ir/model';
import { Pass, PassContext, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { insertStaticCache, sliceSeq } from './static-cache';

/**
 * static_cache_v3: in-place update with TensorScatter (opset 24): the cache output is the cache input with rows
 * start..end replaced, so a runtime can alias each cache input with its output; attention reads [:, :, :end].
 */
@loweringPass({ name: 'static_cache_v3', description: 'static KV cache, v3: in-place TensorScatter update (opset 24), cache input and output can share one buffer', after: ['sdpa_canonicalize', 'shape_inference'] })
export class StaticCacheV3 implements Pass {
  readonly inPlace = true;
  run(model: Model, ctx: PassContext): PassResult {
    return insertStaticCache(model, ctx, 'static_cache_v3', (b, cache, current, idx) => {
      const writeIndices = b.op('Expand', [idx.start1, idx.batch]);
      const updated = b.op('TensorScatter', [cache, current, writeIndices], { axis: -2, mode: 'linear' });
      return { updated, attend: sliceSeq(b, updated, idx.zero1, idx.end1, idx) };
    }, 24);
  }
}
