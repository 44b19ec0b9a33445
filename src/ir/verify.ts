import { dataTypeName } from './dtype';
import { VerifyError } from './errors';
import type { Graph } from './graph';
import type { Model } from './model';
import type { Node } from './node';
import { formatShape } from './type';
import type { Value } from './value';

export interface VerifyOptions {
  /** Check value types against initializer tensors and declared shapes (default true). */
  types?: boolean;
}

/**
 * Lists every violation of the IR contracts: SSA (one definition per name), topological order, dangling or
 * out-of-scope values, use lists that disagree with node inputs, subgraphs not attached where they are
 * held, missing opset imports, and type/shape mismatches where both sides are known. Each message names
 * the node or value.
 */
/** Where a value is defined: the text, or the producing node (its text built only for a message). */
type Where = string | Node;
function whereText(w: Where): string {
  return typeof w === 'string' ? w : `node ${w.describe()}`;
}

export function verify(model: Model, options: VerifyOptions = {}): string[] {
  const problems: string[] = [];
  const graphs = model.graph.allGraphs();
  const functionGraphs = model.functions.flatMap((f) => f.body.allGraphs());
  const holder = new Map<Graph, Node>();
  for (const g of [...graphs, ...functionGraphs]) {
    for (const n of g.nodes) {
      for (const sg of n.subgraphs()) {
        const prev = holder.get(sg);
        if (prev) problems.push(`subgraph '${sg.name}' is held by two attributes (of nodes ${prev.describe()} and ${n.describe()}); copy it instead`);
        else holder.set(sg, n);
        if (sg.outer !== g) {
          problems.push(`subgraph '${sg.name}' of node ${n.describe()} was made for ${sg.outer ? `graph '${sg.outer.name}'` : 'no outer graph'}, not for graph '${g.name}' holding it (names and scope are not shared)`);
        }
      }
    }
  }
  const positions = new Positions();

  const definedBy = new Map<string, Where>();
  const define = (v: Value, where: Where) => {
    if (v.isOmitted) return;
    if (!v.name) {
      problems.push(`${whereText(where)} defines a value with no name`);
      return;
    }
    const prev = definedBy.get(v.name);
    if (prev !== undefined) problems.push(`value '${v.name}' is defined twice (${whereText(prev)} and ${whereText(where)}) — SSA violated`);
    else definedBy.set(v.name, where);
  };

  for (const g of graphs) verifyGraph(g, holder, positions, problems, define);
  for (const f of model.functions) {
    const fnDefined = new Map<string, Where>();
    const defineInFunction = (v: Value, where: Where) => {
      if (v.isOmitted || !v.name) return;
      const prev = fnDefined.get(v.name);
      if (prev !== undefined) problems.push(`value '${v.name}' is defined twice in function '${f.name}' (${whereText(prev)} and ${whereText(where)}) — SSA violated`);
      else fnDefined.set(v.name, where);
    };
    for (const g of f.body.allGraphs()) verifyGraph(g, holder, positions, problems, defineInFunction);
  }

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

/** Node positions per graph, computed once per graph (verify is linear, not quadratic, in nested graphs). */
class Positions {
  private readonly maps = new Map<Graph, Map<Node, number>>();
  of(g: Graph): Map<Node, number> {
    let m = this.maps.get(g);
    if (!m) {
      m = new Map();
      let i = 0;
      for (const n of g.nodes) m.set(n, i++);
      this.maps.set(g, m);
    }
    return m;
  }
}

function verifyGraph(g: Graph, holder: Map<Graph, Node>, positions: Positions, problems: string[], define: (v: Value, where: Where) => void): void {
  const position = positions.of(g);
  const where = `graph '${g.name}'`;
  for (const v of g.inputs) {
    define(v, `input of ${where}`);
    if (v.producer) problems.push(`input '${v.name}' of ${where} is also produced by node ${v.producer.describe()}`);
    else if (v.graph !== g) problems.push(`input '${v.name}' of ${where} is not owned by it`);
    checkUses(v, problems);
  }
  for (const [name, v] of g.initializers) {
    if (!g.inputs.includes(v)) define(v, `initializer of ${where}`);
    if (v.name !== name) problems.push(`initializer '${name}' of ${where} is registered under another name ('${v.name}')`);
    if (!v.constValue) problems.push(`initializer '${name}' of ${where} has no tensor`);
    if (v.producer) problems.push(`initializer '${name}' of ${where} is also produced by node ${v.producer.describe()}`);
    else if (v.graph !== g) problems.push(`initializer '${name}' of ${where} is not owned by it`);
    if (!g.inputs.includes(v)) checkUses(v, problems);
  }

  /**
   * Is `v` usable at node position `pos` of graph `g` (pos = Infinity for graph outputs)? `user` names the use:
   * text, or a node and `index` of its input (the text built only for a message).
   */
  const check = (v: Value, use: string | Node, pos: number, index = 0) => {
    const user = (): string => (typeof use === 'string' ? use : `node ${use.describe()} input ${index}`);
    const p = v.producer;
    if (p) {
      const pg = p.graph;
      if (!pg) return problems.push(`${user()} uses '${v.name}', produced by removed node ${p.describe()} (dangling)`);
      // Walk up from g to pg, tracking the node that holds the current graph.
      let cur: Graph = g;
      let at = pos;
      while (cur !== pg) {
        const h = holder.get(cur);
        if (!h || !h.graph) return problems.push(`${user()} uses '${v.name}', which is out of scope (produced in graph '${pg.name}')`);
        at = positions.of(h.graph).get(h) ?? -1;
        cur = h.graph;
      }
      const pp = positions.of(cur).get(p);
      if (pp === undefined) return problems.push(`${user()} uses '${v.name}', produced by node ${p.describe()} which is missing from graph '${pg.name}' (dangling)`);
      if (!(pp < at)) problems.push(`${user()} uses '${v.name}' before it is produced by ${p.describe()} (not in topological order)`);
      return;
    }
    const owner = v.graph;
    if (!owner) return problems.push(`${user()} uses '${v.name}', which has no producer (dangling)`);
    if (!owner.inputs.includes(v) && owner.initializers.get(v.name) !== v) {
      return problems.push(`${user()} uses '${v.name}', which is neither an input nor an initializer of graph '${owner.name}' (dangling)`);
    }
    // Scope follows the holder chain (as for node outputs), so a subgraph made for another graph is caught.
    let cur: Graph | undefined = g;
    while (cur && cur !== owner) cur = holder.get(cur)?.graph ?? undefined;
    if (!cur) problems.push(`${user()} uses '${v.name}', which is out of scope (defined in graph '${owner.name}')`);
  };

  for (const n of g.nodes) {
    const pos = position.get(n) as number;
    if (n.graph !== g) problems.push(`node ${n.describe()} is listed in ${where} but says it belongs to ${n.graph ? `graph '${n.graph.name}'` : 'no graph'}`);
    n.inputs.forEach((v, idx) => {
      if (!v) return;
      check(v, n, pos, idx);
      if (!v.hasUse(n, idx)) problems.push(`use list of '${v.name}' misses node ${n.describe()} input ${idx}`);
    });
    n.outputs.forEach((o, idx) => {
      define(o, n);
      if (o.producer !== n || o.outputIndex !== idx) problems.push(`output ${idx} '${o.name}' of node ${n.describe()} has a wrong producer link`);
      if (o.isOmitted && (o.hasUses() || o.isGraphOutput)) problems.push(`output ${idx} of node ${n.describe()} is omitted (not produced) but used`);
      checkUses(o, problems);
    });
  }
  g.outputs.forEach((v, idx) => check(v, `output ${idx} of ${where}`, Infinity));
}

/** Every recorded use must be a node in a graph that holds the value at that input. */
function checkUses(v: Value, problems: string[]): void {
  for (const u of v.uses()) {
    if (u.node.inputs[u.index] !== v) problems.push(`use list of '${v.name}' names node ${u.node.describe()} input ${u.index}, which holds something else`);
    if (!u.node.graph) problems.push(`use list of '${v.name}' names removed node ${u.node.describe()}`);
  }
}

function verifyTypes(graphs: Graph[], problems: string[]): void {
  for (const g of graphs) {
    for (const [name, v] of g.initializers) {
      const t = v.constValue;
      if (!t || !v.type) continue;
      if (v.type.kind !== 'tensor') {
        problems.push(`initializer '${name}' is declared as a ${v.type.kind}, not a tensor`);
        continue;
      }
      if (v.type.elemType !== t.dtype) problems.push(`initializer '${name}' is declared ${dataTypeName(v.type.elemType)} but holds ${dataTypeName(t.dtype)}`);
      const s = v.type.shape;
      if (s && (s.length !== t.dims.length || s.some((d, i) => typeof d === 'number' && d !== t.dims[i]))) {
        problems.push(`initializer '${name}' is declared ${formatShape(s)} but holds [${t.dims.join(', ')}]`);
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
