/**
 * A canonical, JSON-like dump of a Model for structural equality in tests: values are referred to by name
 * (names are unique in a verified model), integers are strings (number and bigint compare alike), bytes are
 * hex. Two models with equal dumps encode to the same ONNX message.
 */
import { Attribute, AttrType, SparseTensorValue } from '../../src/ir/attribute';
import { dataTypeName } from '../../src/ir/dtype';
import type { Graph } from '../../src/ir/graph';
import type { Model } from '../../src/ir/model';
import type { Node } from '../../src/ir/node';
import { ExternalTensor, StringTensor, Tensor } from '../../src/ir/tensor';
import type { TypeInfo } from '../../src/ir/type';
import type { Value } from '../../src/ir/value';

export type Dump = null | boolean | string | number | Dump[] | { [k: string]: Dump };

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const map = (m: ReadonlyMap<string, string>): Dump => [...m].map(([k, v]) => [k, v]);
const unknown = (u: readonly Uint8Array[]): Dump => u.map(hex);

export function dumpModel(m: Model): Dump {
  return {
    irVersion: m.irVersion,
    producer: [m.producerName, m.producerVersion],
    domain: m.domain,
    modelVersion: m.modelVersion,
    doc: m.docString,
    opsets: [...m.opsetImports].sort(([a], [b]) => a.localeCompare(b)).map(([d, v]) => [d, v]),
    metadata: map(m.metadata),
    functions: m.functions.map((f) => ({
      id: f.id,
      doc: f.docString,
      attributeNames: [...f.attributeNames],
      defaults: f.attributeDefaults.map(dumpAttribute),
      opsets: [...f.opsetImports].map(([d, v]) => [d, v]),
      metadata: map(f.metadata),
      body: dumpGraph(f.body),
      unknown: unknown(f.unknownFields),
    })),
    graph: dumpGraph(m.graph),
    unknown: unknown(m.unknownFields),
    extra: Object.keys(m.extra).sort(),
  };
}

export function dumpGraph(g: Graph): Dump {
  return {
    name: g.name,
    doc: g.docString,
    metadata: map(g.metadata),
    inputs: g.inputs.map(dumpValue),
    initializers: [...g.initializers].map(([name, v]) => ({ name, value: dumpValue(v), tensor: v.constValue ? dumpTensor(v.constValue) : null })),
    nodes: g.nodes.toArray().map(dumpNode),
    outputs: g.outputs.map((v) => v.name),
    unknown: unknown(g.unknownFields),
  };
}

function dumpNode(n: Node): Dump {
  const inputs = n.inputs.map((v) => (v ? v.name : null));
  while (inputs.length && inputs[inputs.length - 1] === null) inputs.pop(); // trailing omitted inputs are not written
  return {
    op: n.op,
    domain: n.domain,
    overload: n.overload,
    name: n.name,
    doc: n.docString,
    metadata: map(n.metadata),
    inputs,
    outputs: n.outputs.map((o) => (o.isOmitted ? null : dumpValue(o))),
    attributes: [...n.attributes.values()].map(dumpAttribute),
    unknown: unknown(n.unknownFields),
  };
}

export function dumpValue(v: Value): Dump {
  return { name: v.name, type: dumpType(v.type), doc: v.docString, metadata: map(v.metadata), unknown: unknown(v.unknownFields) };
}

export function dumpType(t: TypeInfo | undefined): Dump {
  if (!t) return null;
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor':
      return {
        kind: t.kind, elem: dataTypeName(t.elemType), shape: t.shape ? t.shape.map((d) => (typeof d === 'number' ? `#${d}` : d)) : null,
        den: t.denotation ?? null, dimDen: t.kind === 'tensor' && t.dimDenotations ? [...t.dimDenotations].map((d) => d ?? null) : null,
      };
    case 'sequence':
    case 'optional':
      return { kind: t.kind, elem: dumpType(t.elem), den: t.denotation ?? null };
    case 'map':
      return { kind: t.kind, key: dataTypeName(t.keyType), value: dumpType(t.value), den: t.denotation ?? null };
    case 'opaque':
      return { kind: t.kind, domain: t.domain, name: t.name, den: t.denotation ?? null };
  }
}

export function dumpTensor(t: Tensor): Dump {
  const base = { dtype: dataTypeName(t.dtype), dims: t.dims.map(String), doc: t.docString, metadata: map(t.metadata), unknown: unknown(t.unknownFields) };
  if (t instanceof StringTensor) return { ...base, strings: t.strings.map(hex) };
  if (t instanceof ExternalTensor && t.isExternal) {
    return { ...base, external: [t.external.location, String(t.external.offset), String(t.external.length)] };
  }
  return { ...base, bytes: hex(t.bytes()) };
}

function dumpSparse(s: SparseTensorValue): Dump {
  return { values: dumpTensor(s.values), indices: dumpTensor(s.indices), dims: s.dims.map(String) };
}

const num = (x: number): Dump => (Number.isNaN(x) ? 'NaN' : Object.is(x, -0) ? '-0' : x);

export function dumpAttribute(a: Attribute): Dump {
  const d = a.data;
  let value: Dump;
  switch (d.type) {
    case AttrType.FLOAT: value = num(d.value); break;
    case AttrType.INT: value = String(d.value); break;
    case AttrType.STRING: value = d.value; break;
    case AttrType.TENSOR: value = dumpTensor(d.value); break;
    case AttrType.GRAPH: value = dumpGraph(d.value); break;
    case AttrType.SPARSE_TENSOR: value = dumpSparse(d.value); break;
    case AttrType.TYPE_PROTO: value = dumpType(d.value); break;
    case AttrType.FLOATS: value = d.value.map(num); break;
    case AttrType.INTS: value = d.value.map(String); break;
    case AttrType.STRINGS: value = [...d.value]; break;
    case AttrType.TENSORS: value = d.value.map(dumpTensor); break;
    case AttrType.GRAPHS: value = d.value.map(dumpGraph); break;
    case AttrType.SPARSE_TENSORS: value = d.value.map(dumpSparse); break;
    case AttrType.TYPE_PROTOS: value = d.value.map(dumpType); break;
  }
  return { name: a.name, type: AttrType[a.type], ref: a.refAttrName ?? null, doc: a.docString, value, unknown: unknown(a.unknownFields) };
}
