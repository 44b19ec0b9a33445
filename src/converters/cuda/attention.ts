import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { Arg, ConvertContext, Converter, DeviceRef, TensorInfo } from './context';
import { Causal, dtCode, MaskType, OpCode, UnsupportedOpError } from './opcodes';
import { broadcastStrides } from './strided';

function req(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) throw new UnsupportedOpError('CUDA_INPUT', `${node.describe()}: input ${i} is missing`, node.name);
  return v;
}

/** Query rows per attention block (ops: 4 warps x 4 rows) and keys per tile. */
const ROWS_PER_BLOCK = 16;
const KEYS_PER_TILE = 32;
/** The decode attention kernel (kernels.cu attnDecode): at most 8 query rows per kv head, 256 keys per pass. */
const DECODE_MAX_ROWS = 8;
const DECODE_KEYS = 256;

/**
 * How many key splits (flash-decoding) to launch: enough blocks to fill the chip twice when the query side is
 * small (decode), one split when prefill already fills it. With a static cache the live length is only known on
 * the device, so splits cover the whole buffer and the ones past start + seq exit at once.
 */
export function attentionSplits(smCount: number, B: number, Hq: number, Hkv: number, S: number, T: number): { splits: number; chunk: number } {
  const G = Hq / Hkv;
  if (G * S <= DECODE_MAX_ROWS) {
    // The decode kernel: one block per kv head and split, 8 warps x 32 keys per pass; splits of whole passes,
    // only as many as it takes to give the chip about two blocks per SM.
    let splits = Math.max(1, Math.min(Math.ceil((2 * Math.max(smCount, 1)) / (Hkv * B)), Math.ceil(T / DECODE_KEYS)));
    const chunk = Math.ceil(T / splits / DECODE_KEYS) * DECODE_KEYS;
    splits = Math.max(1, Math.ceil(T / chunk));
    return { splits, chunk };
  }
  const base = Math.ceil((G * S) / ROWS_PER_BLOCK) * Hkv * B;
  const target = 2 * Math.max(smCount, 1);
  let splits = Math.max(1, Math.min(Math.floor(target / base), Math.ceil(T / KEYS_PER_TILE), 64));
  if (splits === 1) return { splits: 1, chunk: Math.max(T, 1) };
  const chunk = Math.ceil(T / splits / KEYS_PER_TILE) * KEYS_PER_TILE;
  splits = Math.ceil(T / chunk);
  return { splits, chunk };
}

function kvSource(ctx: ConvertContext, v: Value): { ref: DeviceRef; info: TensorInfo; cached: boolean } {
  const view = ctx.cacheView(v);
  if (view) return { ref: ctx.ref(view.present), info: ctx.info(view.present), cached: true };
  return { ref: ctx.ref(v), info: ctx.info(v), cached: false };
}

const attention: Converter = (node, ctx) => {
  if (node.inputs.slice(4).some((v) => v)) throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: past_key/past_value inputs are not supported (lower with a static cache)`, node.name);
  if (node.outputs.slice(1).some((o) => o.hasUses() || o.isGraphOutput)) throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: only the first output is supported`, node.name);
  if (node.attrFloat('softcap', 0) !== 0) throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: softcap is not supported`, node.name);
  const q = req(node, 0);
  const qi = ctx.info(q);
  if (qi.dims.length !== 4) throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: only the 4-D form [B, H, S, D] is supported (canonical Attention)`, node.name);
  const k = kvSource(ctx, req(node, 1));
  const v = kvSource(ctx, req(node, 2));
  const [B, Hq, S, D] = qi.dims;
  const [, Hkv, T, Dk] = k.info.dims;
  const Dv = v.info.dims[3];
  if (Dk !== D || v.info.dims[2] !== T || v.info.dims[1] !== Hkv || Hq % Hkv !== 0) {
    throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: Q [${qi.dims}] K [${k.info.dims}] V [${v.info.dims}] are not a valid GQA attention`, node.name);
  }
  const dims = [B, Hq, S, Dv];
  const out = ctx.define(node.outputs[0], { dims, dtype: qi.dtype });
  let causal = node.attrInt('is_causal', 0) ? Causal.TOP_LEFT : Causal.NONE;
  let mtype = MaskType.NONE;
  let mask: Arg = null;
  let mStrides = [0, 0, 0, 0];
  const m = node.inputs[3];
  if (m && ctx.isOffsetCausalMask(m)) {
    causal = Causal.OFFSET;
  } else if (m) {
    const mi = ctx.info(m);
    mtype = mi.dtype === DataType.BOOL ? MaskType.BOOL : MaskType.FLOAT;
    if (mtype === MaskType.FLOAT && mi.dtype !== qi.dtype) throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: a float mask must have the query's dtype`, node.name);
    mStrides = broadcastStrides(mi.dims, [B, Hq, S, T]);
    mask = ctx.ref(m);
  }
  if ((k.cached || v.cached) && causal !== Causal.OFFSET) {
    throw new UnsupportedOpError('CUDA_ATTENTION', `${node.describe()}: reads a static cache without the shared mask j <= start + i`, node.name);
  }
  const scale = node.attr('scale') ? node.attrFloat('scale') : 1 / Math.sqrt(D);
  const { splits, chunk } = attentionSplits(ctx.device.smCount, B, Hq, Hkv, S, T);
  const ws = splits > 1 ? ctx.scratch(B * Hq * S * splits * (Dv + 2) * 4) : null;
  ctx.emit(OpCode.ATTENTION, [
    dtCode(qi.dtype, node.name), B, Hq, Hkv, S, T, D, Dv, scale, causal, mtype,
    ctx.ref(q), k.ref, v.ref, out,
    Hq * S * D, S * D, D, Hkv * T * D, T * D, D, Hkv * T * Dv, T * Dv, Dv, Hq * S * Dv, S * Dv, Dv,
    mask, ...mStrides, causal === Causal.OFFSET ? ctx.startRef() : null, splits, chunk, ws,
  ]);
};

const rotary: Converter = (node, ctx) => {
  const x = req(node, 0);
  const cos = req(node, 1);
  const sin = req(node, 2);
  const pos = node.inputs[3];
  const xi = ctx.info(x);
  const ci = ctx.info(cos);
  let B: number, H: number, S: number, D: number;
  const l3 = xi.dims.length === 3;
  if (l3) {
    H = node.attrInt('num_heads', 0);
    if (!H) throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: 3-D input needs num_heads`, node.name);
    [B, S] = xi.dims;
    D = xi.dims[2] / H;
  } else if (xi.dims.length === 4) {
    [B, H, S, D] = xi.dims;
  } else {
    throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: input must be 3-D or 4-D`, node.name);
  }
  const rd = node.attrInt('rotary_embedding_dim', 0) || D;
  if (ci.dims[ci.dims.length - 1] !== rd / 2) throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: cos_cache last dim ${ci.dims[ci.dims.length - 1]} != ${rd / 2}`, node.name);
  if (pos && ci.dims.length !== 2) throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: with position_ids, cos_cache must be 2-D`, node.name);
  if (!pos && (ci.dims.length !== 3 || ci.dims[1] !== S)) throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: without position_ids, cos_cache must be [B, S, rd/2]`, node.name);
  if (pos && ctx.info(pos).dtype !== DataType.INT64) throw new UnsupportedOpError('CUDA_ROPE', `${node.describe()}: position_ids must be int64`, node.name);
  const cosBatchStride = !pos && ci.dims[0] === 1 ? 0 : S * (rd / 2);
  const o = ctx.define(node.outputs[0], xi);
  ctx.emit(OpCode.ROPE, [
    dtCode(xi.dtype, node.name), dtCode(ci.dtype, node.name), B, H, S, D, rd, node.attrInt('interleaved', 0), l3 ? 1 : 0,
    ctx.ref(x), ctx.ref(cos), ctx.ref(sin), pos ? ctx.ref(pos) : null, o, cosBatchStride,
  ]);
};

export const attentionConverters: Record<string, Converter> = { Attention: attention, RotaryEmbedding: rotary };
