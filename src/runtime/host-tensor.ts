/** A tensor in host memory, as backends exchange them (onnxruntime's Tensor satisfies this). */
export type HostDType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8' | 'float64';

export interface HostTensor {
  readonly type: HostDType | string;
  readonly dims: readonly number[];
  readonly data: Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Float64Array | ArrayLike<unknown>;
}

export function int64Host(values: ArrayLike<number | bigint>, dims: readonly number[]): HostTensor {
  return { type: 'int64', dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}

export function numElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
