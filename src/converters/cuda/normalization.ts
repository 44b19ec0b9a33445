import { DataType } from '../../ir/dtype';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import type { Converter } from './context';
import { dtCode, OpCode, RedOp, UnsupportedOpError } from './opcodes';
import { normAxis, numel } from './strided';

function req(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) throw new UnsupportedOpError('CUDA_INPUT', `${node.describe()}: input ${i} is missing`, node.name);
  return v;
}
function unusedExtraOutputs(node: Node): void {
  if (node.outputs.slice(1).some((o) => o.hasUses() || o.isGraphOutput)) {
    throw new UnsupportedOpError('CUDA_OUTPUTS', `${node.describe()}: only the first output is supported`, node.name);
  }
}

const REDUCE: Record<string, RedOp> = { ReduceMean: RedOp.MEAN, ReduceSum: RedOp.SUM, ReduceMax: RedOp.MAX };

const reduce: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const rank = xi.dims.length;
  const fromInput = node.inputs[1];
  let axes = fromInput ? ctx.hostInts(fromInput, `${node.op} axes`) : node.attr('axes') ? node.attrInts('axes') : [];
  if (axes.length === 0) {
    if (node.attrInt('noop_with_empty_axes', 0)) {
      ctx.alias(node.outputs[0], x, xi);
      return;
    }
    axes = Array.from({ length: rank }, (_, i) => i);
  }
  const norm = axes.map((a) => normAxis(node, a, rank)).sort((p, q) => p - q);
  const first = norm[0];
  if (norm.some((a, i) => a !== first + i) || norm[norm.length - 1] !== rank - 1) {
    throw new UnsupportedOpError('CUDA_REDUCE', `${node.describe()}: only reductions over trailing axes are supported (axes [${axes.join(', ')}])`, node.name);
  }
  const keep = node.attrInt('keepdims', 1) === 1;
  const dims = keep ? xi.dims.map((d, i) => (i >= first ? 1 : d)) : xi.dims.slice(0, first);
  const o = ctx.define(node.outputs[0], { dims, dtype: xi.dtype });
  const rows = numel(xi.dims.slice(0, first));
  if (rows === 0) return;
  ctx.emit(OpCode.REDUCE, [REDUCE[node.op], dtCode(xi.dtype, node.name), dtCode(xi.dtype, node.name), rows, numel(xi.dims.slice(first)), ctx.ref(x), o]);
};

function rowsCols(node: Node, dims: readonly number[]): [number, number] {
  const axis = normAxis(node, node.attrInt('axis', -1), dims.length);
  return [numel(dims.slice(0, axis)), numel(dims.slice(axis))];
}

function checkScale(node: Node, scaleDims: readonly number[], cols: number, x: DataType, s: DataType): void {
  if (numel(scaleDims) !== cols) throw new UnsupportedOpError('CUDA_NORM', `${node.describe()}: scale must cover the normalised axes (${cols} elements)`, node.name);
  if (s !== x && s !== DataType.FLOAT) throw new UnsupportedOpError('CUDA_NORM', `${node.describe()}: scale dtype must match the input or be float32`, node.name);
}

const rmsNorm: Converter = (node, ctx) => {
  unusedExtraOutputs(node);
  const x = req(node, 0);
  const scale = req(node, 1);
  const xi = ctx.info(x);
  const si = ctx.info(scale);
  const [rows, cols] = rowsCols(node, xi.dims);
  checkScale(node, si.dims, cols, xi.dtype, si.dtype);
  const o = ctx.define(node.outputs[0], xi);
  if (rows) ctx.emit(OpCode.RMSNORM, [dtCode(xi.dtype, node.name), dtCode(si.dtype, node.name), rows, cols, node.attrFloat('epsilon', 1e-5), ctx.ref(x), ctx.ref(scale), o]);
};

const layerNorm: Converter = (node, ctx) => {
  unusedExtraOutputs(node);
  const x = req(node, 0);
  const scale = req(node, 1);
  const bias = node.inputs[2];
  const xi = ctx.info(x);
  const si = ctx.info(scale);
  const [rows, cols] = rowsCols(node, xi.dims);
  checkScale(node, si.dims, cols, xi.dtype, si.dtype);
  if (bias) checkScale(node, ctx.info(bias).dims, cols, xi.dtype, ctx.info(bias).dtype);
  const o = ctx.define(node.outputs[0], xi);
  if (rows) {
    ctx.emit(OpCode.LAYERNORM, [dtCode(xi.dtype, node.name), dtCode(si.dtype, node.name), rows, cols, node.attrFloat('epsilon', 1e-5), ctx.ref(x), ctx.ref(scale), bias ? ctx.ref(bias) : null, o]);
  }
};

const softmax: Converter = (node, ctx) => {
  const x = req(node, 0);
  const xi = ctx.info(x);
  const axis = normAxis(node, node.attrInt('axis', -1), xi.dims.length);
  if (axis !== xi.dims.length - 1) throw new UnsupportedOpError('CUDA_SOFTMAX', `${node.describe()}: only the last axis is supported`, node.name);
  const o = ctx.define(node.outputs[0], xi);
  const cols = xi.dims[axis];
  const rows = numel(xi.dims) / Math.max(cols, 1);
  if (rows) ctx.emit(OpCode.SOFTMAX, [dtCode(xi.dtype, node.name), rows, cols, ctx.ref(x), o]);
};

export const normalizationConverters: Record<string, Converter> = {
  ReduceMean: reduce, ReduceSum: reduce, ReduceMax: reduce,
  RMSNormalization: rmsNorm, LayerNormalization: layerNorm, Softmax: softmax,
};
