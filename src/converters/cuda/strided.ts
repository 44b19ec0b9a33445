import type { Node } from '../../ir/node';
import type { Arg, DeviceRef } from './context';
import { MAX_RANK, UnsupportedOpError } from './opcodes';

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

export function broadcastShape(node: Node, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new UnsupportedOpError('CUDA_SHAPE', `${node.describe()}: shapes [${shapes.map((x) => x.join(',')).join('] [')}] do not broadcast`, node.name);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

/** Strides (elements) to read `inDims` broadcast to `outDims` (right-aligned, 0 where broadcast). */
export function broadcastStrides(inDims: readonly number[], outDims: readonly number[]): number[] {
  const cs = contiguousStrides(inDims);
  const off = outDims.length - inDims.length;
  return outDims.map((d, i) => {
    const j = i - off;
    if (j < 0) return 0;
    return inDims[j] === 1 && d !== 1 ? 0 : cs[j];
  });
}

/**
 * Drops size-1 axes and merges neighbours that are contiguous in every stride set, so that most copies and
 * elementwise ops fit the kernels' rank limit and index cheaply.
 */
export function simplify(dims: readonly number[], strides: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const keep = dims.map((d, i) => i).filter((i) => dims[i] !== 1);
  let d = keep.map((i) => dims[i]);
  let s = strides.map((st) => keep.map((i) => st[i]));
  for (let i = d.length - 1; i > 0; i--) {
    if (s.every((st) => st[i - 1] === st[i] * d[i])) {
      d[i - 1] *= d[i];
      d.splice(i, 1);
      s = s.map((st) => (st.splice(i - 1, 2, st[i]), st));
    }
  }
  if (d.length === 0) {
    d = [1];
    s = s.map(() => [1]);
  }
  return { dims: d, strides: s };
}

/** Encodes rank, dims[6] and the stride sets (each padded to 6) as kernel arguments. */
export function ndArgs(node: Node, dims: readonly number[], strides: readonly (readonly number[])[]): Arg[] {
  const simple = simplify(dims, strides);
  if (simple.dims.length > MAX_RANK) throw new UnsupportedOpError('CUDA_RANK', `${node.describe()}: rank ${simple.dims.length} after simplification exceeds ${MAX_RANK}`, node.name);
  const pad = (a: readonly number[]) => [...a, ...new Array<number>(MAX_RANK - a.length).fill(0)];
  return [simple.dims.length, ...pad(simple.dims), ...simple.strides.flatMap(pad)];
}

export function offsetRef(r: DeviceRef, bytes: number): DeviceRef {
  return { buf: r.buf, offset: r.offset + bytes };
}

export function normAxis(node: Node, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new UnsupportedOpError('CUDA_AXIS', `${node.describe()}: axis ${axis} out of range for rank ${rank}`, node.name);
  return a;
}
