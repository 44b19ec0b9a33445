/**
 * fast-check arbitraries for random IR models: a DAG of a random op mix over float inputs (multi-output
 * ops, omitted optional inputs/outputs), initializers of many dtypes (int64 extremes, float16, bfloat16,
 * int4...), attributes of every type, metadata_props everywhere, and occasionally If subgraphs that use
 * outer values and a model-local function.
 *
 * The arbitrary draws a plain recipe (numbers and strings) and `buildModel` turns it into IR through the
 * public API, so shrinking works on the recipe and a counterexample prints as data.
 */
import fc from 'fast-check';
import {
  Attribute, AttrType, AttrValue, DataType, Graph, IntValue, Model, Node, OnnxFunction, RawTensor, SparseTensorValue,
  StringTensor, Tensor, TypeInfo, Value, byteSizeOf, tensorType,
} from '../../src/ir';

// ---- recipes ---------------------------------------------------------------------------------------------

export interface TensorRecipe {
  dtype: DataType;
  dims: number[];
  /** Raw bytes (exactly byteSizeOf(dtype, count)), or strings for STRING. */
  bytes?: number[];
  strings?: string[];
  doc: string;
  meta: [string, string][];
}

export type AttrRecipe =
  | { t: 'float'; v: number } | { t: 'int'; v: bigint } | { t: 'string'; v: string } | { t: 'tensor'; v: TensorRecipe }
  | { t: 'graph'; pick: number } | { t: 'sparse'; v: SparseRecipe } | { t: 'type'; v: TypeRecipe }
  | { t: 'floats'; v: number[] } | { t: 'ints'; v: bigint[] } | { t: 'strings'; v: string[] } | { t: 'tensors'; v: TensorRecipe[] }
  | { t: 'graphs'; picks: number[] } | { t: 'sparses'; v: SparseRecipe[] } | { t: 'types'; v: TypeRecipe[] };

export interface SparseRecipe { values: TensorRecipe; nnz: number; dims: number[] }

export type TypeRecipe =
  | { k: 'tensor'; elem: DataType; shape: (number | string | null)[] | null; den?: string }
  | { k: 'sparse'; elem: DataType; shape: (number | string | null)[] | null }
  | { k: 'sequence' | 'optional'; elem: TypeRecipe | null }
  | { k: 'map'; key: DataType; value: TypeRecipe }
  | { k: 'opaque'; domain: string; name: string };

export interface NodeRecipe {
  op: number;
  picks: number[];
  /** Which input slot (if any) is left out as an omitted optional input (not the last one). */
  holeAt: number;
  outputs: number;
  /** Bit mask of omitted outputs (never output 0). */
  omitMask: number;
  attrs: { name: string; a: AttrRecipe }[];
  meta: [string, string][];
  doc: string;
  typed: (TypeRecipe | null)[];
}

export interface ModelRecipe {
  inputs: { shape: (number | string | null)[]; typed: boolean; meta: [string, string][] }[];
  inits: { t: TensorRecipe; meta: [string, string][] }[];
  nodes: NodeRecipe[];
  outputs: number[];
  meta: [string, string][];
  graphMeta: [string, string][];
  producer: string;
  doc: string;
  modelVersion: number;
  withFunction: boolean;
}

// ---- arbitraries -----------------------------------------------------------------------------------------

const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const props = fc.array(fc.tuple(name, text), { maxLength: 2 }).map((kv) => [...new Map(kv)]);
const f32 = fc.float({ noDefaultInfinity: false }).map(Math.fround);
const int64 = fc.oneof(
  fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const smallDims = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });

const TENSOR_DTYPES = [
  DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16, DataType.INT64, DataType.UINT64, DataType.INT32,
  DataType.INT8, DataType.UINT8, DataType.BOOL, DataType.INT16, DataType.UINT32, DataType.INT4, DataType.UINT4,
  DataType.FLOAT8E4M3FN, DataType.FLOAT8E5M2, DataType.FLOAT4E2M1, DataType.COMPLEX64, DataType.STRING,
] as const;

/** Little-endian bytes of int64 values (for the extremes to land in real tensors). */
function int64Bytes(values: bigint[]): number[] {
  return [...new Uint8Array(BigInt64Array.from(values).buffer)];
}

export const tensorRecipe: fc.Arbitrary<TensorRecipe> = fc
  .record({ dtype: fc.constantFrom(...TENSOR_DTYPES), dims: smallDims, doc: fc.oneof(fc.constant(''), text), meta: props })
  .chain(({ dtype, dims, doc, meta }): fc.Arbitrary<TensorRecipe> => {
    const count = dims.reduce((a, b) => a * b, 1);
    if (dtype === DataType.STRING) {
      return fc.array(text, { minLength: count, maxLength: count }).map((strings) => ({ dtype, dims, strings, doc, meta }));
    }
    if (dtype === DataType.INT64) {
      return fc.array(int64, { minLength: count, maxLength: count }).map((v) => ({ dtype, dims, bytes: int64Bytes(v), doc, meta }));
    }
    const n = byteSizeOf(dtype, count);
    const byte = dtype === DataType.BOOL ? fc.integer({ min: 0, max: 1 }) : fc.integer({ min: 0, max: 255 });
    return fc.array(byte, { minLength: n, maxLength: n }).map((bytes) => ({ dtype, dims, bytes, doc, meta }));
  });

const shape = fc.array(fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom('batch', 'seq', 'seq+1'), fc.constant(null)), { maxLength: 4 });

export const typeRecipe: fc.Arbitrary<TypeRecipe> = fc.letrec<{ t: TypeRecipe }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ k: fc.constant('tensor' as const), elem: fc.constantFrom(DataType.FLOAT, DataType.INT64, DataType.BOOL, DataType.FLOAT16), shape: fc.option(shape, { nil: null }) }),
    fc.record({ k: fc.constant('tensor' as const), elem: fc.constant(DataType.FLOAT), shape: fc.option(shape, { nil: null }), den: fc.constantFrom('IMAGE', 'TEXT') }),
    fc.record({ k: fc.constant('sparse' as const), elem: fc.constant(DataType.FLOAT), shape: fc.option(shape, { nil: null }) }),
    fc.record({ k: fc.constantFrom('sequence' as const, 'optional' as const), elem: fc.option(tie('t'), { nil: null }) }),
    fc.record({ k: fc.constant('map' as const), key: fc.constantFrom(DataType.INT64, DataType.STRING), value: tie('t') }),
    fc.record({ k: fc.constant('opaque' as const), domain: name, name }),
  ),
})).t;

const sparseRecipe: fc.Arbitrary<SparseRecipe> = fc.integer({ min: 0, max: 3 }).chain((nnz) =>
  fc.record({
    values: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: nnz * 4, maxLength: nnz * 4 })
      .map((bytes): TensorRecipe => ({ dtype: DataType.FLOAT, dims: [nnz], bytes, doc: '', meta: [] })),
    nnz: fc.constant(nnz),
    dims: fc.tuple(fc.integer({ min: 4, max: 9 })).map((d) => [...d]),
  }));

export const attrRecipe: fc.Arbitrary<AttrRecipe> = fc.oneof(
  fc.record({ t: fc.constant('float' as const), v: f32 }),
  fc.record({ t: fc.constant('int' as const), v: int64 }),
  fc.record({ t: fc.constant('string' as const), v: text }),
  fc.record({ t: fc.constant('tensor' as const), v: tensorRecipe }),
  fc.record({ t: fc.constant('graph' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('sparse' as const), v: sparseRecipe }),
  fc.record({ t: fc.constant('type' as const), v: typeRecipe }),
  fc.record({ t: fc.constant('floats' as const), v: fc.array(f32, { maxLength: 4 }) }),
  fc.record({ t: fc.constant('ints' as const), v: fc.array(int64, { maxLength: 4 }) }),
  fc.record({ t: fc.constant('strings' as const), v: fc.array(text, { maxLength: 3 }) }),
  fc.record({ t: fc.constant('tensors' as const), v: fc.array(tensorRecipe, { maxLength: 2 }) }),
  fc.record({ t: fc.constant('graphs' as const), picks: fc.array(fc.nat(), { maxLength: 2 }) }),
  fc.record({ t: fc.constant('sparses' as const), v: fc.array(sparseRecipe, { maxLength: 2 }) }),
  fc.record({ t: fc.constant('types' as const), v: fc.array(typeRecipe, { maxLength: 2 }) }),
);

/** Op kinds: [op, domain, min inputs, max inputs, min outputs, max outputs]. */
export const OPS: readonly (readonly [string, string, number, number, number, number])[] = [
  ['Relu', '', 1, 1, 1, 1], ['Neg', '', 1, 1, 1, 1], ['Add', '', 2, 2, 1, 1], ['Mul', '', 2, 2, 1, 1],
  ['Split', '', 1, 2, 2, 3], ['TopK', '', 2, 2, 2, 2], ['Dropout', '', 1, 3, 1, 2], ['Clip', '', 1, 3, 1, 1],
  ['Multi', 'com.example', 1, 4, 1, 4], ['If', '', 1, 1, 1, 1], ['MyFn', 'com.example.fn', 1, 1, 1, 1],
];

const nodeRecipe: fc.Arbitrary<NodeRecipe> = fc.record({
  op: fc.nat({ max: OPS.length - 1 }),
  picks: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  holeAt: fc.nat({ max: 5 }),
  outputs: fc.nat({ max: 3 }),
  omitMask: fc.nat({ max: 15 }),
  attrs: fc.uniqueArray(fc.record({ name, a: attrRecipe }), { maxLength: 3, selector: (r) => r.name }),
  meta: props,
  doc: fc.oneof(fc.constant(''), text),
  typed: fc.array(fc.option(typeRecipe, { nil: null, freq: 2 }), { minLength: 4, maxLength: 4 }),
});

export const modelRecipe: fc.Arbitrary<ModelRecipe> = fc.record({
  inputs: fc.array(fc.record({ shape, typed: fc.boolean(), meta: props }), { minLength: 1, maxLength: 3 }),
  inits: fc.array(fc.record({ t: tensorRecipe, meta: props }), { maxLength: 5 }),
  nodes: fc.array(nodeRecipe, { minLength: 1, maxLength: 14 }),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  meta: props,
  graphMeta: props,
  producer: name,
  doc: fc.oneof(fc.constant(''), text),
  modelVersion: fc.nat({ max: 5 }),
  withFunction: fc.boolean(),
});

// ---- building ----------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();

export function buildTensor(r: TensorRecipe, tensorName = ''): Tensor {
  const t = r.dtype === DataType.STRING
    ? new StringTensor(r.dims, (r.strings ?? []).map((s) => utf8.encode(s)), tensorName)
    : new RawTensor(r.dtype, r.dims, Uint8Array.from(r.bytes ?? []), tensorName);
  t.docString = r.doc;
  for (const [k, v] of r.meta) t.metadata.set(k, v);
  return t;
}

export function buildType(r: TypeRecipe): TypeInfo {
  switch (r.k) {
    case 'tensor': {
      const t = r.shape ? tensorType(r.elem, r.shape) : tensorType(r.elem);
      return r.den ? { ...t, denotation: r.den } : t;
    }
    case 'sparse': return r.shape ? { kind: 'sparse_tensor', elemType: r.elem, shape: r.shape } : { kind: 'sparse_tensor', elemType: r.elem };
    case 'sequence': case 'optional': return r.elem ? { kind: r.k, elem: buildType(r.elem) } : { kind: r.k };
    case 'map': return { kind: 'map', keyType: r.key, value: buildType(r.value) };
    case 'opaque': return { kind: 'opaque', domain: r.domain, name: r.name };
  }
}

function buildSparse(r: SparseRecipe): SparseTensorValue {
  const indices = Array.from({ length: r.nnz }, (_, i) => BigInt(i));
  return { values: buildTensor(r.values), indices: RawTensor.fromArray(DataType.INT64, [r.nnz], BigInt64Array.from(indices)), dims: r.dims };
}

/** A small If-branch-like subgraph of `outer` that reads an outer value. */
function buildSubgraph(outer: Graph, pool: readonly Value[], pick: number, label: string): Graph {
  const g = new Graph(label, outer);
  const v = pool[pick % pool.length];
  const n = g.add({ op: pick % 2 ? 'Neg' : 'Identity', name: `${label}_n`, inputs: [v] });
  n.metadata.set('built', label);
  g.addOutput(n.output);
  g.metadata.set('branch', label);
  return g;
}

function buildAttr(nm: string, r: AttrRecipe, outer: Graph, pool: readonly Value[], label: string): Attribute {
  let data: AttrValue;
  switch (r.t) {
    case 'float': data = { type: AttrType.FLOAT, value: r.v }; break;
    case 'int': return Attribute.int(nm, r.v as IntValue);
    case 'string': data = { type: AttrType.STRING, value: r.v }; break;
    case 'tensor': data = { type: AttrType.TENSOR, value: buildTensor(r.v) }; break;
    case 'graph': data = { type: AttrType.GRAPH, value: buildSubgraph(outer, pool, r.pick, `${label}_g`) }; break;
    case 'sparse': data = { type: AttrType.SPARSE_TENSOR, value: buildSparse(r.v) }; break;
    case 'type': data = { type: AttrType.TYPE_PROTO, value: buildType(r.v) }; break;
    case 'floats': data = { type: AttrType.FLOATS, value: r.v }; break;
    case 'ints': return Attribute.ints(nm, r.v);
    case 'strings': data = { type: AttrType.STRINGS, value: r.v }; break;
    case 'tensors': data = { type: AttrType.TENSORS, value: r.v.map((t) => buildTensor(t)) }; break;
    case 'graphs': data = { type: AttrType.GRAPHS, value: r.picks.map((p, i) => buildSubgraph(outer, pool, p, `${label}_gs${i}`)) }; break;
    case 'sparses': data = { type: AttrType.SPARSE_TENSORS, value: r.v.map(buildSparse) }; break;
    case 'types': data = { type: AttrType.TYPE_PROTOS, value: r.v.map(buildType) }; break;
  }
  return new Attribute(nm, data);
}

/** Builds the model a recipe describes; every recipe gives a model `verify` accepts. */
export function buildModel(r: ModelRecipe): Model {
  const m = new Model(new Graph('main'));
  m.opsetImports.set('', 21);
  m.opsetImports.set('com.example', 1);
  m.producerName = r.producer;
  m.docString = r.doc;
  m.modelVersion = r.modelVersion;
  for (const [k, v] of r.meta) m.metadata.set(k, v);
  const g = m.graph;
  for (const [k, v] of r.graphMeta) g.metadata.set(k, v);
  const pool: Value[] = [];
  r.inputs.forEach((inp, i) => {
    const v = g.addInput({ name: `in${i}`, type: inp.typed ? tensorType(DataType.FLOAT, inp.shape) : undefined });
    for (const [k, val] of inp.meta) v.metadata.set(k, val);
    pool.push(v);
  });
  r.inits.forEach((init, i) => {
    const v = g.addInitializer(`w${i}`, buildTensor(init.t));
    for (const [k, val] of init.meta) v.metadata.set(k, val);
    pool.push(v);
  });
  if (r.withFunction) {
    const body = new Graph('MyFn');
    const x = body.addInput({ name: 'fx' });
    const n = body.add({ op: 'Neg', name: 'fn_neg', inputs: [x], outputs: ['fy'] });
    n.setAttr(new Attribute('alpha', { type: AttrType.FLOAT, value: 0 }, 'alpha'));
    body.addOutput(n.output);
    const fn = new OnnxFunction('com.example.fn', 'MyFn', body);
    fn.opsetImports.set('', 21);
    fn.attributeNames = ['alpha'];
    fn.docString = 'a function';
    m.functions.push(fn);
  }
  r.nodes.forEach((nr, i) => {
    let [op, domain, minIn, maxIn, minOut, maxOut] = OPS[nr.op];
    if (op === 'MyFn' && !r.withFunction) [op, domain] = ['Relu', ''];
    const inCount = minIn + (nr.picks[0] % (maxIn - minIn + 1));
    const inputs: (Value | null)[] = [];
    for (let k = 0; k < inCount; k++) inputs.push(pool[nr.picks[k % nr.picks.length] % pool.length]);
    if (inCount >= 2 && nr.holeAt < inCount - 1) inputs[nr.holeAt] = null; // an omitted optional input, not the last
    const outCount = minOut + (nr.outputs % (maxOut - minOut + 1));
    const outputs = Array.from({ length: outCount }, (_, k) => {
      if (k > 0 && nr.omitMask & (1 << k)) return { omitted: true };
      const t = nr.typed[k % nr.typed.length];
      return { name: `v${i}_${k}`, type: t ? buildType(t) : undefined };
    });
    const attrs = nr.attrs.map(({ name: an, a }) => buildAttr(an, a, g, pool, `n${i}_${an}`));
    if (op === 'If') {
      attrs.push(Attribute.graph('then_branch', buildSubgraph(g, pool, nr.picks[1], `n${i}_then`)));
      attrs.push(Attribute.graph('else_branch', buildSubgraph(g, pool, nr.picks[2], `n${i}_else`)));
    }
    const unique = new Map(attrs.map((a) => [a.name, a]));
    const node = new Node({ op, domain, name: `node${i}`, inputs, outputs, attributes: unique.values() });
    node.docString = nr.doc;
    for (const [k, v] of nr.meta) node.metadata.set(k, v);
    g.append(node);
    for (const o of node.outputs) if (!o.isOmitted) pool.push(o);
  });
  const outs = new Set(r.outputs.map((p) => pool[pool.length - 1 - (p % pool.length)]));
  g.setOutputs([...outs]);
  return m;
}
