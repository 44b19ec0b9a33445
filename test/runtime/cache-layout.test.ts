// cacheLayout: what the runtime reads from a static-cache graph's inputs, and the errors for malformed ones.
import { DataType } from '../../src/ir/dtype';
import { Graph } from '../../src/ir/graph';
import { Model } from '../../src/ir/model';
import { Dim, tensorType } from '../../src/ir/type';
import { cacheLayout, ModelInterfaceError } from '../../src/runtime/cache-layout';

function model(inputs: [string, DataType, Dim[]][], metadata: Record<string, string> = {}): Model {
  const m = new Model(new Graph('g'));
  for (const [name, dt, shape] of inputs) m.graph.addInput({ name, type: tensorType(dt, shape) });
  for (const [k, v] of Object.entries(metadata)) m.metadata.set(k, v);
  return m;
}

const F = DataType.FLOAT;
const I = DataType.INT64;
const base: [string, DataType, Dim[]][] = [['input_ids', I, [1, 'seq']], ['position_ids', I, [1, 'seq']]];
const indices: [string, DataType, Dim[]][] = [['start_idx', I, []], ['end_idx', I, []]];

describe('cacheLayout', () => {
  test('a graph without cache inputs has no layout', () => {
    expect(cacheLayout(model(base))).toBeUndefined();
  });

  test('reads layers, heads, head size, dtype, static length and batch, and the cache kind', () => {
    const m = model([
      ...base,
      ['key_cache_0', F, [1, 2, 128, 16]], ['value_cache_0', F, [1, 2, 128, 16]],
      ['key_cache_1', DataType.FLOAT16, [1, 2, 128, 16]], ['value_cache_1', DataType.FLOAT16, [1, 2, 128, 16]],
      ...indices,
    ], { 'onnx_lower.static_cache': 'static_cache_v3' });
    expect(cacheLayout(m)).toEqual({
      layers: [
        { keyName: 'key_cache_0', valueName: 'value_cache_0', keyOutput: 'present_key_cache_0', valueOutput: 'present_value_cache_0', heads: 2, headDim: 16, dtype: 'float32' },
        { keyName: 'key_cache_1', valueName: 'value_cache_1', keyOutput: 'present_key_cache_1', valueOutput: 'present_value_cache_1', heads: 2, headDim: 16, dtype: 'float16' },
      ],
      maxSeqLen: 128, batch: 1, kind: 'static_cache_v3',
    });
  });

  test('symbolic batch and length are left to the runtime', () => {
    const layout = cacheLayout(model([...base, ['key_cache_0', F, ['batch', 4, 'max_seq_len', 8]], ['value_cache_0', F, ['batch', 4, 'max_seq_len', 8]], ...indices]));
    expect(layout?.batch).toBeUndefined();
    expect(layout?.maxSeqLen).toBeUndefined();
  });

  test.each([
    ['no end_idx', [...base, ['key_cache_0', F, [1, 2, 8, 4]], ['value_cache_0', F, [1, 2, 8, 4]], ['start_idx', I, []]], /no 'end_idx' input/],
    ['a key without its value', [...base, ['key_cache_0', F, [1, 2, 8, 4]], ...indices], /missing layer 0/],
    ['layers not numbered from 0', [...base, ['key_cache_1', F, [1, 2, 8, 4]], ['value_cache_1', F, [1, 2, 8, 4]], ...indices], /missing layer 0/],
    ['a 3-D cache', [...base, ['key_cache_0', F, [2, 8, 4]], ['value_cache_0', F, [2, 8, 4]], ...indices], /must be \[batch, heads, max_seq_len, head_dim\]/],
    ['symbolic heads', [...base, ['key_cache_0', F, [1, 'h', 8, 4]], ['value_cache_0', F, [1, 'h', 8, 4]], ...indices], /static heads and head_dim/],
    ['an int cache', [...base, ['key_cache_0', DataType.INT8, [1, 2, 8, 4]], ['value_cache_0', DataType.INT8, [1, 2, 8, 4]], ...indices], /unsupported tensor type/],
  ] as [string, [string, DataType, Dim[]][], RegExp][])('%s → ModelInterfaceError', (_what, inputs, message) => {
    let err: unknown;
    try {
      cacheLayout(model(inputs));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelInterfaceError);
    expect((err as Error).message).toMatch(message);
  });
});
