import { Attribute, AttrType, AttrValue, SparseTensorValue } from '../../ir/attribute';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { ExternalTensor, StringTensor, Tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import type { Pass, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { isInferenceDropout } from './identity-cleanup';

/** Ops whose every evaluation may differ: two of them with equal inputs are not the same value. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/** Bytes of a tensor that go into the bucket key; equal keys are confirmed byte by byte. */
const KEY_BYTES = 4096;

/**
 * Common subexpression elimination: within each graph, a node with the same op, domain, inputs (by value
 * identity) and attributes (compared structurally, tensors by bytes) as an earlier node is replaced by it.
 * Nodes are visited in order, so merged inputs make their consumers mergeable in the same sweep. Never merges
 * nodes holding subgraphs, random ops or training-mode Dropout. When the duplicate's output is a graph output
 * the kept value takes its name; when both are graph outputs both nodes stay (only other uses move).
 */
@loweringPass({
  name: 'cse',
  description: 'Common subexpression elimination: merges nodes with identical op, inputs and attributes',
  after: ['identity_cleanup'],
})
export class CommonSubexpressionElimination implements Pass {
  readonly inPlace = true;

  run(model: Model): PassResult {
    const graphs = [...model.graph.allGraphs()];
    for (const f of model.functions) graphs.push(...f.body.allGraphs());
    const ids = new ValueIds();
    let merged = 0;
    let redirected = 0;
    // Outer graphs first: merging there rewires the outer values nested bodies use before they are keyed.
    for (const g of graphs) {
      const buckets = new Map<string, Node[]>();
      for (const node of g.nodes) {
        if (!isMergeable(node)) continue;
        const key = nodeKey(node, ids);
        const bucket = buckets.get(key);
        const keep = bucket?.find((c) => sameComputation(c, node));
        if (!keep) {
          if (bucket) bucket.push(node);
          else buckets.set(key, [node]);
          continue;
        }
        const outcome = mergeInto(g, keep, node);
        if (outcome === 'merged') merged++;
        else if (outcome === 'redirected') redirected++;
      }
    }
    const changes = merged + redirected;
    return { model, modified: changes > 0, changes, counts: { merged_nodes: merged, redirected_duplicates: redirected } };
  }
}

function isMergeable(node: Node): boolean {
  if (node.outputs.length === 0 || node.subgraphs().length > 0) return false;
  if (NONDETERMINISTIC.has(node.op)) return false;
  if (node.op === 'Dropout' && !isInferenceDropout(node)) return false;
  return true;
}

/**
 * Replaces `dup` by `keep`. Returns 'merged' when `dup` was removed, 'redirected' when it had to stay (an
 * output both of them expose as graph outputs, or one a nested body returns) but its other uses moved.
 */
function mergeInto(g: Graph, keep: Node, dup: Node): 'merged' | 'redirected' | 'none' {
  const mustStay = dup.outputs.some((d, i) => d.isGraphOutput && keep.outputs[i].isGraphOutput);
  if (mustStay) {
    let moved = false;
    dup.outputs.forEach((d, i) => {
      if (d.hasUses()) moved = true;
      d.replaceAllUsesWith(keep.outputs[i]);
    });
    return moved ? 'redirected' : 'none';
  }
  const renames: [Value, string][] = [];
  dup.outputs.forEach((d, i) => {
    const k = keep.outputs[i];
    if (d.isGraphOutput) {
      if (g.outputs.includes(d)) {
        renames.push([k, d.name]);
        if (k.type === undefined) k.type = d.type;
      }
      // Nested bodies may return `d` directly too; every such slot moves to `k`.
      for (const h of g.allGraphs()) h.outputs.forEach((o, slot) => {
        if (o === d) h.setOutput(slot, k);
      });
    }
    d.replaceAllUsesWith(k);
  });
  g.remove(dup);
  // The graph output keeps its name: the interface of the model does not change.
  for (const [k, name] of renames) k.name = name;
  return 'merged';
}

function sameComputation(a: Node, b: Node): boolean {
  if (a.op !== b.op || a.domain !== b.domain || a.overload !== b.overload) return false;
  if (a.inputs.length !== b.inputs.length || a.outputs.length !== b.outputs.length) return false;
  if (a.inputs.some((v, i) => v !== b.inputs[i])) return false;
  if (a.outputs.some((o, i) => o.isOmitted !== b.outputs[i].isOmitted)) return false;
  if (a.attributes.size !== b.attributes.size) return false;
  for (const [name, attr] of a.attributes) {
    const other = b.attributes.get(name);
    if (!other || !sameAttribute(attr, other)) return false;
  }
  return true;
}

/** Bucket key: cheap and equal for equal computations; `sameComputation` settles collisions. */
function nodeKey(node: Node, ids: ValueIds): string {
  const parts = [node.domain, node.op, node.overload, node.outputs.map((o) => (o.isOmitted ? '-' : '+')).join('')];
  for (const v of node.inputs) parts.push(v ? String(ids.of(v)) : '_');
  const names = [...node.attributes.keys()].sort();
  for (const name of names) {
    const a = node.attributes.get(name) as Attribute;
    parts.push(`${name}=${a.refAttrName ?? ''}:${attrKey(a.data)}`);
  }
  return parts.join('|');
}

function attrKey(d: AttrValue): string {
  switch (d.type) {
    case AttrType.FLOAT: return floatKey(d.value);
    case AttrType.INT: return String(d.value);
    case AttrType.STRING: return JSON.stringify(d.value);
    case AttrType.FLOATS: return d.value.map(floatKey).join(',');
    case AttrType.INTS: return d.value.map(String).join(',');
    case AttrType.STRINGS: return JSON.stringify(d.value);
    case AttrType.TENSOR: return tensorKey(d.value);
    case AttrType.TENSORS: return d.value.map(tensorKey).join(',');
    case AttrType.SPARSE_TENSOR: return sparseKey(d.value);
    case AttrType.SPARSE_TENSORS: return d.value.map(sparseKey).join(',');
    case AttrType.TYPE_PROTO: return JSON.stringify(d.value);
    case AttrType.TYPE_PROTOS: return JSON.stringify(d.value);
    // Nodes with subgraphs are never merged (see isMergeable), so graphs need no real key.
    case AttrType.GRAPH: case AttrType.GRAPHS: return 'graph';
  }
}

function floatKey(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function tensorKey(t: Tensor): string {
  const head = `${t.dtype}[${t.dims.join(',')}]`;
  if (t instanceof StringTensor) return `${head}s${t.strings.length}`;
  if (t instanceof ExternalTensor && t.isExternal) return `${head}@${t.external.location}:${t.external.offset}`;
  const bytes = t.bytes();
  return `${head}#${bytes.byteLength}:${fnv(bytes.subarray(0, KEY_BYTES))}`;
}

function sparseKey(s: SparseTensorValue): string {
  return `sparse[${s.dims.join(',')}]${tensorKey(s.values)}/${tensorKey(s.indices)}`;
}

function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16);
}

function sameAttribute(a: Attribute, b: Attribute): boolean {
  if (a.refAttrName !== b.refAttrName) return false;
  const x = a.data;
  const y = b.data;
  switch (x.type) {
    case AttrType.FLOAT: return y.type === x.type && Object.is(x.value, y.value);
    case AttrType.INT: return y.type === x.type && String(x.value) === String(y.value);
    case AttrType.STRING: return y.type === x.type && x.value === y.value;
    case AttrType.FLOATS: return y.type === x.type && sameList(x.value, y.value, Object.is);
    case AttrType.INTS: return y.type === x.type && sameList(x.value, y.value, (p, q) => String(p) === String(q));
    case AttrType.STRINGS: return y.type === x.type && sameList(x.value, y.value, (p, q) => p === q);
    case AttrType.TENSOR: return y.type === x.type && sameTensor(x.value, y.value);
    case AttrType.TENSORS: return y.type === x.type && sameList(x.value, y.value, sameTensor);
    case AttrType.SPARSE_TENSOR: return y.type === x.type && sameSparse(x.value, y.value);
    case AttrType.SPARSE_TENSORS: return y.type === x.type && sameList(x.value, y.value, sameSparse);
    case AttrType.TYPE_PROTO: case AttrType.TYPE_PROTOS: return y.type === x.type && JSON.stringify(x.value) === JSON.stringify(y.value);
    case AttrType.GRAPH: case AttrType.GRAPHS: return false;
  }
}

function sameList<T>(a: readonly T[], b: readonly T[], eq: (p: T, q: T) => boolean): boolean {
  return a.length === b.length && a.every((v, i) => eq(v, b[i]));
}

/** Same dtype, dims and bytes. External tensors not yet read compare by location, so weights are never read. */
function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a === b) return true;
  if (a.dtype !== b.dtype || !sameList(a.dims, b.dims, (p, q) => p === q)) return false;
  if (a instanceof StringTensor || b instanceof StringTensor) {
    return a instanceof StringTensor && b instanceof StringTensor && sameList(a.strings, b.strings, sameBytes);
  }
  const aExternal = a instanceof ExternalTensor && a.isExternal;
  const bExternal = b instanceof ExternalTensor && b.isExternal;
  if (aExternal || bExternal) {
    if (!(a instanceof ExternalTensor && b instanceof ExternalTensor)) return false;
    const p = a.external;
    const q = b.external;
    return p.location === q.location && p.offset === q.offset && p.length === q.length && p.baseDir === q.baseDir;
  }
  return sameBytes(a.bytes(), b.bytes());
}

function sameSparse(a: SparseTensorValue, b: SparseTensorValue): boolean {
  return sameList(a.dims, b.dims, (p, q) => p === q) && sameTensor(a.values, b.values) && sameTensor(a.indices, b.indices);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Small integer identities for values, so keys stay short strings. */
class ValueIds {
  private readonly ids = new Map<Value, number>();
  of(v: Value): number {
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(v, id);
    }
    return id;
  }
}
