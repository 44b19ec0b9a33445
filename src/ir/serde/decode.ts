import * as path from 'path';
import { Attribute, AttrType, AttrValue, SparseTensorValue } from '../attribute';
import { DataType, isKnownDataType } from '../dtype';
import { IrError, OnnxLowerError, SerdeError } from '../errors';
import { Graph } from '../graph';
import { Model, OnnxFunction } from '../model';
import { Node } from '../node';
import type { Dim, TypeInfo } from '../type';
import { Value } from '../value';
import { decodeDims, decodeTensor, TensorDecodeContext } from './decode-tensor';
import { Msg, bytesToString, entries, get } from './proto-access';
import { decodeProto } from './wire';

export interface DecodeOptions {
  /** Folder external-data locations are relative to (the model file's folder). */
  baseDir?: string;
}

/** ONNX ModelProto bytes → Model. Weights stay where they are (views or external references). */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Model {
  let proto: Msg;
  try {
    proto = decodeProto('onnx.ModelProto', bytes) as unknown as Msg;
  } catch (e) {
    if (e instanceof OnnxLowerError) throw e;
    throw new SerdeError('SERDE_MALFORMED', `not a valid ONNX model: ${(e as Error).message}`);
  }
  try {
    return modelFromProto(proto, { baseDir: options.baseDir ? path.resolve(options.baseDir) : undefined });
  } catch (e) {
    // The IR refusing something while a file is decoded (a name defined twice...) means a malformed file.
    if (e instanceof IrError) throw new SerdeError('SERDE_INVALID', `invalid ONNX model: ${e.message}`, e.subject);
    throw e;
  }
}

export function modelFromProto(m: Msg, ctx: TensorDecodeContext): Model {
  const gp = get.msg(m, 'graph');
  if (!gp) throw new SerdeError('SERDE_NO_GRAPH', 'the model has no graph (is this an ONNX model file?)');
  const model = new Model(decodeGraph(gp, null, ctx));
  model.irVersion = get.int(m, 'ir_version', 'model');
  model.producerName = get.str(m, 'producer_name');
  model.producerVersion = get.str(m, 'producer_version');
  model.domain = get.str(m, 'domain');
  model.modelVersion = get.int(m, 'model_version', 'model');
  model.docString = get.str(m, 'doc_string');
  model.baseDir = ctx.baseDir;
  for (const o of get.msgs(m, 'opset_import')) {
    const d = get.str(o, 'domain');
    model.opsetImports.set(d === 'ai.onnx' ? '' : d, get.int(o, 'version', 'opset_import'));
  }
  for (const [k, v] of entries(m, 'metadata_props')) model.metadata.set(k, v);
  for (const f of get.msgs(m, 'functions')) model.functions.push(decodeFunction(f, ctx));
  for (const key of ['training_info', 'configuration']) if (get.has(m, key)) model.extra[key] = m[key];
  model.unknownFields = get.unknown(m);
  return model;
}

function decodeFunction(f: Msg, ctx: TensorDecodeContext): OnnxFunction {
  const name = get.str(f, 'name');
  const body = new Graph(name);
  for (const n of get.strs(f, 'input')) body.addInput(new Value(n));
  buildNodes(body, get.msgs(f, 'node'), ctx, valueInfoTypes(get.msgs(f, 'value_info')));
  body.setOutputs(get.strs(f, 'output').map((n) => lookup(body, n, `output of function '${name}'`)));
  const fn = new OnnxFunction(get.str(f, 'domain'), name, body, get.str(f, 'overload'));
  fn.docString = get.str(f, 'doc_string');
  fn.attributeNames = [...get.strs(f, 'attribute')];
  fn.attributeDefaults = get.msgs(f, 'attribute_proto').map((a) => decodeAttribute(a, body, ctx));
  for (const o of get.msgs(f, 'opset_import')) fn.opsetImports.set(get.str(o, 'domain'), get.int(o, 'version', 'opset_import'));
  for (const [k, v] of entries(f, 'metadata_props')) fn.metadata.set(k, v);
  fn.unknownFields = get.unknown(f);
  return fn;
}

function decodeGraph(gp: Msg, outer: Graph | null, ctx: TensorDecodeContext): Graph {
  const g = new Graph(get.str(gp, 'name'), outer);
  g.docString = get.str(gp, 'doc_string');
  for (const [k, v] of entries(gp, 'metadata_props')) g.metadata.set(k, v);
  g.unknownFields = get.unknown(gp);
  if (get.msgs(gp, 'sparse_initializer').length) {
    throw new SerdeError('SERDE_UNSUPPORTED', `graph '${g.name}' has sparse initializers, which onnx-lower does not support`, g.name);
  }
  if (get.has(gp, 'quantization_annotation')) g.extra.quantization_annotation = gp.quantization_annotation;

  for (const vi of get.msgs(gp, 'input')) {
    const v = new Value(get.str(vi, 'name'));
    applyValueInfo(v, vi);
    if (!v.name) throw new SerdeError('SERDE_NAME', `graph '${g.name}' has an input with no name`, g.name);
    g.addInput(v);
  }
  const infos = valueInfoTypes(get.msgs(gp, 'value_info'));
  for (const tp of get.msgs(gp, 'initializer')) {
    const t = decodeTensor(tp, ctx);
    if (!t.name) throw new SerdeError('SERDE_NAME', `graph '${g.name}' has an initializer with no name`, g.name);
    const asInput = g.inputs.find((i) => i.name === t.name);
    if (asInput) {
      if (g.initializers.has(t.name)) throw new SerdeError('SERDE_DUPLICATE', `initializer '${t.name}' is defined twice`, t.name);
      g.setInitializerOf(asInput, t);
    } else {
      if (g.names.has(t.name)) throw new SerdeError('SERDE_DUPLICATE', `initializer '${t.name}' is defined twice`, t.name);
      const v = g.addInitializer(t.name, t, { exactName: true });
      v.type = { kind: 'tensor', elemType: t.dtype, shape: [...t.dims] };
      // Exporters describe initializers in value_info too (types, metadata_props): keep that.
      const info = infos.get(t.name);
      if (info) {
        applyValueInfo(v, info);
        v._inValueInfo = true;
      }
    }
  }
  buildNodes(g, get.msgs(gp, 'node'), ctx, infos);
  for (const vi of get.msgs(gp, 'output')) {
    const v = lookup(g, get.str(vi, 'name'), `output of graph '${g.name}'`);
    applyValueInfo(v, vi);
    g.addOutput(v);
  }
  return g;
}

/** Creates nodes in two phases so inputs may name values produced later (bad order is verify's to report). */
function buildNodes(g: Graph, nodes: readonly Msg[], ctx: TensorDecodeContext, infos: Map<string, Msg>): void {
  const shells: [Msg, Node][] = [];
  for (const np of nodes) {
    const outputs = get.strs(np, 'output').map((name) => (name ? { name } : { omitted: true }));
    const node = new Node({
      op: get.str(np, 'op_type'), domain: get.str(np, 'domain'), overload: get.str(np, 'overload'),
      name: get.str(np, 'name'), outputs,
    });
    if (!node.op) throw new SerdeError('SERDE_NODE', `a node${node.name ? ` '${node.name}'` : ''} in graph '${g.name}' has no op_type`, node.name);
    const seen = new Set<string>();
    for (const out of node.outputs) {
      if (out.isOmitted) continue;
      if (g.names.has(out.name) || seen.has(out.name)) {
        throw new SerdeError('SERDE_DUPLICATE', `value '${out.name}' is produced twice (node ${node.describe()})`, out.name);
      }
      seen.add(out.name);
    }
    node.docString = get.str(np, 'doc_string');
    for (const [k, v] of entries(np, 'metadata_props')) node.metadata.set(k, v);
    if (get.has(np, 'device_configurations')) node.extra.device_configurations = np.device_configurations;
    if (np.$unknown?.length) node.unknownFields = get.unknown(np);
    g.append(node);
    for (const out of node.outputs) {
      const info = infos.get(out.name);
      if (info) applyValueInfo(out, info);
    }
    shells.push([np, node]);
  }
  for (const [np, node] of shells) {
    for (const name of get.strs(np, 'input')) node.appendInput(name ? lookup(g, name, () => `input of node ${node.describe()}`) : null);
    for (const ap of get.msgs(np, 'attribute')) {
      const a = decodeAttribute(ap, g, ctx);
      node.setAttr(a);
    }
  }
}

/** `what` names the reference for the error (a function where building the text costs: only on failure). */
function lookup(g: Graph, name: string, what: string | (() => string)): Value {
  const v = g.names.lookup(name);
  if (!v || !g.isInScope(v)) throw new SerdeError('SERDE_UNDEFINED', `${typeof what === 'string' ? what : what()} refers to '${name}', which is not defined`, name);
  return v;
}

function valueInfoTypes(infos: readonly Msg[]): Map<string, Msg> {
  const map = new Map<string, Msg>();
  for (const vi of infos) map.set(get.str(vi, 'name'), vi);
  return map;
}

function applyValueInfo(v: Value, vi: Msg): void {
  const tp = get.msg(vi, 'type');
  if (tp) v.type = decodeType(tp);
  v.docString = get.str(vi, 'doc_string');
  for (const [k, val] of entries(vi, 'metadata_props')) v.metadata.set(k, val);
  if (vi.$unknown?.length) v.unknownFields = get.unknown(vi);
}

export function decodeType(tp: Msg, depth = 0): TypeInfo {
  if (depth > 32) throw new SerdeError('SERDE_TOO_DEEP', 'type nesting deeper than 32 levels');
  refuseUnknown(tp, 'a TypeProto');
  const denotation = get.optStr(tp, 'denotation');
  const t = decodeTypeBody(tp, depth);
  // Written without spreads or closures: a big graph decodes one of these per typed value.
  if (denotation !== undefined) (t as { denotation?: string }).denotation = denotation;
  return t;
}

function refuseUnknown(m: Msg, what: string): void {
  if (m.$unknown !== undefined && m.$unknown.length) throw new SerdeError('SERDE_UNKNOWN_FIELD', `${what} has fields this schema does not know; refusing to drop them`);
}

function decodeTypeBody(tp: Msg, depth: number): TypeInfo {
  const tensorMsg = get.msg(tp, 'tensor_type');
  const tensor = tensorMsg ?? get.msg(tp, 'sparse_tensor_type');
  if (tensor) {
    refuseUnknown(tensor, 'a TypeProto.Tensor');
    const elemType = get.int(tensor, 'elem_type', 'tensor type');
    if (!isKnownDataType(elemType)) throw new SerdeError('SERDE_DTYPE', `unknown tensor element type ${elemType}`);
    const shapeMsg = get.msg(tensor, 'shape');
    const out: { kind: 'tensor' | 'sparse_tensor'; elemType: DataType; shape?: Dim[]; dimDenotations?: (string | undefined)[] } = {
      kind: tensorMsg ? 'tensor' : 'sparse_tensor', elemType: elemType as DataType,
    };
    if (shapeMsg) {
      refuseUnknown(shapeMsg, 'a TensorShapeProto');
      const dims = get.msgs(shapeMsg, 'dim');
      const shape: Dim[] = new Array(dims.length);
      let dimDenotations: (string | undefined)[] | undefined;
      for (let i = 0; i < dims.length; i++) {
        const d = dims[i];
        refuseUnknown(d, 'a TensorShapeProto.Dimension');
        if (d.dim_value !== undefined) shape[i] = get.int(d, 'dim_value', 'dimension');
        else if (d.dim_param !== undefined) shape[i] = get.str(d, 'dim_param');
        else shape[i] = null;
        const den = get.optStr(d, 'denotation');
        if (den !== undefined) {
          dimDenotations ??= [];
          dimDenotations[i] = den;
        }
      }
      out.shape = shape;
      if (dimDenotations) out.dimDenotations = dimDenotations;
    }
    return out as TypeInfo;
  }
  const seq = get.msg(tp, 'sequence_type');
  if (seq) {
    const e = get.msg(seq, 'elem_type');
    return e ? { kind: 'sequence', elem: decodeType(e, depth + 1) } : { kind: 'sequence' };
  }
  const opt = get.msg(tp, 'optional_type');
  if (opt) {
    const e = get.msg(opt, 'elem_type');
    return e ? { kind: 'optional', elem: decodeType(e, depth + 1) } : { kind: 'optional' };
  }
  const map = get.msg(tp, 'map_type');
  if (map) {
    const vt = get.msg(map, 'value_type');
    const keyType = get.int(map, 'key_type', 'map type') as DataType;
    return vt ? { kind: 'map', keyType, value: decodeType(vt, depth + 1) } : { kind: 'map', keyType };
  }
  const opaque = get.msg(tp, 'opaque_type');
  if (opaque) return { kind: 'opaque', domain: get.str(opaque, 'domain'), name: get.str(opaque, 'name') };
  throw new SerdeError('SERDE_TYPE', 'a TypeProto sets no type');
}

function decodeSparse(m: Msg, ctx: TensorDecodeContext): SparseTensorValue {
  const values = get.msg(m, 'values');
  const indices = get.msg(m, 'indices');
  if (!values || !indices) throw new SerdeError('SERDE_SPARSE', 'a sparse tensor lacks values or indices');
  return { values: decodeTensor(values, ctx), indices: decodeTensor(indices, ctx), dims: decodeDims(m, 'dims', 'sparse tensor') };
}

function decodeAttribute(ap: Msg, owner: Graph, ctx: TensorDecodeContext): Attribute {
  const name = get.str(ap, 'name');
  const what = `attribute '${name}'`;
  let type = get.int(ap, 'type', what) as AttrType;
  if (!type) type = inferAttrType(ap, what);
  const ints = () => Array.from(get.nums(ap, 'ints'), (x) => normaliseIntValue(x));
  let data: AttrValue;
  switch (type) {
    case AttrType.FLOAT: data = { type, value: Number(ap.f ?? 0) }; break;
    case AttrType.INT: data = { type, value: normaliseIntValue(ap.i ?? 0) }; break;
    case AttrType.STRING: data = { type, value: bytesToString(get.bytes(ap, 's') ?? new Uint8Array()) }; break;
    case AttrType.TENSOR: {
      const t = get.msg(ap, 't');
      if (!t) throw new SerdeError('SERDE_ATTR', `${what} of type TENSOR has no tensor`, name);
      data = { type, value: decodeTensor(t, ctx) };
      break;
    }
    case AttrType.GRAPH: {
      const g = get.msg(ap, 'g');
      if (!g) throw new SerdeError('SERDE_ATTR', `${what} of type GRAPH has no graph`, name);
      data = { type, value: decodeGraph(g, owner, ctx) };
      break;
    }
    case AttrType.SPARSE_TENSOR: {
      const s = get.msg(ap, 'sparse_tensor');
      if (!s) throw new SerdeError('SERDE_ATTR', `${what} of type SPARSE_TENSOR has no value`, name);
      data = { type, value: decodeSparse(s, ctx) };
      break;
    }
    case AttrType.TYPE_PROTO: {
      const t = get.msg(ap, 'tp');
      if (!t) throw new SerdeError('SERDE_ATTR', `${what} of type TYPE_PROTO has no value`, name);
      data = { type, value: decodeType(t) };
      break;
    }
    case AttrType.FLOATS: data = { type, value: Array.from(get.nums(ap, 'floats'), Number) }; break;
    case AttrType.INTS: data = { type, value: ints() }; break;
    case AttrType.STRINGS: data = { type, value: get.bytesList(ap, 'strings').map(bytesToString) }; break;
    case AttrType.TENSORS: data = { type, value: get.msgs(ap, 'tensors').map((t) => decodeTensor(t, ctx)) }; break;
    case AttrType.GRAPHS: data = { type, value: get.msgs(ap, 'graphs').map((g) => decodeGraph(g, owner, ctx)) }; break;
    case AttrType.SPARSE_TENSORS: data = { type, value: get.msgs(ap, 'sparse_tensors').map((s) => decodeSparse(s, ctx)) }; break;
    case AttrType.TYPE_PROTOS: data = { type, value: get.msgs(ap, 'type_protos').map((t) => decodeType(t)) }; break;
    default:
      throw new SerdeError('SERDE_ATTR', `${what} has unknown attribute type ${type}`, name);
  }
  const a = new Attribute(name, data, get.optStr(ap, 'ref_attr_name'));
  a.docString = get.str(ap, 'doc_string');
  a.unknownFields = get.unknown(ap);
  return a;
}

/** IR version 1 files have no AttributeProto.type: infer it from the field that is set. */
function inferAttrType(ap: Msg, what: string): AttrType {
  const order: [string, AttrType][] = [
    ['f', AttrType.FLOAT], ['i', AttrType.INT], ['s', AttrType.STRING], ['t', AttrType.TENSOR], ['g', AttrType.GRAPH],
    ['sparse_tensor', AttrType.SPARSE_TENSOR], ['tp', AttrType.TYPE_PROTO], ['floats', AttrType.FLOATS], ['ints', AttrType.INTS],
    ['strings', AttrType.STRINGS], ['tensors', AttrType.TENSORS], ['graphs', AttrType.GRAPHS],
    ['sparse_tensors', AttrType.SPARSE_TENSORS], ['type_protos', AttrType.TYPE_PROTOS],
  ];
  for (const [f, t] of order) {
    const v = ap[f];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && !(ArrayBuffer.isView(v) && (v as ArrayBufferView).byteLength === 0 && f !== 's')) return t;
  }
  throw new SerdeError('SERDE_ATTR', `${what} has no type and no value`);
}

function normaliseIntValue(x: unknown): number | bigint {
  if (typeof x === 'bigint') return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  if (typeof x === 'number') return x;
  throw new SerdeError('SERDE_ATTR', 'an integer attribute value is not a number');
}
