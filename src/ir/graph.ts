import { IrError } from './errors';
import { NameAuthority } from './names';
import { Node, NodeInit } from './node';
import { NodeList } from './node-list';
import type { Tensor } from './tensor';
import { TypeInfo, tensorType } from './type';
import { Value } from './value';

/**
 * A graph: ordered nodes, inputs, outputs and initializers. Subgraphs (If/Loop/Scan bodies) are Graphs
 * whose `outer` is the graph of the node holding them; they share the root's name authority and may use
 * outer values directly.
 */
export class Graph implements Iterable<Node> {
  name: string;
  docString = '';
  readonly metadata = new Map<string, string>();
  unknownFields: Uint8Array[] = [];
  /** Rarely used GraphProto fields (quantization_annotation, sparse_initializer), kept as decoded. */
  extra: Record<string, unknown> = {};
  readonly nodes = new NodeList();
  readonly initializers = new Map<string, Value>();
  readonly names: NameAuthority;
  private readonly _inputs: Value[] = [];
  private readonly _outputs: Value[] = [];

  constructor(name = 'main_graph', readonly outer: Graph | null = null) {
    this.name = name;
    this.names = outer ? outer.names : new NameAuthority();
  }

  [Symbol.iterator](): Iterator<Node> {
    return this.nodes[Symbol.iterator]();
  }

  get inputs(): readonly Value[] {
    return this._inputs;
  }
  get outputs(): readonly Value[] {
    return this._outputs;
  }

  /** The outermost graph. */
  get root(): Graph {
    let g: Graph = this;
    while (g.outer) g = g.outer;
    return g;
  }

  /** True when `value` is visible here: defined in this graph or an enclosing one. */
  isInScope(value: Value): boolean {
    const owner = value.graph;
    for (let g: Graph | null = this; g; g = g.outer) if (g === owner) return true;
    return false;
  }

  // ---- inputs, outputs, initializers ----------------------------------------------------------------
  addInput(value: Value | { name: string; type?: TypeInfo }): Value {
    const v = value instanceof Value ? value : new Value(value.name, value.type);
    if (v.producer) throw new IrError('IR_FOREIGN_VALUE', `value '${v.name}' is produced by node ${v.producer.describe()}; it cannot also be a graph input`, v.name);
    if (v.graph && v.graph !== this) throw new IrError('IR_FOREIGN_VALUE', `value '${v.name}' belongs to another graph`, v.name);
    if (this._inputs.includes(v)) throw new IrError('IR_NAME_CLASH', `'${v.name}' is already an input of graph '${this.name}'`, v.name);
    if (!v.name) throw new IrError('IR_NAME_EMPTY', `a graph input of '${this.name}' needs a name`);
    this.names.registerExact(v);
    v._ownerGraph = this;
    this._inputs.push(v);
    return v;
  }

  /** Removes a graph input; refuses while it is still used. */
  removeInput(value: Value): void {
    const i = this._inputs.indexOf(value);
    if (i < 0) throw new IrError('IR_NOT_INPUT', `'${value.name}' is not an input of graph '${this.name}'`, value.name);
    if (value.hasUses() || value.isGraphOutput) throw new IrError('IR_IN_USE', `graph input '${value.name}' is still used`, value.name);
    this._inputs.splice(i, 1);
    if (!value.isInitializer) {
      value._ownerGraph = null;
      this.names.release(value);
    }
  }

  /** Inserts an input at a position (keeps the interface order a caller wants). */
  insertInput(index: number, value: Value): Value {
    this.addInput(value);
    this._inputs.pop();
    this._inputs.splice(index, 0, value);
    return value;
  }

  addOutput(value: Value): void {
    this._outputs.push(value);
    value._graphOutputSlots++;
  }
  setOutput(index: number, value: Value): void {
    const old = this._outputs[index];
    if (!old) throw new IrError('IR_OUTPUT_INDEX', `graph '${this.name}' has no output ${index}`);
    old._graphOutputSlots--;
    this._outputs[index] = value;
    value._graphOutputSlots++;
  }
  setOutputs(values: readonly Value[]): void {
    for (const o of this._outputs) o._graphOutputSlots--;
    this._outputs.length = 0;
    for (const v of values) this.addOutput(v);
  }

  /** Adds an initializer value named `name` holding `tensor`; the value's type comes from the tensor. */
  addInitializer(name: string, tensor: Tensor, options: { exactName?: boolean } = {}): Value {
    const v = new Value(name, tensorType(tensor.dtype, tensor.dims));
    v.constValue = tensor;
    v._ownerGraph = this;
    if (options.exactName) this.names.registerExact(v);
    else this.names.register(v);
    tensor.name = v.name;
    this.initializers.set(v.name, v);
    return v;
  }

  /** Makes an existing graph input also an initializer (ONNX's "input with default"). */
  setInitializerOf(value: Value, tensor: Tensor): void {
    if (value._ownerGraph !== this) throw new IrError('IR_FOREIGN_VALUE', `value '${value.name}' is not defined in graph '${this.name}'`, value.name);
    value.constValue = tensor;
    tensor.name = value.name;
    this.initializers.set(value.name, value);
  }

  removeInitializer(value: Value): void {
    if (this.initializers.get(value.name) !== value) throw new IrError('IR_NOT_INITIALIZER', `'${value.name}' is not an initializer of graph '${this.name}'`, value.name);
    if (value.hasUses() || value.isGraphOutput) throw new IrError('IR_IN_USE', `initializer '${value.name}' is still used`, value.name);
    this.initializers.delete(value.name);
    value.constValue = undefined;
    if (!this._inputs.includes(value)) {
      value._ownerGraph = null;
      this.names.release(value);
    }
  }

  // ---- nodes ----------------------------------------------------------------------------------------
  /** Creates a node from `init` and appends it. */
  add(init: NodeInit): Node {
    const n = new Node(init);
    this.append(n);
    return n;
  }
  append(node: Node): Node {
    this.adopt(node);
    this.nodes.append(node);
    return node;
  }
  insertBefore(ref: Node, node: Node): Node {
    this.requireMember(ref);
    this.adopt(node);
    this.nodes.insertBefore(ref, node);
    return node;
  }
  insertAfter(ref: Node, node: Node): Node {
    this.requireMember(ref);
    this.adopt(node);
    this.nodes.insertAfter(ref, node);
    return node;
  }

  /**
   * Removes nodes, all or nothing: refused when any output of a removed node is a graph output or is used
   * by a node that stays.
   */
  remove(nodes: Node | Iterable<Node>): void {
    const set = new Set(nodes instanceof Node ? [nodes] : nodes);
    for (const n of set) {
      if (n.graph !== this) throw new IrError('IR_NOT_IN_GRAPH', `node ${n.describe()} is not in graph '${this.name}'`, n.name);
      for (const out of n.outputs) {
        if (out.isGraphOutput) throw new IrError('IR_IN_USE', `cannot remove node ${n.describe()}: its output '${out.name}' is a graph output`, n.name);
        for (const use of out.uses()) {
          if (!set.has(use.node) && !isInsideAny(use.node, set)) {
            throw new IrError('IR_IN_USE', `cannot remove node ${n.describe()}: its output '${out.name}' is used by ${use.node.describe()}`, n.name);
          }
        }
      }
    }
    for (const n of set) {
      n._detachInputs();
      this.nodes.remove(n);
      n._graph = null;
      for (const out of n.outputs) this.names.release(out);
      // The node's subgraphs leave the model with it: their nodes stop using outer values and their
      // names become free again (they come back if the node is re-inserted).
      if (n._hasSubgraphs()) for (const sg of n.subgraphs()) for (const inner of sg.allGraphs()) inner._leaveScope();
    }
  }

  /** This graph and every nested subgraph, outermost first (iterative; deep nesting is fine). */
  allGraphs(): Graph[] {
    const out: Graph[] = [];
    const stack: Graph[] = [this];
    while (stack.length) {
      const g = stack.pop() as Graph;
      out.push(g);
      for (const n of g.nodes) {
        if (!n._hasSubgraphs()) continue;
        const subs = n.subgraphs();
        for (let i = subs.length - 1; i >= 0; i--) stack.push(subs[i]);
      }
    }
    return out;
  }

  /** Every node in this graph and its subgraphs. */
  *allNodes(): Iterable<Node> {
    for (const g of this.allGraphs()) yield* g.nodes;
  }

  /** @internal Re-keys an initializer after its value was renamed, keeping the initializer order. */
  _rekeyInitializer(oldName: string, value: Value): void {
    if (this.initializers.get(oldName) !== value) return;
    const entries = [...this.initializers];
    this.initializers.clear();
    for (const [k, v] of entries) this.initializers.set(k === oldName ? value.name : k, v);
  }

  private requireMember(ref: Node): void {
    if (ref.graph !== this || !this.nodes.has(ref)) {
      throw new IrError('IR_NOT_IN_GRAPH', `reference node ${ref.describe()} is not in graph '${this.name}'`, ref.name);
    }
  }

  private adopt(node: Node): void {
    if (node.graph) throw new IrError('IR_NODE_OWNED', `node ${node.describe()} already belongs to graph '${node.graph.name}'`, node.name);
    node._graph = this;
    this.names.useNodeName(node.name);
    for (const out of node.outputs) this.names.register(out);
    node._attachInputs(); // a node inserted (or re-inserted after removal) becomes a user of its inputs
    if (node._hasSubgraphs()) for (const sg of node.subgraphs()) for (const inner of sg.allGraphs()) inner._enterScope();
  }

  /** This (sub)graph's holder left the model: drop its nodes' uses and free its value names. */
  /** @internal */
  _leaveScope(): void {
    for (const v of this._inputs) this.names.release(v);
    for (const v of this.initializers.values()) this.names.release(v);
    for (const n of this.nodes) {
      n._detachInputs();
      for (const out of n.outputs) this.names.release(out);
    }
  }

  /**
   * This (sub)graph's holder joined a graph: take the names back (fresh ones where they were taken
   * meanwhile) and restore its nodes' uses. A no-op for a subgraph that never left.
   */
  /** @internal */
  _enterScope(): void {
    for (const v of this._inputs) this.names.register(v);
    for (const [name, v] of [...this.initializers]) {
      if (!this._inputs.includes(v)) this.names.register(v);
      if (v.name !== name) this._rekeyInitializer(name, v);
    }
    for (const n of this.nodes) {
      for (const out of n.outputs) this.names.register(out);
      n._attachInputs();
    }
  }
}

function isInsideAny(node: Node, set: Set<Node>): boolean {
  for (let g = node.graph; g; g = g.outer) {
    for (const holder of set) if (holder.subgraphs().includes(g)) return true;
  }
  return false;
}
