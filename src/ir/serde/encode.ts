import { Attribute, AttrType, SparseTensorValue } from '../attribute';
import { DataType } from '../dtype';
import type { Graph } from '../graph';
import type { Model, OnnxFunction } from '../model';
import type { Node } from '../node';
import { ExternalTensor, StringTensor, Tensor } from '../tensor';
import type { TypeInfo } from '../type';
import type { Value } from '../value';
import { Msg, stringToBytes } from './proto-access';
import { encodeProto, ProtoMessage } from './wire';

/** Where one tensor's bytes go when saving. */
export type TensorPlacement =
  | { kind: 'inline' }
  | { kind: 'external'; location: string; offset: number; length: number; extra?: ReadonlyArray<readonly [string, string]> };

export interface EncodeOptions {
  /** Decides inline vs external per tensor; default: everything inline (external tensors are read). */
  place?: (t: Tensor) => TensorPlacement;
}

/**
 * A placement that leaves external tensors where they are (same location, offset and length) and writes
 * the rest inline: re-encoding a loaded model this way reads no weight bytes. The result is meant to sit
 * next to the original data files (same folder).
 */
export function keepExternal(t: Tensor): TensorPlacement {
  if (t instanceof ExternalTensor && t.isExternal) {
    const { location, offset, length, extra } = t.external;
    return { kind: 'external', location, offset, length, ...(extra && extra.length ? { extra } : {}) };
  }
  return { kind: 'inline' };
}

export function encodeModel(model: Model, options: EncodeOptions = {}): Uint8Array {
  return encodeProto('onnx.ModelProto', modelToProto(model, options) as unknown as ProtoMessage);
}

export function modelToProto(model: Model, options: EncodeOptions = {}): Msg {
  const place = options.place ?? (() => ({ kind: 'inline' }) as const);
  const enc = new Encoder(place);
  const m: Msg = {
    ir_version: BigInt(model.irVersion),
    opset_import: [...model.opsetImports].map(([domain, version]) => ({ domain, version: BigInt(version) })),
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    domain: model.domain,
    // 0 is the default: leave it out, as protobuf writers do for an unset field.
    model_version: model.modelVersion ? BigInt(model.modelVersion) : undefined,
    doc_string: model.docString,
    graph: enc.graph(model.graph),
    metadata_props: props(model.metadata),
    functions: model.functions.map((f) => enc.func(f)),
  };
  for (const [k, v] of Object.entries(model.extra)) m[k] = v;
  return finish(m, model.unknownFields);
}

function props(map: ReadonlyMap<string, string> | undefined): Msg[] {
  return map ? [...map].map(([key, value]) => ({ key, value })) : [];
}

/**
 * Keeps the set optional fields (so the output matches what protobuf writers emit) and attaches unknowns.
 * Copies into a fresh object instead of deleting keys: deleting would turn every message into a slow
 * dictionary-mode object for the wire encoder.
 */
function finish(m: Msg, unknown: readonly Uint8Array[] | undefined): Msg {
  const out: Msg = {};
  for (const k in m) {
    const v = m[k];
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  if (unknown && unknown.length) out.$unknown = [...unknown];
  return out;
}

class Encoder {
  constructor(private readonly place: (t: Tensor) => TensorPlacement) {}

  func(f: OnnxFunction): Msg {
    const body = f.body;
    return finish({
      name: f.name,
      domain: f.domain,
      overload: f.overload,
      input: body.inputs.map((v) => v.name),
      output: body.outputs.map((v) => v.name),
      attribute: f.attributeNames,
      attribute_proto: f.attributeDefaults.map((a) => this.attribute(a)),
      node: body.nodes.toArray().map((n) => this.node(n)),
      value_info: this.valueInfos(body, new Set([...body.inputs, ...body.outputs])),
      opset_import: [...f.opsetImports].map(([domain, version]) => ({ domain, version: BigInt(version) })),
      doc_string: f.docString,
      metadata_props: props(f.metadata),
    }, f.unknownFields);
  }

  graph(g: Graph): Msg {
    const io = new Set<Value>([...g.inputs, ...g.outputs]);
    const m: Msg = {
      node: g.nodes.toArray().map((n) => this.node(n)),
      name: g.name,
      initializer: [...g.initializers.values()].map((v) => this.tensor(v.constValue as Tensor, v.name)),
      doc_string: g.docString,
      input: g.inputs.map((v) => this.valueInfo(v)),
      output: g.outputs.map((v) => this.valueInfo(v)),
      value_info: this.valueInfos(g, io),
      metadata_props: props(g.metadata),
    };
    for (const [k, v] of Object.entries(g.extra)) m[k] = v;
    return finish(m, g.unknownFields);
  }

  /**
   * value_info: initializers that the source file described there or that carry more than their tensor
   * says (metadata, doc, a declared type that differs), then typed intermediate values (node outputs that are not graph inputs/outputs).
   */
  private valueInfos(g: Graph, skip: Set<Value>): Msg[] {
    const out: Msg[] = [];
    for (const v of g.initializers.values()) {
      if (skip.has(v)) continue;
      if (v._inValueInfo || v.docString || v._metadataIfAny() || v._unknownIfAny() || !typeIsTensorOf(v)) out.push(this.valueInfo(v));
    }
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        if (o.isOmitted || skip.has(o)) continue;
        if (o.type || o.docString || o._metadataIfAny() || o._unknownIfAny()) out.push(this.valueInfo(o));
      }
    }
    return out;
  }

  valueInfo(v: Value): Msg {
    return finish({
      name: v.name,
      type: v.type ? typeProto(v.type) : undefined,
      doc_string: v.docString,
      metadata_props: props(v._metadataIfAny()),
    }, v._unknownIfAny());
  }

  node(n: Node): Msg {
    const m: Msg = {
      input: n.inputs.map((v) => v?.name ?? ''),
      output: n.outputs.map((v) => (v.isOmitted ? '' : v.name)),
      name: n.name,
      op_type: n.op,
      domain: n.domain,
      overload: n.overload,
      attribute: [...n.attributes.values()].map((a) => this.attribute(a)),
      doc_string: n.docString,
      metadata_props: props(n._metadataIfAny()),
    };
    // Trailing omitted inputs are not written, as exporters do.
    const inputs = m.input as string[];
    while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
    const extra = n._extraIfAny();
    if (extra) for (const [k, v] of Object.entries(extra)) m[k] = v;
    return finish(m, n._unknownIfAny());
  }

  attribute(a: Attribute): Msg {
    const m: Msg = { name: a.name, type: a.type, doc_string: a.docString, ref_attr_name: a.refAttrName };
    const d = a.data;
    switch (d.type) {
      case AttrType.FLOAT: m.f = d.value; break;
      case AttrType.INT: m.i = BigInt(d.value); break;
      case AttrType.STRING: m.s = stringToBytes(d.value); break;
      case AttrType.TENSOR: m.t = this.tensor(d.value); break;
      case AttrType.GRAPH: m.g = this.graph(d.value); break;
      case AttrType.SPARSE_TENSOR: m.sparse_tensor = this.sparse(d.value); break;
      case AttrType.TYPE_PROTO: m.tp = typeProto(d.value); break;
      case AttrType.FLOATS: m.floats = [...d.value]; break;
      case AttrType.INTS: m.ints = d.value.map((x) => BigInt(x)); break;
      case AttrType.STRINGS: m.strings = d.value.map(stringToBytes); break;
      case AttrType.TENSORS: m.tensors = d.value.map((t) => this.tensor(t)); break;
      case AttrType.GRAPHS: m.graphs = d.value.map((g) => this.graph(g)); break;
      case AttrType.SPARSE_TENSORS: m.sparse_tensors = d.value.map((s) => this.sparse(s)); break;
      case AttrType.TYPE_PROTOS: m.type_protos = d.value.map(typeProto); break;
    }
    const out = finish(m, a.unknownFields);
    // An INT/FLOAT of zero must still be written: `finish` only drops strings and lists.
    return out;
  }

  sparse(s: SparseTensorValue): Msg {
    return { values: this.tensor(s.values), indices: this.tensor(s.indices), dims: s.dims.map((d) => BigInt(d)) };
  }

  tensor(t: Tensor, name = t.name): Msg {
    const m: Msg = { dims: t.dims.map((d) => BigInt(d)), data_type: t.dtype, name, doc_string: t.docString, metadata_props: props(t.metadata) };
    if (t instanceof StringTensor) {
      m.string_data = [...t.strings];
    } else {
      const p = this.place(t);
      if (p.kind === 'external') {
        m.data_location = 1;
        m.external_data = [
          { key: 'location', value: p.location },
          { key: 'offset', value: String(p.offset) },
          { key: 'length', value: String(p.length) },
          ...(p.extra ?? []).map(([key, value]) => ({ key, value })),
        ];
      } else {
        m.raw_data = t.bytes();
      }
    }
    if (t.dtype === DataType.UNDEFINED) delete m.data_type;
    return finish(m, t.unknownFields);
  }
}

/** True when the value's declared type is exactly what its initializer tensor implies (nothing to write). */
function typeIsTensorOf(v: Value): boolean {
  const t = v.constValue;
  const ty = v.type;
  if (!t) return true;
  if (!ty) return true;
  if (ty.kind !== 'tensor' || ty.elemType !== t.dtype || ty.denotation !== undefined || ty.dimDenotations !== undefined) return false;
  return ty.shape !== undefined && ty.shape.length === t.dims.length && ty.shape.every((d, i) => d === t.dims[i]);
}

export function typeProto(t: TypeInfo): Msg {
  const den = t.denotation !== undefined ? { denotation: t.denotation } : {};
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor': {
      const inner: Msg = { elem_type: t.elemType };
      if (t.shape) {
        const dd = t.kind === 'tensor' ? t.dimDenotations : undefined;
        inner.shape = {
          dim: t.shape.map((d, i) => {
            const dim: Msg = d === null ? {} : typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d };
            if (dd?.[i] !== undefined) dim.denotation = dd[i];
            return dim;
          }),
        };
      }
      return { [t.kind === 'tensor' ? 'tensor_type' : 'sparse_tensor_type']: inner, ...den };
    }
    case 'sequence': return { sequence_type: t.elem ? { elem_type: typeProto(t.elem) } : {}, ...den };
    case 'optional': return { optional_type: t.elem ? { elem_type: typeProto(t.elem) } : {}, ...den };
    case 'map': return { map_type: { key_type: t.keyType, ...(t.value ? { value_type: typeProto(t.value) } : {}) }, ...den };
    case 'opaque': return { opaque_type: { domain: t.domain, name: t.name }, ...den };
  }
}
