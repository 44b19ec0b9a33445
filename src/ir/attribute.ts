import type { Graph } from './graph';
import type { Tensor } from './tensor';
import type { TypeInfo } from './type';

/** AttributeProto.AttributeType codes. */
export enum AttrType {
  UNDEFINED = 0, FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, GRAPH = 5, SPARSE_TENSOR = 11, TYPE_PROTO = 13,
  FLOATS = 6, INTS = 7, STRINGS = 8, TENSORS = 9, GRAPHS = 10, SPARSE_TENSORS = 12, TYPE_PROTOS = 14,
}

/** Integers keep int64 exactness: numbers when safe, bigint otherwise. */
export type IntValue = number | bigint;

/** A sparse tensor is kept as its decoded parts (values/indices tensors and dims). */
export interface SparseTensorValue {
  readonly values: Tensor;
  readonly indices: Tensor;
  readonly dims: readonly number[];
}

export type AttrValue =
  | { readonly type: AttrType.FLOAT; readonly value: number }
  | { readonly type: AttrType.INT; readonly value: IntValue }
  | { readonly type: AttrType.STRING; readonly value: string }
  | { readonly type: AttrType.TENSOR; readonly value: Tensor }
  | { readonly type: AttrType.GRAPH; readonly value: Graph }
  | { readonly type: AttrType.SPARSE_TENSOR; readonly value: SparseTensorValue }
  | { readonly type: AttrType.TYPE_PROTO; readonly value: TypeInfo }
  | { readonly type: AttrType.FLOATS; readonly value: readonly number[] }
  | { readonly type: AttrType.INTS; readonly value: readonly IntValue[] }
  | { readonly type: AttrType.STRINGS; readonly value: readonly string[] }
  | { readonly type: AttrType.TENSORS; readonly value: readonly Tensor[] }
  | { readonly type: AttrType.GRAPHS; readonly value: readonly Graph[] }
  | { readonly type: AttrType.SPARSE_TENSORS; readonly value: readonly SparseTensorValue[] }
  | { readonly type: AttrType.TYPE_PROTOS; readonly value: readonly TypeInfo[] };

/** A node attribute. In function bodies `refAttrName` may stand in for the value. */
export class Attribute {
  docString = '';
  unknownFields: Uint8Array[] = [];
  constructor(
    readonly name: string,
    readonly data: AttrValue,
    readonly refAttrName?: string,
  ) {}

  get type(): AttrType {
    return this.data.type;
  }
  get value(): AttrValue['value'] {
    return this.data.value;
  }

  static float(name: string, value: number): Attribute { return new Attribute(name, { type: AttrType.FLOAT, value }); }
  static int(name: string, value: IntValue): Attribute { return new Attribute(name, { type: AttrType.INT, value: normaliseInt(value) }); }
  static string(name: string, value: string): Attribute { return new Attribute(name, { type: AttrType.STRING, value }); }
  static ints(name: string, value: readonly IntValue[]): Attribute { return new Attribute(name, { type: AttrType.INTS, value: value.map(normaliseInt) }); }
  static floats(name: string, value: readonly number[]): Attribute { return new Attribute(name, { type: AttrType.FLOATS, value }); }
  static tensor(name: string, value: Tensor): Attribute { return new Attribute(name, { type: AttrType.TENSOR, value }); }
  static graph(name: string, value: Graph): Attribute { return new Attribute(name, { type: AttrType.GRAPH, value }); }
}

/** A bigint in the safe range becomes a number; others stay bigint. */
export function normaliseInt(v: IntValue): IntValue {
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

/** Plain JS values accepted where attributes are built from literals. */
export type AttrLiteral = number | string | readonly number[] | readonly string[] | Tensor | Graph | bigint;
