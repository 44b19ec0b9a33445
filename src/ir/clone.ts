import { Attribute, AttrType, AttrValue } from './attribute';
import { Graph } from './graph';
import { Model, OnnxFunction } from './model';
import { Node } from './node';
import { Value } from './value';

/** Deep copy of a model. Tensors are immutable and shared; everything else is new. */
export function cloneModel(model: Model): Model {
  const copy = new Model(cloneGraph(model.graph));
  copy.irVersion = model.irVersion;
  copy.producerName = model.producerName;
  copy.producerVersion = model.producerVersion;
  copy.domain = model.domain;
  copy.modelVersion = model.modelVersion;
  copy.docString = model.docString;
  copy.baseDir = model.baseDir;
  copy.unknownFields = [...model.unknownFields];
  copy.extra = { ...model.extra };
  for (const [k, v] of model.opsetImports) copy.opsetImports.set(k, v);
  for (const [k, v] of model.metadata) copy.metadata.set(k, v);
  for (const f of model.functions) {
    const body = cloneGraph(f.body);
    const fc = new OnnxFunction(f.domain, f.name, body, f.overload);
    fc.docString = f.docString;
    fc.attributeNames = [...f.attributeNames];
    fc.attributeDefaults = f.attributeDefaults.map((a) => cloneAttribute(a, body, new Map()));
    fc.unknownFields = [...f.unknownFields];
    for (const [k, v] of f.opsetImports) fc.opsetImports.set(k, v);
    for (const [k, v] of f.metadata) fc.metadata.set(k, v);
    copy.functions.push(fc);
  }
  return copy;
}

/**
 * Copies a graph. `map` carries old → new values; values used from outside the copied scope that are not
 * in `map` stay pointing at the originals (so a subgraph can be copied under the same outer graph).
 * Names are kept where the target name authority has them free; a copy made inside the same model (a
 * duplicated If branch, an unrolled Loop body) gets fresh names instead of clashing with the original.
 */
export function cloneGraph(graph: Graph, outer: Graph | null = null, map = new Map<Value, Value>()): Graph {
  const g = new Graph(graph.name, outer);
  g.docString = graph.docString;
  g.unknownFields = [...graph.unknownFields];
  g.extra = { ...graph.extra };
  for (const [k, v] of graph.metadata) g.metadata.set(k, v);
  for (const input of graph.inputs) {
    const fresh = new Value(input.name, input.type);
    g.names.register(fresh); // keeps the name when free, otherwise picks a fresh one
    const v = g.addInput(fresh);
    copyValueInfo(input, v);
    map.set(input, v);
  }
  for (const [name, init] of graph.initializers) {
    const existing = map.get(init);
    if (existing && existing.graph === g) {
      g.setInitializerOf(existing, init.constValue!);
      continue;
    }
    const v = g.addInitializer(name, init.constValue!);
    v.type = init.type;
    copyValueInfo(init, v);
    map.set(init, v);
  }
  // Phase 1: node shells with their outputs, so inputs can refer to any node regardless of order.
  const pairs: [Node, Node][] = [];
  for (const n of graph.nodes) {
    const c = new Node({
      op: n.op, domain: n.domain, overload: n.overload, name: n.name,
      outputs: n.outputs.map((o) => ({ name: o.name, type: o.type })),
    });
    c.docString = n.docString;
    c.unknownFields = [...n.unknownFields];
    c.extra = { ...n.extra };
    for (const [k, v] of n._metadataIfAny() ?? []) c.metadata.set(k, v);
    n.outputs.forEach((o, i) => {
      copyValueInfo(o, c.outputs[i]);
      map.set(o, c.outputs[i]);
    });
    g.append(c);
    pairs.push([n, c]);
  }
  // Phase 2: inputs and attributes (subgraphs are copied now that every outer value has a copy).
  for (const [n, c] of pairs) {
    for (const v of n.inputs) c.appendInput(v ? (map.get(v) ?? v) : null);
    for (const a of n.attributes.values()) c.setAttr(cloneAttribute(a, g, map));
  }
  g.setOutputs(graph.outputs.map((o) => map.get(o) ?? o));
  return g;
}

function cloneAttribute(a: Attribute, owner: Graph, map: Map<Value, Value>): Attribute {
  let data: AttrValue = a.data;
  if (a.data.type === AttrType.GRAPH) data = { type: AttrType.GRAPH, value: cloneGraph(a.data.value, owner, map) };
  else if (a.data.type === AttrType.GRAPHS) data = { type: AttrType.GRAPHS, value: a.data.value.map((sg) => cloneGraph(sg, owner, map)) };
  const c = new Attribute(a.name, data, a.refAttrName);
  c.docString = a.docString;
  c.unknownFields = [...a.unknownFields];
  return c;
}

function copyValueInfo(from: Value, to: Value): void {
  to.type = from.type;
  to.docString = from.docString;
  to.unknownFields = [...from.unknownFields];
  to._inValueInfo = from._inValueInfo;
  for (const [k, v] of from._metadataIfAny() ?? []) to.metadata.set(k, v);
}
