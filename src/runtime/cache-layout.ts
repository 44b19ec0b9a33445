import { DataType, dataTypeName } from '../ir/dtype';
import { OnnxLowerError } from '../ir/errors';
import type { Model } from '../ir/model';
import { cacheNames } from '../passes/llm/cache-names';
import { ROTARY_MAX_POSITIONS_KEY } from '../passes/fusions/rotary-fusion';
import type { HostDType } from './host-tensor';

export interface CacheLayer {
  readonly keyName: string;
  readonly valueName: string;
  readonly keyOutput: string;
  readonly valueOutput: string;
  readonly heads: number;
  readonly headDim: number;
  readonly dtype: HostDType;
}

/** What the runtime must know about a lowered graph's static cache, read from its inputs. */
export interface CacheLayout {
  readonly layers: readonly CacheLayer[];
  /** Static cache length fixed in the graph, or undefined when the runtime chooses it. */
  readonly maxSeqLen: number | undefined;
  /** Static batch size fixed in the graph, or undefined when dynamic. */
  readonly batch: number | undefined;
  readonly kind: string | undefined;
}

export class ModelInterfaceError extends OnnxLowerError {}

export function hostDType(dt: DataType | undefined): HostDType {
  switch (dt) {
    case DataType.FLOAT: return 'float32';
    case DataType.FLOAT16: return 'float16';
    case DataType.BFLOAT16: return 'bfloat16';
    case DataType.INT64: return 'int64';
    case DataType.INT32: return 'int32';
    case DataType.BOOL: return 'bool';
    default: throw new ModelInterfaceError('MODEL_DTYPE', `unsupported tensor type ${dt === undefined ? 'unknown' : dataTypeName(dt)} at the model interface`);
  }
}

/** Reads the static-cache signature (`key_cache_i`, `value_cache_i`, `start_idx`, `end_idx`) from a model. */
export function cacheLayout(model: Model): CacheLayout | undefined {
  const inputs = model.graph.inputs;
  const keys = inputs.filter((v) => cacheNames.keyInputPattern.test(v.name));
  if (keys.length === 0) return undefined;
  for (const name of [cacheNames.start, cacheNames.end]) {
    if (!inputs.some((v) => v.name === name)) throw new ModelInterfaceError('MODEL_INTERFACE', `the model has cache inputs but no '${name}' input`);
  }
  let maxSeq: number | undefined;
  let batch: number | undefined;
  const layers = keys.map((_, i) => {
    const key = inputs.find((v) => v.name === cacheNames.keyInput(i));
    const value = inputs.find((v) => v.name === cacheNames.valueInput(i));
    if (!key || !value) throw new ModelInterfaceError('MODEL_INTERFACE', `cache inputs are not numbered 0..${keys.length - 1} in pairs (missing layer ${i})`);
    const s = key.shape;
    if (!s || s.length !== 4 || typeof s[1] !== 'number' || typeof s[3] !== 'number') {
      throw new ModelInterfaceError('MODEL_INTERFACE', `cache input '${key.name}' must be [batch, heads, max_seq_len, head_dim] with static heads and head_dim`);
    }
    if (typeof s[2] === 'number') maxSeq = s[2];
    if (typeof s[0] === 'number') batch = s[0];
    return { keyName: key.name, valueName: value.name, keyOutput: cacheNames.keyOutput(i), valueOutput: cacheNames.valueOutput(i), heads: s[1], headDim: s[3], dtype: hostDType(key.dtype) };
  });
  return { layers, maxSeqLen: maxSeq, batch, kind: model.metadata.get('onnx_lower.static_cache') };
}

/** Positions a lowered graph supports, when rotary_fusion recorded its table size (undefined = no recorded limit). */
export function positionLimit(model: Model): number | undefined {
  const v = model.metadata.get(ROTARY_MAX_POSITIONS_KEY);
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
