import { DataType, dataTypeName } from './dtype';

/** A dimension: a number, a symbolic name (e.g. `seq`, `seq+1`) or unknown (null). */
export type Dim = number | string | null;
export type Shape = readonly Dim[];

export interface TensorType {
  readonly kind: 'tensor';
  readonly elemType: DataType;
  /** undefined = unknown rank */
  readonly shape?: Shape;
  readonly denotation?: string;
  /** Per-dimension denotations, kept for the round trip. */
  readonly dimDenotations?: readonly (string | undefined)[];
}
export interface SparseTensorType {
  readonly kind: 'sparse_tensor';
  readonly elemType: DataType;
  readonly shape?: Shape;
  readonly denotation?: string;
}
export interface SequenceType { readonly kind: 'sequence'; readonly elem?: TypeInfo; readonly denotation?: string }
export interface OptionalType { readonly kind: 'optional'; readonly elem?: TypeInfo; readonly denotation?: string }
export interface MapType { readonly kind: 'map'; readonly keyType: DataType; readonly value?: TypeInfo; readonly denotation?: string }
export interface OpaqueType { readonly kind: 'opaque'; readonly domain: string; readonly name: string; readonly denotation?: string }

export type TypeInfo = TensorType | SparseTensorType | SequenceType | OptionalType | MapType | OpaqueType;

export function tensorType(elemType: DataType, shape?: Shape): TensorType {
  return shape === undefined ? { kind: 'tensor', elemType } : { kind: 'tensor', elemType, shape: [...shape] };
}

export function formatShape(shape: Shape | undefined): string {
  if (shape === undefined) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

export function formatType(t: TypeInfo | undefined): string {
  if (!t) return '?';
  switch (t.kind) {
    case 'tensor': return `${dataTypeName(t.elemType)}${formatShape(t.shape)}`;
    case 'sparse_tensor': return `sparse ${dataTypeName(t.elemType)}${formatShape(t.shape)}`;
    case 'sequence': return `seq(${formatType(t.elem)})`;
    case 'optional': return `optional(${formatType(t.elem)})`;
    case 'map': return `map(${dataTypeName(t.keyType)}, ${formatType(t.value)})`;
    case 'opaque': return `opaque(${t.domain}.${t.name})`;
  }
}

export function sameShape(a: Shape | undefined, b: Shape | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
