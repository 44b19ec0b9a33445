/** ONNX TensorProto.DataType codes (IR version 11 and later additions). */
export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

const BITS: Record<number, number> = {
  [DataType.FLOAT]: 32, [DataType.UINT8]: 8, [DataType.INT8]: 8, [DataType.UINT16]: 16, [DataType.INT16]: 16,
  [DataType.INT32]: 32, [DataType.INT64]: 64, [DataType.BOOL]: 8, [DataType.FLOAT16]: 16, [DataType.DOUBLE]: 64,
  [DataType.UINT32]: 32, [DataType.UINT64]: 64, [DataType.COMPLEX64]: 64, [DataType.COMPLEX128]: 128,
  [DataType.BFLOAT16]: 16, [DataType.FLOAT8E4M3FN]: 8, [DataType.FLOAT8E4M3FNUZ]: 8, [DataType.FLOAT8E5M2]: 8,
  [DataType.FLOAT8E5M2FNUZ]: 8, [DataType.UINT4]: 4, [DataType.INT4]: 4, [DataType.FLOAT4E2M1]: 4,
  [DataType.FLOAT8E8M0]: 8, [DataType.UINT2]: 2, [DataType.INT2]: 2,
};

/** Bits one element occupies in raw_data; undefined for STRING/UNDEFINED and unknown codes. */
export function bitsPerElement(dtype: DataType): number | undefined {
  return BITS[dtype];
}

export function isKnownDataType(code: number): code is DataType {
  return Number.isInteger(code) && code >= 0 && code <= DataType.INT2;
}

/** Packed byte size of `count` elements (sub-byte types round up). */
export function byteSizeOf(dtype: DataType, count: number): number {
  const bits = BITS[dtype];
  if (bits === undefined) throw new RangeError(`data type ${dataTypeName(dtype)} has no fixed element size`);
  return Math.ceil((count * bits) / 8);
}

export function dataTypeName(dtype: DataType | number): string {
  return DataType[dtype] ?? `DTYPE_${dtype}`;
}

export function isFloatType(dtype: DataType): boolean {
  return dtype === DataType.FLOAT || dtype === DataType.FLOAT16 || dtype === DataType.BFLOAT16 || dtype === DataType.DOUBLE;
}

export function isIntegerType(dtype: DataType): boolean {
  return [DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64, DataType.UINT8, DataType.UINT16,
    DataType.UINT32, DataType.UINT64].includes(dtype);
}
