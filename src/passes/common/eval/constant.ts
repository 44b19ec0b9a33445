import { AttrType } from '../../../ir/attribute';
import { DataType, isFloatType } from '../../../ir/dtype';
import { RawTensor } from '../../../ir/tensor';
import type { Kernel, KernelTable } from './kernel';
import { NdArray, stridesOf } from './ndarray';

/** Ops that make tensors from attributes and scalars: Constant, ConstantOfShape, Range. */

const constantKernel: Kernel = (ctx) => {
  const attrs = [...ctx.node.attributes.values()].filter((a) => a.name.startsWith('value') || a.name === 'sparse_value');
  if (attrs.length !== 1) ctx.fail(`Constant needs exactly one value attribute, has ${attrs.length}`);
  const a = attrs[0];
  switch (a.data.type) {
    case AttrType.TENSOR:
      return [NdArray.fromTensor(a.data.value, ctx.node.name)];
    case AttrType.FLOAT:
      return [NdArray.of(DataType.FLOAT, [], Float32Array.of(a.data.value))];
    case AttrType.FLOATS:
      return [NdArray.of(DataType.FLOAT, [a.data.value.length], Float32Array.from(a.data.value))];
    case AttrType.INT:
      return [NdArray.of(DataType.INT64, [], BigInt64Array.of(BigInt(a.data.value)))];
    case AttrType.INTS:
      return [NdArray.of(DataType.INT64, [a.data.value.length], BigInt64Array.from(a.data.value, (v) => BigInt(v)))];
    case AttrType.SPARSE_TENSOR: {
      // Densify: indices are either [NNZ] linear positions or [NNZ, rank] coordinates.
      const { values, indices, dims } = a.data.value;
      const vals = NdArray.fromTensor(values, ctx.node.name);
      const out = ctx.alloc(values.dtype, dims);
      const idx = indices.toNumbers();
      const nnz = vals.size;
      const strides = stridesOf(dims);
      const coords = indices.dims.length === 2;
      for (let k = 0; k < nnz; k++) {
        let flat = 0;
        if (coords) for (let r = 0; r < dims.length; r++) flat += idx[k * dims.length + r] * strides[r];
        else flat = idx[k];
        if (!(flat >= 0 && flat < out.size)) ctx.fail(`sparse index ${flat} is outside [${dims.join(', ')}]`);
        (out.data as Float32Array)[flat] = (vals.data as Float32Array)[k];
      }
      return [out];
    }
    default:
      return ctx.fail(`Constant attribute '${a.name}' (${AttrType[a.data.type]}) cannot be evaluated`);
  }
};

const constantOfShapeKernel: Kernel = (ctx) => {
  const dims = ctx.input(0).toNumbers();
  if (dims.some((d) => !(d >= 0))) ctx.fail(`negative dimension in shape [${dims.join(', ')}]`);
  const valueAttr = ctx.node.attrTensor('value') ?? RawTensor.fromArray(DataType.FLOAT, [1], Float32Array.of(0));
  const value = NdArray.fromTensor(valueAttr, ctx.node.name);
  if (value.size !== 1) ctx.fail('ConstantOfShape value must hold one element');
  const out = ctx.alloc(value.dtype, dims);
  (out.data as Float32Array).fill((value.data as Float32Array)[0]);
  return [out];
};

/** Range accumulates `start += delta` in the output type, as onnxruntime does. */
const rangeKernel: Kernel = (ctx) => {
  const start = ctx.input(0);
  const limit = ctx.input(1);
  const delta = ctx.input(2);
  if (start.size !== 1 || limit.size !== 1 || delta.size !== 1) ctx.fail('Range inputs must be scalars');
  const dtype = start.dtype;
  if (start.isBig) {
    const s = start.big[0];
    const l = limit.getBig(0);
    const d = delta.getBig(0);
    if (d === 0n) ctx.fail('Range delta is zero');
    const span = l - s;
    // ceil(span / d) with bigint truncating division.
    let count = span / d;
    if (count * d !== span && (span > 0n) === (d > 0n)) count += 1n;
    const n = count > 0n ? Number(count) : 0;
    const out = ctx.alloc(dtype, [n]);
    const o = out.big;
    let v = s;
    for (let i = 0; i < n; i++, v += d) o[i] = v;
    return [out];
  }
  const s = start.getNumber(0);
  const l = limit.getNumber(0);
  const d = delta.getNumber(0);
  if (d === 0) ctx.fail('Range delta is zero');
  const n = Math.max(Math.ceil((l - s) / d), 0);
  if (!Number.isFinite(n)) ctx.fail('Range length is not finite');
  const out = ctx.alloc(dtype, [n]);
  const o = out.num;
  const round = dtype === DataType.FLOAT ? Math.fround : isFloatType(dtype) ? (x: number) => x : Math.trunc;
  let v = s;
  for (let i = 0; i < n; i++) {
    o[i] = v;
    v = round(v + d);
  }
  return [out];
};

export const constantKernels: KernelTable = {
  Constant: constantKernel,
  ConstantOfShape: constantOfShapeKernel,
  Range: rangeKernel,
};
