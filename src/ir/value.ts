import { IrError } from './errors';
import type { DataType } from './dtype';
import type { Graph } from './graph';
import type { Node } from './node';
import type { Tensor } from './tensor';
import type { Shape, TypeInfo } from './type';

export interface ReplaceOptions {
  /** Also point graph outputs holding this value at the replacement (changes the model's interface). */
  replaceGraphOutputs?: boolean;
  /** Uses by these nodes keep the old value (e.g. the node just inserted to consume it). */
  except?: Iterable<Node>;
}

/** One use of a value: `node.inputs[index] === value`. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

/**
 * A value with identity; its name is only an attribute. It has exactly one producer: a node output,
 * a graph input, or an initializer (then `constValue` holds the tensor). Uses are kept by the IR.
 */
export class Value {
  type: TypeInfo | undefined;
  docString = '';
  /** Created on first use: most values carry none, and million-node graphs should not pay for it. */
  private _metadata: Map<string, string> | undefined;
  /** Unknown ValueInfoProto fields, re-emitted on save. */
  private _unknownFields: Uint8Array[] | undefined;
  /** Initializer data when this value is an initializer. */
  constValue: Tensor | undefined;

  /** @internal set by Node/Graph */ _producer: Node | null = null;
  /** @internal */ _outputIndex = -1;
  /** @internal graph owning this value as input or initializer */ _ownerGraph: Graph | null = null;
  /** @internal number of graph-output slots holding this value */ _graphOutputSlots = 0;
  /** @internal an optional node output the node does not produce (no name in ONNX) */ _omitted = false;
  /** @internal an initializer the source file also described in value_info (re-emitted for an exact round trip) */
  _inValueInfo = false;
  /** The only use, while there is exactly one and no map (the common case, kept without allocating). */
  private soleUser: Node | null = null;
  private soleIndex = -1;
  /** Uses grouped by node, in the order nodes first used this value (once there are two or more). */
  private useMap: Map<Node, number[]> | undefined;
  private useTotal = 0;

  constructor(
    private _name: string = '',
    type?: TypeInfo,
  ) {
    this.type = type;
  }

  /** Raw wire bytes of ValueInfoProto fields this schema does not know, re-emitted on save. */
  get unknownFields(): Uint8Array[] {
    return (this._unknownFields ??= []);
  }
  set unknownFields(u: Uint8Array[]) {
    this._unknownFields = u;
  }
  /** metadata_props of the ValueInfoProto. */
  get metadata(): Map<string, string> {
    return (this._metadata ??= new Map());
  }
  set metadata(m: Map<string, string>) {
    this._metadata = m;
  }
  /** @internal unknown fields without creating them. */
  _unknownIfAny(): readonly Uint8Array[] | undefined {
    return this._unknownFields && this._unknownFields.length ? this._unknownFields : undefined;
  }
  /** @internal metadata without creating it (empty → undefined). */
  _metadataIfAny(): ReadonlyMap<string, string> | undefined {
    return this._metadata && this._metadata.size ? this._metadata : undefined;
  }

  get name(): string {
    return this._name;
  }
  /**
   * Renaming goes through the graph's name authority: a name held by another value is refused, an
   * initializer stays registered under its new name, and naming an omitted optional output makes the
   * node produce it.
   */
  set name(n: string) {
    const g = this.graph;
    if (!g) {
      this._name = n;
      return;
    }
    if (n === this._name) return;
    if (!n) throw new IrError('IR_NAME_EMPTY', `value '${this._name}' of graph '${g.name}' cannot lose its name`, this._name);
    const owner = this._ownerGraph;
    const old = this._name;
    g.names.rename(this, n);
    this._omitted = false;
    owner?._rekeyInitializer(old, this);
  }
  /** @internal used by the name authority */
  _setName(n: string): void {
    this._name = n;
  }

  /** Node that produces this value, or null for graph inputs and initializers. */
  get producer(): Node | null {
    return this._producer;
  }
  get outputIndex(): number {
    return this._outputIndex;
  }
  /** Graph the value belongs to (its producer's graph, or the graph it is an input/initializer of). */
  get graph(): Graph | null {
    return this._producer ? this._producer.graph : this._ownerGraph;
  }
  get isInitializer(): boolean {
    return this.constValue !== undefined && this._ownerGraph !== null && this._ownerGraph.initializers.get(this.name) === this;
  }
  get isGraphInput(): boolean {
    return this._ownerGraph !== null && this._ownerGraph.inputs.includes(this);
  }
  /** An optional node output that is not produced (written with an empty name). */
  get isOmitted(): boolean {
    return this._omitted;
  }
  get isGraphOutput(): boolean {
    return this._graphOutputSlots > 0;
  }

  get dtype(): DataType | undefined {
    return this.type && (this.type.kind === 'tensor' || this.type.kind === 'sparse_tensor') ? this.type.elemType : undefined;
  }
  get shape(): Shape | undefined {
    return this.type && (this.type.kind === 'tensor' || this.type.kind === 'sparse_tensor') ? this.type.shape : undefined;
  }

  /** Snapshot of the uses, in insertion order. */
  uses(): Use[] {
    if (this.soleUser) return [{ node: this.soleUser, index: this.soleIndex }];
    const out: Use[] = [];
    if (this.useMap) for (const [node, indices] of this.useMap) for (const index of indices) out.push({ node, index });
    return out;
  }
  get useCount(): number {
    return this.useTotal;
  }
  /** Whether `node.inputs[index]` is recorded as a use of this value (O(inputs of that node)). */
  hasUse(node: Node, index: number): boolean {
    if (this.soleUser) return this.soleUser === node && this.soleIndex === index;
    return this.useMap?.get(node)?.includes(index) ?? false;
  }
  hasUses(): boolean {
    return this.useTotal > 0;
  }
  /** Nodes that use this value (deduplicated, in first-use order). */
  consumers(): Node[] {
    if (this.soleUser) return [this.soleUser];
    return this.useMap ? [...this.useMap.keys()] : [];
  }

  /** @internal maintained by Node only */
  _addUse(node: Node, index: number): void {
    if (this.useTotal === 0 && !this.useMap) {
      // Most values have one use: keep it inline, no map.
      this.soleUser = node;
      this.soleIndex = index;
      this.useTotal = 1;
      return;
    }
    if (this.soleUser) {
      if (this.soleUser === node && this.soleIndex === index) return;
      this.useMap = new Map([[this.soleUser, [this.soleIndex]]]);
      this.soleUser = null;
    }
    const map = (this.useMap ??= new Map());
    const list = map.get(node);
    if (!list) {
      map.set(node, [index]);
    } else {
      if (list.includes(index)) return;
      list.push(index);
    }
    this.useTotal++;
  }
  /** @internal maintained by Node only */
  _removeUse(node: Node, index: number): void {
    if (this.soleUser) {
      if (this.soleUser !== node || this.soleIndex !== index) return;
      this.soleUser = null;
      this.useTotal = 0;
      return;
    }
    const list = this.useMap?.get(node);
    if (!list) return;
    const at = list.indexOf(index);
    if (at < 0) return;
    list.splice(at, 1);
    this.useTotal--;
    if (list.length === 0) this.useMap!.delete(node);
    if (this.useTotal === 0) this.useMap = undefined;
  }

  /**
   * Points every use of this value at `other`. Graph outputs are rewired only when the caller says so,
   * because replacing an output changes the model's interface.
   */
  replaceAllUsesWith(other: Value, options: ReplaceOptions = {}): void {
    if (other === this) return;
    const except = options.except ? new Set(options.except) : undefined;
    for (const use of this.uses()) if (!except?.has(use.node)) use.node.replaceInput(use.index, other);
    if (options.replaceGraphOutputs && this.isGraphOutput) {
      const g = this.graph;
      if (!g) throw new IrError('IR_DETACHED', `value '${this.name}' is a graph output but belongs to no graph`, this.name);
      // Usually the value's own graph holds it; a subgraph may also return an outer value directly.
      const rewire = (h: Graph) => h.outputs.forEach((o, i) => {
        if (o === this) h.setOutput(i, other);
      });
      rewire(g);
      if (this.isGraphOutput) for (const h of g.root.allGraphs()) if (h !== g) rewire(h);
    }
  }

  toString(): string {
    return `%${this.name || '<anonymous>'}`;
  }
}

