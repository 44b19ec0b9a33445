import { PROFILE_METADATA_KEY, profileHints, readProfileHints, trtexecCommand, writeProfileHints } from '../../../src/converters/trt';
import { DataType } from '../../../src/ir/dtype';
import { tiny } from './graphs';

/** The static-cache signature with a symbolic batch and cache length. */
function staticCacheModel(cacheLen: number | string = 'max_seq_len') {
  const t = tiny(23);
  t.input('input_ids', DataType.INT64, ['batch', 'seq']);
  t.input('position_ids', DataType.INT64, ['batch', 'seq']);
  t.input('key_cache_0', DataType.FLOAT, ['batch', 2, cacheLen, 16]);
  t.input('value_cache_0', DataType.FLOAT, ['batch', 2, cacheLen, 16]);
  t.input('start_idx', DataType.INT64, []);
  t.input('end_idx', DataType.INT64, []);
  return t.model;
}

describe('optimisation-profile hints', () => {
  test('static cache: batch 1..maxBatch, prompt/chunk length 1..maxSeqLen (opt 1 = decode), caches at full length', () => {
    const hints = profileHints(staticCacheModel(), { maxSeqLen: 512, maxBatch: 4 });
    expect(hints).toEqual([
      { name: 'input_ids', min: [1, 1], opt: [1, 1], max: [4, 512] },
      { name: 'position_ids', min: [1, 1], opt: [1, 1], max: [4, 512] },
      { name: 'key_cache_0', min: [1, 2, 512, 16], opt: [1, 2, 512, 16], max: [4, 2, 512, 16] },
      { name: 'value_cache_0', min: [1, 2, 512, 16], opt: [1, 2, 512, 16], max: [4, 2, 512, 16] },
    ]); // start_idx / end_idx are static scalars: no profile needed
  });

  test('the cache length fixed in the graph is the default max; models without a cache tune for min(128, max)', () => {
    expect(profileHints(staticCacheModel(256))[0]).toEqual({ name: 'input_ids', min: [1, 1], opt: [1, 1], max: [1, 256] });
    const t = tiny(23);
    t.input('input_ids', DataType.INT64, [1, 'seq']);
    expect(profileHints(t.model)).toEqual([{ name: 'input_ids', min: [1, 1], opt: [1, 128], max: [1, 2048] }]);
    expect(profileHints(t.model, { maxSeqLen: 64, optSeqLen: 16 })[0].opt).toEqual([1, 16]);
    expect(() => profileHints(t.model, { maxSeqLen: 0 })).toThrow(/maxSeqLen must be a positive integer/);
  });

  test('metadata round trip and the trtexec command line', () => {
    const m = staticCacheModel();
    const hints = profileHints(m, { maxSeqLen: 128 });
    writeProfileHints(m, hints);
    expect(JSON.parse(m.metadata.get(PROFILE_METADATA_KEY) as string)).toHaveLength(4);
    expect(readProfileHints(m)).toEqual(hints);
    expect(trtexecCommand('out/model.onnx', hints)).toBe(
      'trtexec --onnx=out/model.onnx'
      + ' --minShapes=input_ids:1x1,position_ids:1x1,key_cache_0:1x2x128x16,value_cache_0:1x2x128x16'
      + ' --optShapes=input_ids:1x1,position_ids:1x1,key_cache_0:1x2x128x16,value_cache_0:1x2x128x16'
      + ' --maxShapes=input_ids:1x128,position_ids:1x128,key_cache_0:1x2x128x16,value_cache_0:1x2x128x16',
    );
    expect(trtexecCommand('my model.onnx', [])).toBe("trtexec '--onnx=my model.onnx'");
    m.metadata.set(PROFILE_METADATA_KEY, '{"not": "a list"}');
    expect(() => readProfileHints(m)).toThrow(/not a list/);
  });
});
