import * as fs from 'fs';
import * as path from 'path';
import * as fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { SerdeError } from '../../../src/ir/errors';
import {
  AttributeTypeCode,
  DataTypeCode,
  MAX_PROTO_DEPTH,
  ProtoMessage,
  WireCodec,
  decodeProto,
  encodeProto,
  encodeProtoChunks,
  protoRoot,
} from '../../../src/ir/serde/wire';

// Compare byte arrays natively (jest's element-by-element comparison of 700 kB weights is slow).
(expect as unknown as { addEqualityTesters(testers: ((a: unknown, b: unknown) => boolean | undefined)[]): void }).addEqualityTesters([
  (a, b) => (a instanceof Uint8Array && b instanceof Uint8Array && a.constructor === b.constructor ? Buffer.compare(a, b) === 0 : undefined),
]);

const FIXTURES = path.join(__dirname, '..', '..', '..', 'fixtures', 'exports');
const fixtureFiles = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.onnx')).sort();

// ----------------------------------------------------------------------------------------------
// Small wire-building helpers for hand-made inputs

function varint(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}
const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const len = (field: number, body: ArrayLike<number>): number[] => [...tag(field, 2), ...varint(body.length), ...Array.from(body)];
const utf8 = (s: string): number[] => Array.from(Buffer.from(s, 'utf8'));
const bytes = (...parts: number[][]): Uint8Array => new Uint8Array(parts.flat());

function expectSerdeError(fn: () => unknown, code?: string): SerdeError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SerdeError);
  if (code !== undefined) expect((err as SerdeError).code).toBe(code);
  return err as SerdeError;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function forEachTensor(m: ProtoMessage, fn: (t: ProtoMessage) => void): void {
  const g = m.graph as ProtoMessage;
  for (const t of (g.initializer as ProtoMessage[] | undefined) ?? []) fn(t);
  for (const n of (g.node as ProtoMessage[] | undefined) ?? []) {
    for (const a of (n.attribute as ProtoMessage[] | undefined) ?? []) if (a.t) fn(a.t as ProtoMessage);
  }
}

// ----------------------------------------------------------------------------------------------

// Timing lives in bench/serde (npm run bench:serde), never in tests: this checks the 100k-node round trip only.
describe('large graphs', () => {
  test('a 100k-node GraphProto round-trips', () => {
    const ops = ['MatMul', 'Add', 'Mul', 'Reshape', 'Transpose', 'Softmax'];
    const node: ProtoMessage[] = [];
    for (let i = 0; i < 100_000; i++) {
      node.push({
        input: [`/model/layers.${i >> 6}/h_${i}`, `onnx::weight_${i % 977}`],
        output: [`/model/layers.${i >> 6}/h_${i + 1}`],
        name: `/model/layers.${i >> 6}/${ops[i % ops.length]}_${i}`,
        op_type: ops[i % ops.length]!,
        domain: '',
        attribute: i % 3 === 0 ? [{ name: 'perm', type: 7, ints: [0n, 2n, 1n, 3n] }] : i % 3 === 1 ? [{ name: 'axis', type: 2, i: -1n }] : [],
      });
    }
    const graph: ProtoMessage = { node, name: 'big' };
    const bytes = encodeProto('onnx.GraphProto', graph);
    const back = decodeProto('onnx.GraphProto', bytes);
    expect((back.node as ProtoMessage[]).length).toBe(100_000);
    const backNodes = back.node as ProtoMessage[];
    expect(backNodes[0]).toEqual(node[0]);
    expect(backNodes[99_999]).toEqual(node[99_999]);
    const { attribute: _none, ...withoutAttrs } = node[2]!; // empty repeated fields are not written
    expect(backNodes[2]).toEqual(withoutAttrs);
  });
});

describe('schema', () => {
  const root = protoRoot();
  const fieldNumbers = (type: string): Record<string, number> =>
    Object.fromEntries(root.lookupType(type).fieldsArray.map((f) => [f.name, f.id]));

  test('field numbers match upstream onnx.proto', () => {
    expect(fieldNumbers('onnx.ModelProto')).toEqual({
      ir_version: 1, opset_import: 8, producer_name: 2, producer_version: 3, domain: 4, model_version: 5,
      doc_string: 6, graph: 7, metadata_props: 14, training_info: 20, functions: 25, configuration: 26,
    });
    expect(fieldNumbers('onnx.GraphProto')).toEqual({
      node: 1, name: 2, initializer: 5, sparse_initializer: 15, doc_string: 10, input: 11, output: 12,
      value_info: 13, quantization_annotation: 14, metadata_props: 16,
    });
    expect(fieldNumbers('onnx.NodeProto')).toEqual({
      input: 1, output: 2, name: 3, op_type: 4, domain: 7, overload: 8, attribute: 5, doc_string: 6,
      metadata_props: 9, device_configurations: 10,
    });
    expect(fieldNumbers('onnx.FunctionProto')).toEqual({
      name: 1, input: 4, output: 5, attribute: 6, attribute_proto: 11, node: 7, doc_string: 8, opset_import: 9,
      domain: 10, overload: 13, value_info: 12, metadata_props: 14,
    });
    expect(fieldNumbers('onnx.AttributeProto')).toEqual({
      name: 1, ref_attr_name: 21, doc_string: 13, type: 20, f: 2, i: 3, s: 4, t: 5, g: 6, sparse_tensor: 22,
      tp: 14, floats: 7, ints: 8, strings: 9, tensors: 10, graphs: 11, sparse_tensors: 23, type_protos: 15,
    });
    expect(fieldNumbers('onnx.ValueInfoProto')).toEqual({ name: 1, type: 2, doc_string: 3, metadata_props: 4 });
    expect(fieldNumbers('onnx.TensorProto')).toEqual({
      dims: 1, data_type: 2, segment: 3, float_data: 4, int32_data: 5, string_data: 6, int64_data: 7, name: 8,
      doc_string: 12, raw_data: 9, external_data: 13, data_location: 14, double_data: 10, uint64_data: 11,
      metadata_props: 16,
    });
    expect(fieldNumbers('onnx.TensorProto.Segment')).toEqual({ begin: 1, end: 2 });
    expect(fieldNumbers('onnx.SparseTensorProto')).toEqual({ values: 1, indices: 2, dims: 3 });
    expect(fieldNumbers('onnx.TensorShapeProto')).toEqual({ dim: 1 });
    expect(fieldNumbers('onnx.TensorShapeProto.Dimension')).toEqual({ dim_value: 1, dim_param: 2, denotation: 3 });
    expect(fieldNumbers('onnx.TypeProto')).toEqual({
      tensor_type: 1, sequence_type: 4, map_type: 5, optional_type: 9, sparse_tensor_type: 8, opaque_type: 7,
      denotation: 6,
    });
    expect(fieldNumbers('onnx.TypeProto.Tensor')).toEqual({ elem_type: 1, shape: 2 });
    expect(fieldNumbers('onnx.TypeProto.Sequence')).toEqual({ elem_type: 1 });
    expect(fieldNumbers('onnx.TypeProto.Map')).toEqual({ key_type: 1, value_type: 2 });
    expect(fieldNumbers('onnx.TypeProto.Optional')).toEqual({ elem_type: 1 });
    expect(fieldNumbers('onnx.TypeProto.SparseTensor')).toEqual({ elem_type: 1, shape: 2 });
    expect(fieldNumbers('onnx.TypeProto.Opaque')).toEqual({ domain: 1, name: 2 });
    expect(fieldNumbers('onnx.OperatorSetIdProto')).toEqual({ domain: 1, version: 2 });
    expect(fieldNumbers('onnx.StringStringEntryProto')).toEqual({ key: 1, value: 2 });
    expect(fieldNumbers('onnx.TensorAnnotation')).toEqual({ tensor_name: 1, quant_parameter_tensor_names: 2 });
    expect(fieldNumbers('onnx.TrainingInfoProto')).toEqual({
      initialization: 1, algorithm: 2, initialization_binding: 3, update_binding: 4,
    });
    expect(fieldNumbers('onnx.DeviceConfigurationProto')).toEqual({ name: 1, num_devices: 2, device: 3 });
    expect(fieldNumbers('onnx.NodeDeviceConfigurationProto')).toEqual({ configuration_id: 1, sharding_spec: 2, pipeline_stage: 3 });
    expect(fieldNumbers('onnx.ShardingSpecProto')).toEqual({ tensor_name: 1, device: 2, index_to_device_group_map: 3, sharded_dim: 4 });
    expect(fieldNumbers('onnx.ShardedDimProto')).toEqual({ axis: 1, simple_sharding: 2 });
    expect(fieldNumbers('onnx.SimpleShardedDimProto')).toEqual({ dim_value: 1, dim_param: 2, num_shards: 3 });
    expect(fieldNumbers('onnx.IntIntListEntryProto')).toEqual({ key: 1, value: 2 });
  });

  test('only the TensorProto payload fields are packed', () => {
    const packed: string[] = [];
    const visit = (ns: protobuf.NamespaceBase): void => {
      for (const o of ns.nestedArray) {
        if (o instanceof protobuf.Type) for (const f of o.fieldsArray) if (f.repeated && f.packed) packed.push(`${o.name}.${f.name}`);
        if (o instanceof protobuf.Namespace) visit(o);
      }
    };
    visit(root);
    expect(packed.sort()).toEqual(
      ['TensorProto.double_data', 'TensorProto.float_data', 'TensorProto.int32_data', 'TensorProto.int64_data', 'TensorProto.uint64_data'].sort(),
    );
  });

  test('enums', () => {
    const names = [
      'UNDEFINED', 'FLOAT', 'UINT8', 'INT8', 'UINT16', 'INT16', 'INT32', 'INT64', 'STRING', 'BOOL', 'FLOAT16', 'DOUBLE',
      'UINT32', 'UINT64', 'COMPLEX64', 'COMPLEX128', 'BFLOAT16', 'FLOAT8E4M3FN', 'FLOAT8E4M3FNUZ', 'FLOAT8E5M2',
      'FLOAT8E5M2FNUZ', 'UINT4', 'INT4', 'FLOAT4E2M1', 'FLOAT8E8M0', 'UINT2', 'INT2',
    ];
    expect({ ...DataTypeCode }).toEqual(Object.fromEntries(names.map((n, i) => [n, i])));
    expect(DataTypeCode.FLOAT4E2M1).toBe(23);
    expect(DataTypeCode.INT2).toBe(26);
    expect({ ...AttributeTypeCode }).toEqual({
      UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, SPARSE_TENSOR: 11, TYPE_PROTO: 13,
      FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10, SPARSE_TENSORS: 12, TYPE_PROTOS: 14,
    });
    expect(Object.isFrozen(DataTypeCode)).toBe(true);
    expect(root.lookupEnum('onnx.Version').values.IR_VERSION).toBe(13);
    expect(root.lookupEnum('onnx.Version').values.IR_VERSION_2025_05_12).toBe(11);
    expect(root.lookupEnum('onnx.TensorProto.DataLocation').values).toEqual({ DEFAULT: 0, EXTERNAL: 1 });
    expect(root.lookupEnum('onnx.OperatorStatus').values).toEqual({ EXPERIMENTAL: 0, STABLE: 1 });
  });

  test('type names resolve with or without the package', () => {
    const b = encodeProto('onnx.OperatorSetIdProto', { domain: 'x', version: 3n });
    expect(decodeProto('OperatorSetIdProto', b)).toEqual({ domain: 'x', version: 3n });
    expect(decodeProto('.onnx.OperatorSetIdProto', b)).toEqual({ domain: 'x', version: 3n });
    expect(decodeProto('TensorShapeProto.Dimension', bytes(tag(1, 0), [5]))).toEqual({ dim_value: 5n });
    expectSerdeError(() => decodeProto('onnx.NoSuchProto', b), 'SERDE_UNKNOWN_TYPE');
  });
});

describe('fixtures', () => {
  test.each(fixtureFiles)('%s: decode, views, round trip, byte identity', (file) => {
    const input = fs.readFileSync(path.join(FIXTURES, file));
    const model = decodeProto('onnx.ModelProto', input);

    expect(typeof model.ir_version).toBe('bigint');
    expect(model.ir_version as bigint).toBeGreaterThanOrEqual(7n);
    const opsets = model.opset_import as ProtoMessage[];
    const onnxOpset = opsets.find((o) => (o.domain ?? '') === '');
    expect(onnxOpset).toBeDefined();
    expect([18n, 23n]).toContain(onnxOpset!.version);
    const graph = model.graph as ProtoMessage;
    const nodes = graph.node as ProtoMessage[];
    expect(nodes.length).toBeGreaterThan(10);
    for (const n of nodes) expect(typeof n.op_type).toBe('string');
    expect((graph.input as ProtoMessage[]).length).toBeGreaterThan(0);
    expect((graph.output as ProtoMessage[]).length).toBeGreaterThan(0);

    // raw_data are views of the input, with the right content
    let raw = 0;
    forEachTensor(model, (t) => {
      const r = t.raw_data as Uint8Array | undefined;
      if (r === undefined) return;
      raw++;
      expect(r.constructor).toBe(Uint8Array);
      expect(r.buffer).toBe(input.buffer);
      expect(r.byteOffset).toBeGreaterThanOrEqual(input.byteOffset);
      expect(r.byteOffset + r.length).toBeLessThanOrEqual(input.byteOffset + input.length);
    });
    expect(raw).toBeGreaterThan(0);

    // encode(decode(x)) is byte-identical to x; chunked encoding too, with big raw_data not copied
    const out = encodeProto('onnx.ModelProto', model);
    expect(Buffer.compare(Buffer.from(out), input)).toBe(0);
    const chunks = encodeProtoChunks('onnx.ModelProto', model);
    expect(Buffer.compare(Buffer.from(concat(chunks)), input)).toBe(0);
    const big: Uint8Array[] = [];
    forEachTensor(model, (t) => {
      const r = t.raw_data as Uint8Array | undefined;
      if (r && r.length >= 32 * 1024) big.push(r);
    });
    for (const r of big) expect(chunks.some((c) => c === r)).toBe(true);

    // decode(encode(decode(x))) deep-equals decode(x)
    expect(decodeProto('onnx.ModelProto', out)).toEqual(model);
  });
});

describe('hand-made messages', () => {
  test('encoding matches protobuf byte for byte (order, packing, int64, negative int32)', () => {
    const t = encodeProto('onnx.TensorProto', {
      name: 'x',
      float_data: new Float32Array([1, 2]),
      data_type: 1,
      dims: [2n, 3n],
    });
    // dims unpacked (proto2), data_type, float_data packed, name: in field-number order
    expect(Array.from(t)).toEqual([0x08, 2, 0x08, 3, 0x10, 1, 0x22, 8, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0x42, 1, 0x78]);
    const a = encodeProto('onnx.AttributeProto', { type: 7, ints: [1n, -1n], name: 'a' });
    expect(Array.from(a)).toEqual([0x0a, 1, 0x61, 0x40, 1, 0x40, ...varint(-1n), 0xa0, 0x01, 7]);
    expect(varint(-1n).length).toBe(10);
    const neg = encodeProto('onnx.TensorProto', { data_type: -2 });
    expect(Array.from(neg)).toEqual([0x10, ...varint(-2n)]);
    expect(decodeProto('onnx.TensorProto', neg)).toEqual({ data_type: -2 });
    // present-but-default values are kept (proto2 presence)
    expect(Array.from(encodeProto('onnx.OperatorSetIdProto', { domain: '', version: 0n }))).toEqual([0x0a, 0, 0x10, 0]);
    expect(decodeProto('onnx.OperatorSetIdProto', new Uint8Array([0x0a, 0, 0x10, 0]))).toEqual({ domain: '', version: 0n });
    expect(decodeProto('onnx.OperatorSetIdProto', new Uint8Array())).toEqual({});
  });

  test('int64 extremes round-trip exactly', () => {
    const MAX = 9223372036854775807n;
    const MIN = -9223372036854775808n;
    const type: ProtoMessage = {
      tensor_type: {
        elem_type: 7,
        shape: { dim: [{ dim_value: MAX }, { dim_value: MIN }, { dim_value: -1n }, { dim_value: 0n }, { dim_param: 'N' }] },
      },
    };
    const node: ProtoMessage = {
      op_type: 'Foo',
      attribute: [
        { name: 'max', type: 2, i: MAX },
        { name: 'min', type: 2, i: MIN },
        { name: 'ints', type: 7, ints: [MAX, MIN, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n] },
      ],
    };
    expect(decodeProto('onnx.TypeProto', encodeProto('onnx.TypeProto', type))).toEqual(type);
    const back = decodeProto('onnx.NodeProto', encodeProto('onnx.NodeProto', node));
    expect(back).toEqual(node);
    const attrs = back.attribute as ProtoMessage[];
    expect(attrs[0]!.i).toBe(MAX);
    expect(attrs[1]!.i).toBe(MIN);
    // uint64 payload and int64 payload as typed arrays
    const tensor: ProtoMessage = {
      uint64_data: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 63n]),
      int64_data: new BigInt64Array([MAX, MIN, -1n, 0n, 300n]),
      int32_data: new Int32Array([-2147483648, 2147483647, -1, 0]),
      double_data: new Float64Array([Math.PI, -0, Infinity, NaN]),
    };
    expect(decodeProto('onnx.TensorProto', encodeProto('onnx.TensorProto', tensor))).toEqual(tensor);
    // plain numbers are accepted for integer fields
    const fromNumbers = decodeProto('onnx.NodeProto', encodeProto('onnx.NodeProto', { attribute: [{ i: -5, ints: [1, -2] }] }));
    expect(fromNumbers).toEqual({ attribute: [{ i: -5n, ints: [1n, -2n] }] });
  });

  test('unknown fields survive a round trip (NodeProto and ModelProto, all wire types)', () => {
    const unkNode = [
      bytes(tag(99, 0), varint(12345678901234n)),
      bytes(len(100, utf8('opaque'))),
      bytes(tag(101, 5), [1, 2, 3, 4]),
      bytes(tag(102, 1), [1, 2, 3, 4, 5, 6, 7, 8]),
      bytes(tag(103, 3), tag(1, 0), [7], tag(2, 3), tag(2, 4), tag(103, 4)), // a group with a nested group
    ];
    const nodeBody = bytes(len(1, utf8('x')), len(2, utf8('y')), len(4, utf8('Relu')), ...unkNode.map((u) => Array.from(u)));
    const unkModel = bytes(len(99, utf8('model-level extension')));
    const input = bytes(tag(1, 0), [10], len(7, bytes(len(1, nodeBody), len(2, utf8('g')))), Array.from(unkModel));

    const model = decodeProto('onnx.ModelProto', input);
    const node = (model.graph as ProtoMessage).node as ProtoMessage[];
    expect(node[0]!.op_type).toBe('Relu');
    expect(node[0]!.$unknown).toEqual(unkNode);
    expect(model.$unknown).toEqual([unkModel]);
    expect(model.$unknown![0]!.buffer).toBe(input.buffer);
    const out = encodeProto('onnx.ModelProto', model);
    expect(Array.from(out)).toEqual(Array.from(input));
    expect(decodeProto('onnx.ModelProto', out)).toEqual(model);

    // unknown bytes are written after the known fields even if they came first
    const early = bytes(tag(99, 0), [1], tag(4, 2), [1, 0x41]);
    const n2 = decodeProto('onnx.NodeProto', early);
    expect(n2).toEqual({ op_type: 'A', $unknown: [new Uint8Array([...tag(99, 0), 1])] });
    expect(Array.from(encodeProto('onnx.NodeProto', n2))).toEqual([...tag(4, 2), 1, 0x41, ...tag(99, 0), 1]);
  });

  test('packed and unpacked encodings are both accepted', () => {
    const f32 = (x: number): number[] => Array.from(new Uint8Array(new Float32Array([x]).buffer));
    // float_data unpacked, then packed, then unpacked again: one Float32Array in wire order
    const t = decodeProto('onnx.TensorProto', bytes(tag(4, 5), f32(1), len(4, [...f32(2), ...f32(3)]), tag(4, 5), f32(4)));
    expect(t.float_data).toEqual(new Float32Array([1, 2, 3, 4]));
    // int64_data unpacked and packed
    const i = decodeProto('onnx.TensorProto', bytes(tag(7, 0), varint(-1n), len(7, [...varint(5n), ...varint(2n ** 40n)])));
    expect(i.int64_data).toEqual(new BigInt64Array([-1n, 5n, 2n ** 40n]));
    // AttributeProto.ints / floats packed (as proto3 writers do): plain arrays
    const a = decodeProto('onnx.AttributeProto', bytes(len(8, [...varint(3n), ...varint(-4n)]), tag(8, 0), [9], len(7, f32(0.5))));
    expect(a).toEqual({ ints: [3n, -4n, 9n], floats: [0.5] });
    // re-encoded in upstream form: ints unpacked
    expect(Array.from(encodeProto('onnx.AttributeProto', a))).toEqual([
      ...tag(7, 5), ...f32(0.5), ...tag(8, 0), 3, ...tag(8, 0), ...varint(-4n), ...tag(8, 0), 9,
    ]);
    // an empty packed run adds nothing (the field stays absent, as in protobuf)
    expect(decodeProto('onnx.TensorProto', bytes(len(4, []), len(7, []), len(10, [])))).toEqual({});
    expect(decodeProto('onnx.AttributeProto', bytes(len(8, []), len(7, [])))).toEqual({});
  });

  test('protobuf merge semantics: last scalar wins, messages merge, oneof members clear each other', () => {
    const dim = decodeProto('onnx.TensorShapeProto.Dimension', bytes(tag(1, 0), [4], len(2, utf8('N'))));
    expect(dim).toEqual({ dim_param: 'N' });
    const dim2 = decodeProto('onnx.TensorShapeProto.Dimension', bytes(len(2, utf8('N')), tag(1, 0), [4]));
    expect(dim2).toEqual({ dim_value: 4n });
    const graph1 = len(7, bytes(len(2, utf8('a')), len(1, len(4, utf8('X')))));
    const graph2 = len(7, bytes(len(2, utf8('b')), len(1, len(4, utf8('Y')))));
    const m = decodeProto('onnx.ModelProto', bytes(tag(1, 0), [3], graph1, tag(1, 0), [8], graph2));
    expect(m).toEqual({ ir_version: 8n, graph: { name: 'b', node: [{ op_type: 'X' }, { op_type: 'Y' }] } });
    // typed payload merge across two occurrences of a singular message
    const t1 = len(5, bytes(len(4, [0, 0, 0x80, 0x3f])));
    const t2 = len(5, bytes(tag(4, 5), [0, 0, 0, 0x40]));
    const attr = decodeProto('onnx.AttributeProto', bytes(t1, t2));
    expect(attr).toEqual({ t: { float_data: new Float32Array([1, 2]) } });
  });

  test('Buffer input gives plain Uint8Array views', () => {
    const buf = Buffer.from(encodeProto('onnx.TensorProto', { raw_data: new Uint8Array([1, 2, 3]) }));
    const t = decodeProto('onnx.TensorProto', buf);
    expect((t.raw_data as Uint8Array).constructor).toBe(Uint8Array);
    expect((t.raw_data as Uint8Array).buffer).toBe(buf.buffer);
    expect(t.raw_data).toEqual(new Uint8Array([1, 2, 3]));
  });

  test('strings: UTF-8 both ways, BOM kept, invalid UTF-8 rejected', () => {
    for (const s of ['', 'abc', 'é', '\uFEFFbom', '日本語', '😀 emoji', 'x'.repeat(100) + 'é']) {
      const b = encodeProto('onnx.NodeProto', { name: s });
      expect(Array.from(b.subarray(b.length - Buffer.byteLength(s)))).toEqual(utf8(s));
      expect(decodeProto('onnx.NodeProto', b)).toEqual({ name: s });
    }
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0x61, 0x80, 0x62], [...utf8('x'.repeat(80)), 0xfe]]) {
      expectSerdeError(() => decodeProto('onnx.NodeProto', bytes(len(3, bad))), 'SERDE_BAD_UTF8');
    }
    // bytes-typed "strings" (AttributeProto.s, TensorProto.string_data) are not validated
    expect(decodeProto('onnx.AttributeProto', bytes(len(4, [0xff]))).s).toEqual(new Uint8Array([0xff]));
  });
});

describe('malformed input', () => {
  test('specific errors', () => {
    const M = 'onnx.ModelProto';
    expectSerdeError(() => decodeProto(M, bytes([0x08, 0x80])), 'SERDE_TRUNCATED'); // varint cut
    expectSerdeError(() => decodeProto(M, bytes([0x88])), 'SERDE_TRUNCATED'); // tag cut
    expectSerdeError(() => decodeProto(M, bytes([0x3a, 0x05, 0x01])), 'SERDE_TRUNCATED'); // length past end
    expectSerdeError(() => decodeProto(M, bytes([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f])), 'SERDE_TRUNCATED'); // 4 GiB length
    expectSerdeError(() => decodeProto(M, bytes([0x3a, ...varint(2n ** 62n)])), 'SERDE_TRUNCATED');
    expectSerdeError(() => decodeProto(M, bytes([0x08, ...Array(10).fill(0xff), 0x01])), 'SERDE_BAD_VARINT');
    expectSerdeError(() => decodeProto(M, bytes([0x0a, 0x00])), 'SERDE_BAD_WIRE_TYPE'); // ir_version as LEN
    expectSerdeError(() => decodeProto(M, bytes(tag(7, 0), [1])), 'SERDE_BAD_WIRE_TYPE'); // graph as varint
    expectSerdeError(() => decodeProto(M, bytes(tag(1, 3), tag(1, 4))), 'SERDE_BAD_WIRE_TYPE'); // known field as group
    expectSerdeError(() => decodeProto(M, bytes(tag(99, 6))), 'SERDE_BAD_WIRE_TYPE');
    expectSerdeError(() => decodeProto(M, bytes(tag(99, 7))), 'SERDE_BAD_WIRE_TYPE');
    expectSerdeError(() => decodeProto(M, bytes(tag(99, 4))), 'SERDE_BAD_GROUP'); // stray end-group
    expectSerdeError(() => decodeProto(M, bytes(tag(99, 3), tag(98, 4))), 'SERDE_BAD_GROUP'); // mismatched end
    expectSerdeError(() => decodeProto(M, bytes(tag(99, 3), tag(1, 0), [1])), 'SERDE_TRUNCATED'); // unterminated group
    expectSerdeError(() => decodeProto(M, bytes([0x00, 0x00])), 'SERDE_BAD_TAG'); // field 0
    expectSerdeError(() => decodeProto(M, bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), 'SERDE_BAD_TAG'); // tag > 32 bits
    expectSerdeError(() => decodeProto('onnx.TensorProto', bytes(len(4, [1, 2, 3]))), 'SERDE_BAD_LENGTH');
    expectSerdeError(() => decodeProto('onnx.TensorProto', bytes(len(7, [0x80]))), 'SERDE_TRUNCATED'); // cut varint in packed run
    expectSerdeError(() => decodeProto('onnx.TensorProto', bytes(tag(4, 5), [1, 2])), 'SERDE_TRUNCATED');
    expectSerdeError(() => decodeProto('onnx.TensorProto', bytes(tag(10, 1), [1, 2, 3])), 'SERDE_TRUNCATED');
    // a submessage's content is bounded by its length even when the outer buffer continues
    expectSerdeError(() => decodeProto(M, bytes(tag(7, 2), [2], len(2, [0x61, 0x62]))), 'SERDE_TRUNCATED');
    expectSerdeError(() => decodeProto(M, 'not bytes' as unknown as Uint8Array), 'SERDE_BAD_VALUE');
  });

  test('nesting depth is limited to 64 levels, without recursion blowups', () => {
    // TypeProto -> Sequence -> TypeProto -> ...: `levels` messages in total
    const nested = (levels: number): Uint8Array => {
      let body: number[] = [];
      for (let level = levels; level > 1; level--) body = len(level % 2 === 0 ? 4 : 1, body); // TypeProto.sequence_type=4, Sequence.elem_type=1
      return new Uint8Array(body);
    };
    expect(() => decodeProto('onnx.TypeProto', nested(MAX_PROTO_DEPTH))).not.toThrow();
    const ok = decodeProto('onnx.TypeProto', nested(MAX_PROTO_DEPTH));
    expect(decodeProto('onnx.TypeProto', encodeProto('onnx.TypeProto', ok))).toEqual(ok);
    expectSerdeError(() => decodeProto('onnx.TypeProto', nested(MAX_PROTO_DEPTH + 1)), 'SERDE_TOO_DEEP');
    expectSerdeError(() => decodeProto('onnx.TypeProto', nested(5000)), 'SERDE_TOO_DEEP');
    // unknown groups nested 100000 deep
    const groups = new Uint8Array(400000);
    for (let i = 0; i < 100000; i++) groups.set(tag(99, 3), 2 * i);
    for (let i = 100000; i < 200000; i++) groups.set(tag(99, 4), 2 * i);
    expectSerdeError(() => decodeProto('onnx.NodeProto', groups), 'SERDE_TOO_DEEP');
    // unknown groups within the limit are kept
    const g3 = bytes(tag(99, 3), tag(99, 3), tag(99, 4), tag(99, 4));
    expect(decodeProto('onnx.NodeProto', g3).$unknown).toEqual([g3]);
    // encoder: too deep and cycles
    let deep: ProtoMessage = {};
    for (let i = 0; i < 100; i++) deep = { sequence_type: { elem_type: deep } };
    expectSerdeError(() => encodeProto('onnx.TypeProto', deep), 'SERDE_TOO_DEEP');
    const cyc: ProtoMessage = { name: 'g', node: [] };
    (cyc.node as ProtoMessage[]).push({ attribute: [{ g: cyc }] });
    expectSerdeError(() => encodeProto('onnx.GraphProto', cyc), 'SERDE_TOO_DEEP');
  });

  test('encoder rejects bad values with SerdeError', () => {
    const bad: [string, ProtoMessage][] = [
      ['onnx.NodeProto', { op_tpye: 'Relu' }],
      ['onnx.NodeProto', { name: 3 }],
      ['onnx.NodeProto', { input: 'x' }],
      ['onnx.NodeProto', { input: [1] }],
      ['onnx.NodeProto', { attribute: [3] }],
      ['onnx.NodeProto', { attribute: { name: 'x' } }],
      ['onnx.AttributeProto', { i: 1.5 }],
      ['onnx.AttributeProto', { i: 2 ** 60 }],
      ['onnx.AttributeProto', { i: 2n ** 63n }],
      ['onnx.AttributeProto', { f: 'x' }],
      ['onnx.AttributeProto', { s: 'x' }],
      ['onnx.AttributeProto', { name: ['x'] }],
      ['onnx.AttributeProto', { strings: new Float32Array(1) }],
      ['onnx.TensorProto', { data_type: 2 ** 31 }],
      ['onnx.TensorProto', { uint64_data: [-1n] }],
      ['onnx.TensorProto', { $unknown: [3] as unknown as Uint8Array[] }],
      ['onnx.TensorProto', { $unknown: new Uint8Array(1) as unknown as Uint8Array[] }],
    ];
    for (const [type, msg] of bad) expectSerdeError(() => encodeProto(type, msg), undefined);
    expectSerdeError(() => encodeProto('onnx.NodeProto', null as unknown as ProtoMessage), 'SERDE_BAD_VALUE');
    // undefined values are simply absent
    expect(encodeProto('onnx.NodeProto', { name: undefined, op_type: 'A' })).toEqual(encodeProto('onnx.NodeProto', { op_type: 'A' }));
  });
});

// ----------------------------------------------------------------------------------------------
// Property tests

/** Random ProtoMessages for a reflected type, with bounded depth. */
function messageArb(root: protobuf.Root, maxDepth: number): (typeName: string) => fc.Arbitrary<ProtoMessage> {
  const cache = new Map<string, fc.Arbitrary<ProtoMessage>>();
  const I64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  const U64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const I32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const scalarArb = (f: protobuf.Field): fc.Arbitrary<unknown> => {
    if (f.resolvedType instanceof protobuf.Enum) return fc.oneof(fc.constantFrom(...Object.values(f.resolvedType.values)), I32);
    switch (f.type) {
      case 'int32': case 'sint32': case 'sfixed32': return I32;
      case 'uint32': case 'fixed32': return fc.integer({ min: 0, max: 2 ** 32 - 1 });
      case 'int64': case 'sint64': case 'sfixed64': return I64;
      case 'uint64': case 'fixed64': return U64;
      case 'float': return fc.float();
      case 'double': return fc.double();
      case 'bool': return fc.boolean();
      case 'string': return fc.string({ unit: 'binary', maxLength: 12 });
      case 'bytes': return fc.uint8Array({ maxLength: 12 });
      default: throw new Error(`unexpected type ${f.type}`);
    }
  };
  const typedOf = (f: protobuf.Field, xs: unknown[]): unknown => {
    if (f.resolvedType instanceof protobuf.Enum) return Int32Array.from(xs as number[]);
    switch (f.type) {
      case 'float': return Float32Array.from(xs as number[]);
      case 'double': return Float64Array.from(xs as number[]);
      case 'int32': case 'sint32': case 'sfixed32': return Int32Array.from(xs as number[]);
      case 'uint32': case 'fixed32': return Uint32Array.from(xs as number[]);
      case 'int64': case 'sint64': case 'sfixed64': return BigInt64Array.from(xs as bigint[]);
      case 'uint64': case 'fixed64': return BigUint64Array.from(xs as bigint[]);
      default: return xs; // packed bool stays a plain array
    }
  };
  const unknownArb = fc.array(
    fc.oneof(
      fc.tuple(fc.integer({ min: 1000, max: 5000 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([n, v]) => bytes(tag(n, 0), varint(v))),
      fc.tuple(fc.integer({ min: 6000, max: 2 ** 29 - 2 }), fc.uint8Array({ maxLength: 6 })).map(([n, b]) => bytes(len(n, b))),
      fc.tuple(fc.integer({ min: 1000, max: 5000 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([n, b]) => bytes(tag(n, 5), Array.from(b))),
    ),
    { minLength: 1, maxLength: 3 },
  );
  const build = (typeName: string, depth: number): fc.Arbitrary<ProtoMessage> => {
    const key = `${typeName}@${depth}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const type = root.lookupType(typeName);
    const plain: Record<string, fc.Arbitrary<unknown>> = {};
    const oneofs: fc.Arbitrary<[string, unknown] | null>[] = [];
    const fieldArb = (f: protobuf.Field): fc.Arbitrary<unknown> | null => {
      let elem: fc.Arbitrary<unknown>;
      if (f.resolvedType instanceof protobuf.Type) {
        if (depth >= maxDepth) return null;
        elem = build(f.resolvedType.fullName.slice(1), depth + 1);
      } else elem = scalarArb(f);
      if (!f.repeated) return elem;
      const arr = fc.array(elem, { minLength: 1, maxLength: f.resolvedType instanceof protobuf.Type ? 2 : 4 });
      return f.packed ? arr.map((xs) => typedOf(f, xs)) : arr;
    };
    for (const f of type.fieldsArray) {
      if (f.partOf) continue;
      const a = fieldArb(f);
      if (a) plain[f.name] = a;
    }
    for (const o of type.oneofsArray) {
      const members = o.fieldsArray.map((f) => [f.name, fieldArb(f)] as const).filter((x): x is readonly [string, fc.Arbitrary<unknown>] => x[1] !== null);
      if (members.length > 0) {
        oneofs.push(fc.option(fc.oneof(...members.map(([n, a]) => a.map((v) => [n, v] as [string, unknown]))), { nil: null }));
      }
    }
    plain.$unknown = unknownArb;
    const arb = fc.tuple(fc.record(plain, { requiredKeys: [] }), fc.tuple(...oneofs)).map(([rec, chosen]) => {
      const msg = { ...rec } as ProtoMessage;
      for (const c of chosen) if (c) msg[c[0]] = c[1] as ProtoMessage[keyof ProtoMessage];
      return msg;
    });
    cache.set(key, arb);
    return arb;
  };
  return (typeName) => build(typeName, 1);
}

describe('properties', () => {
  test('random schema-shaped messages round-trip (decode(encode(x)) equals x, encoding canonical)', () => {
    const arbOf = messageArb(protoRoot(), 3);
    const types = ['onnx.ModelProto', 'onnx.GraphProto', 'onnx.NodeProto', 'onnx.AttributeProto', 'onnx.TensorProto', 'onnx.TypeProto', 'onnx.FunctionProto', 'onnx.SparseTensorProto', 'onnx.ShardingSpecProto'];
    for (const type of types) {
      fc.assert(
        fc.property(arbOf(type), (msg) => {
          const b = encodeProto(type, msg);
          const back = decodeProto(type, b);
          expect(back).toEqual(msg);
          expect(Buffer.compare(Buffer.from(encodeProto(type, back)), Buffer.from(b))).toBe(0);
          expect(Buffer.compare(Buffer.from(concat(encodeProtoChunks(type, msg))), Buffer.from(b))).toBe(0);
        }),
        { numRuns: 120 },
      );
    }
  });

  test('all scalar kinds via a custom schema', () => {
    const root = protobuf.parse(
      `syntax = "proto2"; package t;
       enum E { A = 0; B = 5; }
       message All {
         optional double d = 1; optional float f = 2; optional int64 i64 = 3; optional uint64 u64 = 4;
         optional int32 i32 = 5; optional fixed64 fx64 = 6; optional fixed32 fx32 = 7; optional bool b = 8;
         optional string s = 9; optional bytes by = 12; optional uint32 u32 = 13; optional E e = 14;
         optional sfixed32 sfx32 = 15; optional sfixed64 sfx64 = 16; optional sint32 si32 = 17; optional sint64 si64 = 18;
         repeated sint64 rsi64 = 19; repeated sint32 rsi32 = 20 [packed = true]; repeated fixed64 rfx64 = 21 [packed = true];
         repeated sfixed32 rsfx32 = 22 [packed = true]; repeated bool rb = 23; repeated uint32 ru32 = 24 [packed = true];
         repeated sint64 psi64 = 25 [packed = true]; repeated fixed32 rfx32 = 26; repeated bool pb = 27 [packed = true];
         repeated double rd = 28; repeated E re = 29 [packed = true];
         optional All child = 999; repeated All kids = 536870911;
       }`,
      { keepCase: true },
    ).root;
    const codec = new WireCodec(root);
    const arb = messageArb(root, 3)('t.All');
    fc.assert(
      fc.property(arb, (msg) => {
        const b = codec.encode('t.All', msg);
        expect(codec.decode('t.All', b)).toEqual(msg);
      }),
      { numRuns: 300 },
    );
    // zigzag / fixed encodings agree with protobufjs' own encoder
    const All = root.lookupType('t.All');
    const sample = { si32: -3, si64: -5n, sfx32: -7, sfx64: -9n, fx32: 0xfffffffe, u32: 0xffffffff, b: true, e: 5, rsi32: new Int32Array([-1, 1]) };
    const ref = All.encode(All.fromObject({ ...sample, si64: '-5', sfx64: '-9', rsi32: [-1, 1] })).finish();
    expect(Array.from(codec.encode('t.All', sample))).toEqual(Array.from(ref));
    expect(codec.decode('t.All', ref)).toEqual(sample);
  });

  test('random bytes: a message or a SerdeError, never anything else', () => {
    const types = ['onnx.ModelProto', 'onnx.GraphProto', 'onnx.NodeProto', 'onnx.TensorProto', 'onnx.TypeProto', 'onnx.AttributeProto'];
    let decoded = 0;
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 200 }), (type, input) => {
        try {
          const m = decodeProto(type, input);
          decoded++;
          const again = encodeProto(type, m);
          expect(decodeProto(type, again)).toEqual(m);
        } catch (e) {
          if (!(e instanceof SerdeError)) throw e;
        }
      }),
      { numRuns: 2500 },
    );
    expect(decoded).toBeGreaterThan(50);
  });

  test('mutations of a real fixture: a message or a SerdeError, never anything else', () => {
    // A real export with its weights cut to 16 bytes each, so that thousands of decodes stay fast.
    const original = fs.readFileSync(path.join(FIXTURES, fixtureFiles[0]!));
    const model = decodeProto('onnx.ModelProto', original);
    forEachTensor(model, (t) => {
      if (t.raw_data) t.raw_data = (t.raw_data as Uint8Array).subarray(0, 16);
    });
    for (const n of (model.graph as ProtoMessage).node as ProtoMessage[]) {
      for (const p of (n.metadata_props as ProtoMessage[] | undefined) ?? []) p.value = (p.value as string).slice(0, 12);
    }
    const seed = encodeProto('onnx.ModelProto', model);
    expect(seed.length).toBeLessThan(64 * 1024);

    type Mut =
      | { k: 'flip'; at: number; bit: number }
      | { k: 'cut'; at: number }
      | { k: 'ins'; at: number; b: Uint8Array }
      | { k: 'del'; at: number; n: number }
      | { k: 'dup'; from: number; n: number; at: number }
      | { k: 'set'; at: number; v: number };
    const pos = fc.nat();
    const mut: fc.Arbitrary<Mut> = fc.oneof(
      fc.record({ k: fc.constant('flip' as const), at: pos, bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ k: fc.constant('cut' as const), at: pos }),
      fc.record({ k: fc.constant('ins' as const), at: pos, b: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
      fc.record({ k: fc.constant('del' as const), at: pos, n: fc.integer({ min: 1, max: 64 }) }),
      fc.record({ k: fc.constant('dup' as const), from: pos, n: fc.integer({ min: 1, max: 4096 }), at: pos }),
      fc.record({ k: fc.constant('set' as const), at: pos, v: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1b, 0x1c, 0x3a, 0x42) }),
    );
    const apply = (input: Uint8Array, muts: Mut[]): Uint8Array => {
      let b = input;
      for (const m of muts) {
        const at = (x: number): number => (b.length === 0 ? 0 : x % (b.length + 1));
        switch (m.k) {
          case 'flip': {
            if (b.length === 0) break;
            const i = m.at % b.length;
            b = b.slice();
            b[i]! ^= 1 << m.bit;
            break;
          }
          case 'cut': b = b.slice(0, at(m.at)); break;
          case 'ins': { const i = at(m.at); b = concat([b.subarray(0, i), m.b, b.subarray(i)]); break; }
          case 'del': { const i = at(m.at); b = concat([b.subarray(0, i), b.subarray(i + m.n)]); break; }
          case 'dup': {
            const s = at(m.from);
            const piece = b.slice(s, s + m.n);
            const i = at(m.at);
            b = concat([b.subarray(0, i), piece, b.subarray(i)]);
            break;
          }
          case 'set': { if (b.length === 0) break; b = b.slice(); b[m.at % b.length] = m.v; break; }
        }
      }
      return b;
    };
    let decoded = 0;
    let failed = 0;
    fc.assert(
      fc.property(fc.array(mut, { minLength: 1, maxLength: 3 }), (muts) => {
        const input = apply(seed, muts);
        let m: ProtoMessage;
        try {
          m = decodeProto('onnx.ModelProto', input);
        } catch (e) {
          if (!(e instanceof SerdeError)) throw e;
          failed++;
          return;
        }
        decoded++;
        // whatever decodes re-encodes canonically
        const b = encodeProto('onnx.ModelProto', m);
        const b2 = encodeProto('onnx.ModelProto', decodeProto('onnx.ModelProto', b));
        expect(Buffer.compare(Buffer.from(b2), Buffer.from(b))).toBe(0);
      }),
      { numRuns: 3200 },
    );
    expect(decoded).toBeGreaterThan(100);
    expect(failed).toBeGreaterThan(100);
  });
});
