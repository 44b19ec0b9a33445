import { Attribute } from '../../ir/attribute';
import { Builder } from '../../ir/builder';
import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import { tensor } from '../../ir/tensor';
import { Dim, tensorType } from '../../ir/type';
import type { Value } from '../../ir/value';
import { PassContext, PassResult, PreconditionError } from '../pass';
import { attentionNodes, headsAndSize, requireInput } from './attention-nodes';
import { cacheNames } from './cache-names';

/** How one cache kind turns (cache, new K or V) into (the K/V attention reads, the cache to output). */
export type CacheUpdate = (b: Builder, cache: Value, current: Value, idx: CacheIndices) => { attend: Value; updated: Value };

/** Index values shared by every layer (built once per graph). */
export interface CacheIndices {
  start: Value;
  end: Value;
  /** start and end as 1-element vectors, for Slice. */
  start1: Value;
  end1: Value;
  zero1: Value;
  max1: Value;
  axis2: Value;
  batch: Value;
}

const INT64_MAX = 9223372036854775807n;

/**
 * Inserts a static KV cache (the seed's signature): inputs `input_ids, position_ids, key_cache_0, value_cache_0,
 * …, start_idx, end_idx`; outputs `logits`, then the new caches in the same order. Caches are
 * `[batch, kv_heads, max_seq_len, head_dim]`. Attention gets the explicit mask `j <= start + i` (shared by all
 * layers): TensorRT's and older ONNX `is_causal` is top-left aligned, which is wrong for decode and chunked prefill.
 */
export function insertStaticCache(model: Model, ctx: PassContext, pass: string, update: CacheUpdate, minOpset = 23): PassResult {
  const g = model.graph;
  const attns = attentionNodes(model);
  if (attns.length === 0) throw new PreconditionError(`${pass}: the graph has no canonical Attention node; run sdpa_canonicalize first`);
  const inputIds = requireInput(g, 'input_ids', pass);
  requireInput(g, 'position_ids', pass);
  if (g.inputs.some((i) => i.name === cacheNames.start || cacheNames.keyInputPattern.test(i.name))) {
    throw new PreconditionError(`${pass}: the graph already has a static cache (inputs start_idx / key_cache_*)`);
  }
  const logits = g.outputs.find((o) => o.name === 'logits');
  if (!logits) throw new PreconditionError(`${pass} needs a graph output named 'logits'`);
  const maxSeq = ctx.options.maxSeqLen;
  if (maxSeq !== undefined && (!Number.isInteger(maxSeq) || maxSeq < 1)) throw new PreconditionError(`${pass}: max_seq_len must be a positive integer, got ${maxSeq}`);
  const seqDim: Dim = maxSeq ?? 'max_seq_len';
  const batchDim: Dim = inputIds.shape?.[0] ?? 'batch';

  for (const n of attns) {
    if (n.outputs.length > 1 && n.outputs.slice(1).some((o) => !o.isOmitted && (o.hasUses() || o.isGraphOutput))) {
      throw new PreconditionError(`${pass}: Attention ${n.describe()} uses past/present outputs, which a static cache replaces`, n.name);
    }
    if (n.inputs.length > 4 && n.inputs.slice(4).some((v) => v)) {
      throw new PreconditionError(`${pass}: Attention ${n.describe()} already has past_key/past_value inputs`, n.name);
    }
  }

  // Inputs in the seed's order: after the existing ones come the caches, then start_idx, end_idx.
  const caches: { key: Value; value: Value }[] = attns.map((n, i) => {
    const k = n.inputs[1] as Value;
    const v = n.inputs[2] as Value;
    const ks = headsAndSize(k, `key of Attention ${n.describe()}`);
    const vs = headsAndSize(v, `value of Attention ${n.describe()}`);
    const dtype = k.dtype ?? DataType.FLOAT;
    return {
      key: g.addInput({ name: cacheNames.keyInput(i), type: tensorType(dtype, [batchDim, ks.heads, seqDim, ks.headDim]) }),
      value: g.addInput({ name: cacheNames.valueInput(i), type: tensorType(v.dtype ?? dtype, [batchDim, vs.heads, seqDim, vs.headDim]) }),
    };
  });
  const start = g.addInput({ name: cacheNames.start, type: tensorType(DataType.INT64, []) });
  const end = g.addInput({ name: cacheNames.end, type: tensorType(DataType.INT64, []) });

  const tags = new Map([['onnx_lower.pass', pass]]);
  // Shared index math depends on graph inputs only: put it at the top of the graph.
  const b = new Builder(g, g.nodes.first, tags);
  const idx = buildIndices(b, start, end, inputIds);
  const mask = buildMask(b, idx);

  const newOutputs: Value[] = [];
  attns.forEach((n, i) => {
    const lb = new Builder(g, n, tags);
    const k = update(lb, caches[i].key, n.inputs[1] as Value, idx);
    const v = update(lb, caches[i].value, n.inputs[2] as Value, idx);
    n.replaceInput(1, k.attend);
    n.replaceInput(2, v.attend);
    if (n.inputs.length < 4) n.appendInput(mask);
    else n.replaceInput(3, mask);
    n.setAttr(Attribute.int('is_causal', 0));
    k.updated.name = cacheNames.keyOutput(i);
    v.updated.name = cacheNames.valueOutput(i);
    k.updated.type = caches[i].key.type;
    v.updated.type = caches[i].value.type;
    newOutputs.push(k.updated, v.updated);
  });
  for (const o of newOutputs) g.addOutput(o);
  // Keep `logits` first: reorder outputs to logits, caches (other original outputs stay after logits).
  g.setOutputs([logits, ...g.outputs.filter((o) => o !== logits)]);
  const opset = model.opset('') ?? 0;
  if (opset < minOpset) model.opsetImports.set('', minOpset);
  model.metadata.set('onnx_lower.static_cache', pass);
  model.metadata.set('onnx_lower.num_layers', String(attns.length));
  return { model, modified: true, changes: attns.length };
}

function buildIndices(b: Builder, start: Value, end: Value, inputIds: Value): CacheIndices {
  const axes0 = b.constant('cache_axes0', tensor.int64([1], [0]));
  const start1 = b.op('Unsqueeze', [start, axes0]);
  const end1 = b.op('Unsqueeze', [end, axes0]);
  const shape = b.op('Shape', [inputIds], { start: 0, end: 1 });
  return {
    start, end, start1, end1,
    zero1: b.constant('cache_zero', tensor.int64([1], [0])),
    max1: b.constant('cache_int64_max', tensor.int64([1], [INT64_MAX])),
    axis2: b.constant('cache_axis2', tensor.int64([1], [2])),
    batch: shape,
  };
}

/** mask[0, 0, i, j] = j <= start + i, shape [1, 1, S, T] with S = end - start and T = end. */
function buildMask(b: Builder, idx: CacheIndices): Value {
  const one = b.constant('cache_one', tensor.int64([], [1]));
  const zero = b.constant('cache_zero_scalar', tensor.int64([], [0]));
  const qPos = b.op('Range', [idx.start, idx.end, one]);
  const kPos = b.op('Range', [zero, idx.end, one]);
  const q2 = b.op('Unsqueeze', [qPos, b.constant('cache_axes_1', tensor.int64([1], [1]))]);
  const k2 = b.op('Unsqueeze', [kPos, idx.zero1]);
  const allowed = b.op('LessOrEqual', [k2, q2]);
  const mask = b.op('Unsqueeze', [allowed, b.constant('cache_axes01', tensor.int64([2], [0, 1]))]);
  mask.name = b.graph.names.fresh('static_cache_mask');
  return mask;
}

/** cache[:, :, a:b, :] */
export function sliceSeq(b: Builder, cache: Value, from: Value, to: Value, idx: CacheIndices): Value {
  return b.op('Slice', [cache, from, to, idx.axis2]);
}
