import { Attribute, AttrType, IntValue } from './attribute';
import { IrError } from './errors';
import type { Graph } from './graph';
import type { Tensor } from './tensor';
import type { TypeInfo } from './type';
import { Value } from './value';

/** An output to create. `omitted` marks an optional output the node does not produce (empty name in ONNX). */
export interface OutputDesc {
  name?: string;
  type?: TypeInfo;
  omitted?: boolean;
}

export interface NodeInit {
  op: string;
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain?: string;
  overload?: string;
  name?: string;
  inputs?: readonly (Value | null)[];
  /** Output count, names, or {name,type} descriptions. */
  outputs?: number | readonly (string | OutputDesc)[];
  attributes?: Iterable<Attribute>;
}

/**
 * An operator application. Inputs are Values (null for an omitted optional input); outputs are Values this
 * node produces. Changing an input goes through `replaceInput`, so the inputs' use lists stay exact.
 */
export class Node {
  op: string;
  domain: string;
  overload: string;
  name: string;
  docString = '';
  // Created on first use: a million-node graph should not pay for a million empty maps.
  private _attributes: Map<string, Attribute> | undefined;
  private _metadata: Map<string, string> | undefined;
  /** @internal position in the owning graph's node list */ _listBox: unknown = null;
  private _unknownFields: Uint8Array[] | undefined;
  private _extra: Record<string, unknown> | undefined;
  /** @internal scratch slot for graph algorithms (e.g. a node's position during a sort) */ _mark = -1;
  /** @internal set by the graph's node list */ _graph: Graph | null = null;
  private readonly _inputs: (Value | null)[] = [];
  /**
   * Whether the inputs' use lists currently record this node. A node records its uses only while it is
   * in a graph: a node built but never inserted, or removed, is nobody's user.
   */
  private _attached = false;
  private readonly _outputs: Value[] = [];

  constructor(init: NodeInit) {
    this.op = init.op;
    this.domain = init.domain === 'ai.onnx' ? '' : (init.domain ?? '');
    this.overload = init.overload ?? '';
    this.name = init.name ?? '';
    if (init.attributes) for (const a of init.attributes) this.attributes.set(a.name, a);
    // A new node is not in a graph yet, so its inputs record no use (adopting it attaches them).
    if (init.inputs) for (let i = 0; i < init.inputs.length; i++) this._inputs.push(init.inputs[i]);
    const outs = init.outputs ?? 1;
    if (typeof outs === 'number') {
      for (let i = 0; i < outs; i++) this.addOutputValue('', undefined, false);
    } else {
      for (const d of outs) {
        if (typeof d === 'string') this.addOutputValue(d, undefined, false);
        else this.addOutputValue(d.omitted ? '' : (d.name ?? ''), d.type, d.omitted === true);
      }
    }
  }

  private addOutputValue(name: string, type: TypeInfo | undefined, omitted: boolean): Value {
    const v = new Value(name, type);
    v._omitted = omitted;
    v._producer = this;
    v._outputIndex = this._outputs.length;
    this._outputs.push(v);
    return v;
  }

  get graph(): Graph | null {
    return this._graph;
  }
  /** Raw wire bytes of NodeProto fields this schema does not know, re-emitted on save. */
  get unknownFields(): Uint8Array[] {
    return (this._unknownFields ??= []);
  }
  set unknownFields(u: Uint8Array[]) {
    this._unknownFields = u;
  }
  /** Device configurations and other rarely used NodeProto fields, kept as decoded objects. */
  get extra(): Record<string, unknown> {
    return (this._extra ??= {});
  }
  set extra(e: Record<string, unknown>) {
    this._extra = e;
  }
  /** Attributes by name, in insertion order. Prefer `setAttr`/`removeAttr` for subgraph attributes. */
  get attributes(): Map<string, Attribute> {
    return (this._attributes ??= new Map());
  }
  /** metadata_props of the NodeProto. */
  get metadata(): Map<string, string> {
    return (this._metadata ??= new Map());
  }
  /** @internal metadata without creating it (empty → undefined). */
  _metadataIfAny(): ReadonlyMap<string, string> | undefined {
    return this._metadata && this._metadata.size ? this._metadata : undefined;
  }
  /** @internal unknown fields / extra without creating them (encoding must not grow every node). */
  _unknownIfAny(): readonly Uint8Array[] | undefined {
    return this._unknownFields && this._unknownFields.length ? this._unknownFields : undefined;
  }
  /** @internal */
  _extraIfAny(): Record<string, unknown> | undefined {
    return this._extra;
  }
  /** @internal whether any attribute holds a graph, without creating the attribute map. */
  _hasSubgraphs(): boolean {
    if (!this._attributes) return false;
    for (const a of this._attributes.values()) if (a.data.type === AttrType.GRAPH || a.data.type === AttrType.GRAPHS) return true;
    return false;
  }
  get inputs(): readonly (Value | null)[] {
    return this._inputs;
  }
  get outputs(): readonly Value[] {
    return this._outputs;
  }
  /** The single output; throws when the node has several. */
  get output(): Value {
    if (this._outputs.length !== 1) throw new IrError('IR_OUTPUTS', `node ${this.describe()} has ${this._outputs.length} outputs, not 1`, this.name);
    return this._outputs[0];
  }
  input(i: number): Value | null {
    return this._inputs[i] ?? null;
  }

  replaceInput(index: number, value: Value | null): void {
    if (index < 0 || index >= this._inputs.length) throw new IrError('IR_INPUT_INDEX', `node ${this.describe()} has no input ${index}`, this.name);
    const old = this._inputs[index];
    if (old === value) return;
    if (old && this._attached) old._removeUse(this, index);
    this._inputs[index] = value;
    if (value && this._attached) value._addUse(this, index);
  }

  appendInput(value: Value | null): void {
    const index = this._inputs.length;
    this._inputs.push(value);
    if (value && this._attached) value._addUse(this, index);
  }

  /** Removes trailing inputs down to `count` (omitted optional inputs at the end). */
  truncateInputs(count: number): void {
    while (this._inputs.length > count) {
      const index = this._inputs.length - 1;
      const v = this._inputs.pop();
      if (v && this._attached) v._removeUse(this, index);
    }
  }

  /** Whether this node's inputs currently list it as a user (true while it is in a graph). */
  get isAttached(): boolean {
    return this._attached;
  }

  /** @internal Drops every input use (the node is leaving the graph). */
  _detachInputs(): void {
    if (!this._attached) return;
    const inputs = this._inputs;
    for (let i = 0; i < inputs.length; i++) inputs[i]?._removeUse(this, i);
    this._attached = false;
  }
  /** @internal Restores input uses after `_detachInputs` (the node is re-inserted). */
  _attachInputs(): void {
    if (this._attached) return;
    const inputs = this._inputs;
    for (let i = 0; i < inputs.length; i++) inputs[i]?._addUse(this, i);
    this._attached = true;
  }

  /** Adds a new output value (for ops with variadic outputs). */
  appendOutput(desc: { name?: string; type?: TypeInfo } = {}): Value {
    const v = this.addOutputValue(desc.name ?? '', desc.type, false);
    this._graph?.names.register(v);
    return v;
  }

  // ---- attributes ------------------------------------------------------------------------------------
  attr(name: string): Attribute | undefined {
    return this._attributes?.get(name);
  }
  /**
   * Sets an attribute. Replacing a subgraph attribute of a node in a graph retires the old subgraph (its
   * nodes stop using outer values, its names are freed) and brings the new one in.
   */
  setAttr(attr: Attribute): void {
    const old = this.attributes.get(attr.name);
    if (old === attr) return;
    this.attributes.set(attr.name, attr);
    this.rescope(old, attr);
  }

  /** Removes an attribute (retiring its subgraphs, as `setAttr` does); returns whether it was there. */
  removeAttr(name: string): boolean {
    const old = this.attributes.get(name);
    if (!old) return false;
    this.attributes.delete(name);
    this.rescope(old, undefined);
    return true;
  }

  /** Subgraphs of `old` the node no longer holds leave the model; those of `added` join it. */
  private rescope(old: Attribute | undefined, added: Attribute | undefined): void {
    if (!this._graph) return;
    if (old) {
      const held = new Set(this.subgraphs()); // a branch moved to another attribute (a swap) stays
      for (const sg of attributeGraphs(old)) if (!held.has(sg)) for (const inner of sg.allGraphs()) inner._leaveScope();
    }
    if (added) for (const sg of attributeGraphs(added)) for (const inner of sg.allGraphs()) inner._enterScope();
  }

  attrInt(name: string, fallback?: number): number {
    const a = this._attributes?.get(name);
    if (!a) return this.missing(name, fallback);
    if (a.data.type !== AttrType.INT) throw this.wrongType(name, 'INT');
    return Number(a.data.value);
  }
  attrFloat(name: string, fallback?: number): number {
    const a = this._attributes?.get(name);
    if (!a) return this.missing(name, fallback);
    if (a.data.type === AttrType.FLOAT) return a.data.value;
    if (a.data.type === AttrType.INT) return Number(a.data.value);
    throw this.wrongType(name, 'FLOAT');
  }
  attrString(name: string, fallback?: string): string {
    const a = this._attributes?.get(name);
    if (!a) return this.missing(name, fallback);
    if (a.data.type !== AttrType.STRING) throw this.wrongType(name, 'STRING');
    return a.data.value;
  }
  attrInts(name: string, fallback?: readonly number[]): number[] {
    const a = this._attributes?.get(name);
    if (!a) return [...this.missing(name, fallback)];
    if (a.data.type !== AttrType.INTS) throw this.wrongType(name, 'INTS');
    return a.data.value.map((v: IntValue) => Number(v));
  }
  attrFloats(name: string, fallback?: readonly number[]): number[] {
    const a = this._attributes?.get(name);
    if (!a) return [...this.missing(name, fallback)];
    if (a.data.type !== AttrType.FLOATS) throw this.wrongType(name, 'FLOATS');
    return [...a.data.value];
  }
  attrTensor(name: string): Tensor | undefined {
    const a = this._attributes?.get(name);
    if (!a) return undefined;
    if (a.data.type !== AttrType.TENSOR) throw this.wrongType(name, 'TENSOR');
    return a.data.value;
  }

  /** Graphs held by GRAPH/GRAPHS attributes (If/Loop/Scan bodies). */
  subgraphs(): Graph[] {
    const out: Graph[] = [];
    // Most nodes hold no graph: skip the per-attribute arrays (shape inference and the rule driver ask per node).
    if (this._attributes && this._hasSubgraphs()) for (const a of this._attributes.values()) out.push(...attributeGraphs(a));
    return out;
  }

  /** `op` qualified by domain when the domain is not the default one. */
  get qualifiedOp(): string {
    return this.domain ? `${this.domain}::${this.op}` : this.op;
  }

  /** Short human description: name and op. */
  describe(): string {
    return `'${this.name || '<unnamed>'}' (${this.qualifiedOp})`;
  }

  private missing<T>(name: string, fallback: T | undefined): T {
    if (fallback === undefined) throw new IrError('IR_ATTR_MISSING', `node ${this.describe()} has no attribute '${name}'`, this.name);
    return fallback;
  }
  private wrongType(name: string, want: string): IrError {
    return new IrError('IR_ATTR_TYPE', `attribute '${name}' of node ${this.describe()} is not ${want}`, this.name);
  }
}

function attributeGraphs(a: Attribute): readonly Graph[] {
  if (a.data.type === AttrType.GRAPH) return [a.data.value];
  if (a.data.type === AttrType.GRAPHS) return a.data.value;
  return [];
}
