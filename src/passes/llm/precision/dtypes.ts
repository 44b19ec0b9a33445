import { AttrType } from '../../../ir/attribute';
import { DataType, dataTypeName } from '../../../ir/dtype';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../../ir/float16';
import type { Graph } from '../../../ir/graph';
import type { Node } from '../../../ir/node';
import { RawTensor, Tensor } from '../../../ir/tensor';
import type { Value } from '../../../ir/value';

/** The float types the precision pass moves between (float64 is left alone). */
export type PassFloat = DataType.FLOAT | DataType.FLOAT16 | DataType.BFLOAT16;

export function isPassFloat(dt: DataType | undefined): dt is PassFloat {
  return dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.BFLOAT16;
}

export function shortName(dt: DataType): string {
  switch (dt) {
    case DataType.FLOAT: return 'fp32';
    case DataType.FLOAT16: return 'fp16';
    case DataType.BFLOAT16: return 'bf16';
    default: return dataTypeName(dt).toLowerCase();
  }
}

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);

/**
 * Element types of every value: the declared type where there is one, otherwise inferred from the producer
 * (static-cache and other built nodes often carry no type). Only what the precision pass needs: which values
 * are float, and which float.
 */
export class ElemTypes {
  private readonly inferred = new Map<Value, DataType>();

  constructor(graphs: readonly Graph[]) {
    for (const g of graphs) {
      for (const n of g.nodes) {
        n.outputs.forEach((o, i) => {
          if (o.isOmitted || o.dtype !== undefined) return;
          const dt = this.infer(n, i);
          if (dt !== undefined) this.inferred.set(o, dt);
        });
      }
    }
  }

  of(v: Value | null | undefined): DataType | undefined {
    if (!v) return undefined;
    return v.dtype ?? this.inferred.get(v);
  }

  isFloat(v: Value | null | undefined): boolean {
    return isPassFloat(this.of(v));
  }

  private infer(n: Node, index: number): DataType | undefined {
    const input = (i: number) => this.of(n.inputs[i]);
    if (n.domain !== '') return undefined;
    switch (n.op) {
      case 'Cast': return n.attrInt('to');
      case 'CastLike': return input(1);
      case 'Where': return input(1) ?? input(2);
      case 'OneHot': return input(2);
      case 'Constant': return constantNodeType(n);
      case 'ConstantOfShape': return n.attrTensor('value')?.dtype ?? DataType.FLOAT;
      case 'EyeLike': case 'RandomNormalLike': case 'RandomUniformLike': return n.attributes.has('dtype') ? n.attrInt('dtype') : input(0);
      case 'RandomNormal': case 'RandomUniform': return n.attrInt('dtype', DataType.FLOAT);
      case 'LayerNormalization': return index === 0 ? input(0) : n.attrInt('stash_type', DataType.FLOAT);
      case 'TopK': return index === 0 ? input(0) : DataType.INT64;
      case 'Unique': return index === 0 ? input(0) : DataType.INT64;
    }
    if (BOOL_OPS.has(n.op)) return DataType.BOOL;
    if (INT64_OPS.has(n.op)) return DataType.INT64;
    return input(0) ?? n.inputs.map((v) => this.of(v)).find((d) => d !== undefined);
  }
}

function constantNodeType(n: Node): DataType | undefined {
  const t = n.attrTensor('value');
  if (t) return t.dtype;
  for (const a of n.attributes.values()) {
    if (a.name === 'value_float' || a.name === 'value_floats') return DataType.FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return DataType.INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return DataType.STRING;
  }
  return undefined;
}

/** Largest finite value of each 16-bit float: fp32 values beyond it are clamped, not turned into infinities. */
const MAX_FINITE: Partial<Record<DataType, number>> = {
  [DataType.FLOAT16]: 65504,
  [DataType.BFLOAT16]: bfloat16ToFloat(0x7f7f),
};

/**
 * Converts a float tensor to another float type, round-to-nearest-even. Finite values outside the target's
 * range are clamped to its largest finite value (an additive mask's -3.4e38 becomes -65504 in fp16, still
 * "minus a lot", instead of -inf, which turns fully-masked rows into NaN).
 */
export function convertFloatTensor(t: Tensor, to: PassFloat): Tensor {
  if (!isPassFloat(t.dtype)) throw new Error(`cannot convert ${dataTypeName(t.dtype)} tensor '${t.name}' to ${dataTypeName(to)}`);
  const n = t.numElements;
  const src = t.toArray();
  const read: (i: number) => number = t.dtype === DataType.FLOAT
    ? (i) => (src as Float32Array)[i]
    : t.dtype === DataType.FLOAT16 ? (i) => halfToFloat(src[i] as number) : (i) => bfloat16ToFloat(src[i] as number);
  let out: RawTensor;
  if (to === DataType.FLOAT) {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = read(i);
    out = RawTensor.fromArray(to, t.dims, a, t.name);
  } else {
    const max = MAX_FINITE[to] as number;
    const enc = to === DataType.FLOAT16 ? floatToHalf : floatToBfloat16;
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const x = read(i);
      a[i] = enc(x > max && x !== Infinity ? max : x < -max && x !== -Infinity ? -max : x);
    }
    out = RawTensor.fromArray(to, t.dims, a, t.name);
  }
  out.docString = t.docString;
  for (const [k, v] of t.metadata) out.metadata.set(k, v);
  return out;
}

/** Significand bits (floats) or magnitude bits (integers) of a type, for exactness of conversions. */
const INT_BITS: Partial<Record<DataType, { bits: number; signed: boolean }>> = {
  [DataType.BOOL]: { bits: 1, signed: false }, [DataType.UINT8]: { bits: 8, signed: false }, [DataType.INT8]: { bits: 7, signed: true },
  [DataType.UINT16]: { bits: 16, signed: false }, [DataType.INT16]: { bits: 15, signed: true }, [DataType.UINT32]: { bits: 32, signed: false },
  [DataType.INT32]: { bits: 31, signed: true }, [DataType.UINT64]: { bits: 64, signed: false }, [DataType.INT64]: { bits: 63, signed: true },
};
const FLOAT_BITS: Partial<Record<DataType, { significand: number; exponent: number }>> = {
  [DataType.FLOAT16]: { significand: 11, exponent: 5 }, [DataType.BFLOAT16]: { significand: 8, exponent: 8 },
  [DataType.FLOAT]: { significand: 24, exponent: 8 }, [DataType.DOUBLE]: { significand: 53, exponent: 11 },
};

/** True when every value of `from` converts to `to` exactly (so Cast(Cast(x, to), t) == Cast(x, t)). */
export function isExactConversion(from: DataType, to: DataType): boolean {
  if (from === to) return true;
  const fi = INT_BITS[from];
  const ti = INT_BITS[to];
  const ff = FLOAT_BITS[from];
  const tf = FLOAT_BITS[to];
  if (fi && ti) {
    if (from === DataType.BOOL) return true;
    if (fi.signed && !ti.signed) return false;
    return fi.bits <= ti.bits;
  }
  if (fi && tf) return fi.bits <= tf.significand;
  if (ff && tf) return ff.significand <= tf.significand && ff.exponent <= tf.exponent;
  return false;
}

/** A constant-like value: an initializer, or the output of a Constant node. */
export function constantTensorOf(v: Value): Tensor | undefined {
  if (v.isInitializer) return v.constValue;
  const p = v.producer;
  if (p?.op === 'Constant' && p.domain === '') {
    const a = p.attributes.get('value');
    return a?.data.type === AttrType.TENSOR ? a.data.value : undefined;
  }
  return undefined;
}

export function isConstantLike(v: Value): boolean {
  if (v.isInitializer) return true;
  const p = v.producer;
  return !!p && p.domain === '' && (p.op === 'Constant' || p.op === 'ConstantOfShape');
}
