import { dataTypeName } from './dtype';
import { VerifyError } from './errors';
import type { Graph } from './graph';
import type { Model } from './model';
import type { Node } from './node';
import { formatShape, sameShape } from './type';
import type { Value } from './value';

export interface VerifyOptions {
  /** Check value types against initializer tensors and declared shapes (default true). */
  types?: boolean;
}

/**
 * Lists every violation of the IR contracts: SSA (one definition per name), topological order, dangling or
 * out-of-scope values, use lists that disagree with node inputs, missing opset imports, and type/shape
 * mismatches where both sides are known. Each message names the node or value.
 */
export function verify(model: Model, options: VerifyOptions = {}): string[] {
  const problems: string[] = [];
  const holder = new Map<Graph, Node>();
  const graphs = model.graph.allGraphs();
  for (const g of graphs) for (const n of g.nodes) for (const sg of n.subgraphs()) holder.set(sg, n);
  const functionBodies = model.functions.map((f) => f.body);

  const definedBy = new Map<string, string>();
  const define = (v: Value, where: string) => {
    if (v.isOmitted) return;
    if (!v.name) {
      problems.push(`${where} defines a value with no name`);
      return;
    }
    const prev = definedBy.get(v.name);
    if (prev !== undefined) problems.push(`value '${v.name}' is defined twice (${prev} and ${where}) — SSA violated`);
    else definedBy.set(v.name, where);
  };

  for (const g of graphs) verifyGraph(g, holder, problems, define);
  for (const body of functionBodies) for (const g of body.allGraphs()) verifyGraph(g, holder, problems, () => {});

  for (const g of graphs) {
    for (const n of g.nodes) {
      if (model.findFunction(n.domain, n.op, n.overload)) continue;
      if (model.opset(n.domain) === undefined) {
        problems.push(`node ${n.describe()} uses domain '${n.domain || 'ai.onnx'}' which has no opset import`);
      }
    }
  }
  if (options.types !== false) verifyTypes(graphs, problems);
  return problems;
}

/** Throws a VerifyError listing every violation, if any. */
export function assertValid(model: Model, options?: VerifyOptions): void {
  const problems = verify(model, options);
  if (problems.length) throw new VerifyError(problems);
}

function verifyGraph(g: Graph, holder: Map<Graph, Node>, problems: string[], define: (v: Value, where: string) => void): void {
  const position = new Map<Node, number>();
  let i = 0;
  for (const n of g.nodes) position.set(n, i++);
  const where = `graph '${g.name}'`;
  for (const v of g.inputs) {
    define(v, `input of ${where}`);
    if (v.graph !== g) problems.push(`input '${v.name}' of ${where} is not owned by it`);
  }
  for (const [name, v] of g.initializers) {
    if (!g.inputs.includes(v)) define(v, `initializer of ${where}`);
    if (v.name !== name) problems.push(`initializer '${name}' of ${where} is registered under another name ('${v.name}')`);
    if (!v.constValue) problems.push(`initializer '${name}' of ${where} has no tensor`);
  }

  /** Is `v` usable at node position `pos` of graph `g` (pos = Infinity for graph outputs)? */
  const check = (v: Value, user: string, pos: number) => {
    const p = v.producer;
    if (p) {
      const pg = p.graph;
      if (!pg) return problems.push(`${user} uses '${v.name}', produced by removed node ${p.describe()} (dangling)`);
      // Walk up from g to pg, tracking the node that holds the current graph.
      let cur: Graph = g;
      let at = pos;
      while (cur !== pg) {
        const h = holder.get(cur);
        if (!h || !h.graph) return problems.push(`${user} uses '${v.name}', which is out of scope (produced in graph '${pg.name}')`);
        at = positionIn(h.graph, h);
        cur = h.graph;
      }
      const pp = cur === g ? position.get(p) : positionIn(cur, p);
      if (pp === undefined || !(pp < at)) problems.push(`${user} uses '${v.name}' before it is produced by ${p.describe()} (not in topological order)`);
      return;
    }
    const owner = v.graph;
    if (!owner) return problems.push(`${user} uses '${v.name}', which has no producer (dangling)`);
    if (!owner.inputs.includes(v) && owner.initializers.get(v.name) !== v) {
      return problems.push(`${user} uses '${v.name}', which is neither an input nor an initializer of graph '${owner.name}' (dangling)`);
    }
    if (!g.isInScope(v)) problems.push(`${user} uses '${v.name}', which is out of scope (defined in graph '${owner.name}')`);
  };

  for (const n of g.nodes) {
    const pos = position.get(n) as number;
    n.inputs.forEach((v, idx) => {
      if (!v) return;
      check(v, `node ${n.describe()} input ${idx}`, pos);
      if (!v.uses().some((u) => u.node === n && u.index === idx)) problems.push(`use list of '${v.name}' misses node ${n.describe()} input ${idx}`);
    });
    n.outputs.forEach((o, idx) => {
      define(o, `node ${n.describe()}`);
      if (o.producer !== n || o.outputIndex !== idx) problems.push(`output ${idx} '${o.name}' of node ${n.describe()} has a wrong producer link`);
      for (const u of o.uses()) {
        if (u.node.inputs[u.index] !== o) problems.push(`use list of '${o.name}' names node ${u.node.describe()} input ${u.index}, which holds something else`);
        if (!u.node.graph) problems.push(`use list of '${o.name}' names removed node ${u.node.describe()}`);
      }
    });
  }
  g.outputs.forEach((v, idx) => check(v, `output ${idx} of ${where}`, Infinity));
}

function positionIn(g: Graph, n: Node): number {
  return g.nodes.indexOf(n);
}

function verifyTypes(graphs: Graph[], problems: string[]): void {
  for (const g of graphs) {
    for (const [name, v] of g.initializers) {
      const t = v.constValue;
      if (!t || !v.type || v.type.kind !== 'tensor') continue;
      if (v.type.elemType !== t.dtype) problems.push(`initializer '${name}' is declared ${dataTypeName(v.type.elemType)} but holds ${dataTypeName(t.dtype)}`);
      if (v.type.shape && !v.type.shape.every((d) => typeof d !== 'number') && !sameShape(v.type.shape.map((d, i) => (typeof d === 'number' ? d : t.dims[i])), t.dims)) {
        problems.push(`initializer '${name}' is declared ${formatShape(v.type.shape)} but holds [${t.dims.join(', ')}]`);
      }
    }
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        const s = o.shape;
        if (s && s.some((d) => typeof d === 'number' && (d < 0 || !Number.isInteger(d)))) {
          problems.push(`value '${o.name}' of node ${n.describe()} has an impossible shape ${formatShape(s)}`);
        }
      }
    }
  }
}
