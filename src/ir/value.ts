import { IrError } from './errors';
import type { DataType } from './dtype';
import type { Graph } from './graph';
import type { Node } from './node';
import type { Tensor } from './tensor';
import type { Shape, TypeInfo } from './type';

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
  metadata = new Map<string, string>();
  /** Unknown ValueInfoProto fields, re-emitted on save. */
  unknownFields: Uint8Array[] = [];
  /** Initializer data when this value is an initializer. */
  constValue: Tensor | undefined;

  /** @internal set by Node/Graph */ _producer: Node | null = null;
  /** @internal */ _outputIndex = -1;
  /** @internal graph owning this value as input or initializer */ _ownerGraph: Graph | null = null;
  /** @internal number of graph-output slots holding this value */ _graphOutputSlots = 0;
  /** @internal an optional node output the node does not produce (no name in ONNX) */ _omitted = false;
  /** Uses grouped by node, in the order nodes first used this value. */
  private readonly useMap = new Map<Node, number[]>();
  private useTotal = 0;

  constructor(
    private _name: string = '',
    type?: TypeInfo,
  ) {
    this.type = type;
  }

  get name(): string {
    return this._name;
  }
  set name(n: string) {
    const g = this.graph;
    if (g) g.names.rename(this, n);
    else this._name = n;
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
    const out: Use[] = [];
    for (const [node, indices] of this.useMap) for (const index of indices) out.push({ node, index });
    return out;
  }
  get useCount(): number {
    return this.useTotal;
  }
  hasUses(): boolean {
    return this.useTotal > 0;
  }
  /** Nodes that use this value (deduplicated, in first-use order). */
  consumers(): Node[] {
    return [...this.useMap.keys()];
  }

  /** @internal maintained by Node only */
  _addUse(node: Node, index: number): void {
    const list = this.useMap.get(node);
    if (!list) {
      this.useMap.set(node, [index]);
    } else {
      if (list.includes(index)) return;
      list.push(index);
    }
    this.useTotal++;
  }
  /** @internal maintained by Node only */
  _removeUse(node: Node, index: number): void {
    const list = this.useMap.get(node);
    if (!list) return;
    const at = list.indexOf(index);
    if (at < 0) return;
    list.splice(at, 1);
    this.useTotal--;
    if (list.length === 0) this.useMap.delete(node);
  }

  /**
   * Points every use of this value at `other`. Graph outputs are rewired only when the caller says so,
   * because replacing an output changes the model's interface.
   */
  replaceAllUsesWith(other: Value, options: { replaceGraphOutputs?: boolean } = {}): void {
    if (other === this) return;
    for (const use of this.uses()) use.node.replaceInput(use.index, other);
    if (options.replaceGraphOutputs && this.isGraphOutput) {
      const g = this.graph;
      if (!g) throw new IrError('IR_DETACHED', `value '${this.name}' is a graph output but belongs to no graph`, this.name);
      g.outputs.forEach((o, i) => {
        if (o === this) g.setOutput(i, other);
      });
    }
  }

  toString(): string {
    return `%${this.name || '<anonymous>'}`;
  }
}

