import { Attribute, AttrLiteral, AttrType } from './attribute';
import type { Graph } from './graph';
import { Node } from './node';
import { RawTensor, Tensor } from './tensor';
import type { TypeInfo } from './type';
import type { Value } from './value';

export interface OpOptions {
  domain?: string;
  name?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  outputTypes?: readonly (TypeInfo | undefined)[];
}

/**
 * Creates nodes at an insertion point (before a node, or at the end) and tags them with metadata, so every
 * node a rewrite makes says which rule made it.
 */
export class Builder {
  readonly created: Node[] = [];
  constructor(
    readonly graph: Graph,
    private readonly before?: Node,
    private readonly tags: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** Adds a node and returns its outputs. */
  node(op: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrLiteral | Attribute | undefined> = {}, options: OpOptions = {}): Node {
    const attributes: Attribute[] = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attributes.push(v instanceof Attribute ? v : toAttribute(k, v));
    const count = options.outputs ?? 1;
    const node = new Node({
      op, domain: options.domain, name: options.name ?? this.graph.names.freshNodeName(`${op}_${this.tags.get('onnx_lower.rule') ?? this.tags.get('onnx_lower.pass') ?? 'node'}`), inputs, attributes,
      outputs: Array.from({ length: count }, (_, i) => ({ type: options.outputTypes?.[i] })),
    });
    for (const [k, v] of this.tags) node.metadata.set(k, v);
    if (this.before && this.before.graph === this.graph) this.graph.insertBefore(this.before, node);
    else this.graph.append(node);
    this.created.push(node);
    return node;
  }

  /** Adds a single-output node and returns its output value. */
  op(op: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrLiteral | Attribute | undefined> = {}, options: OpOptions = {}): Value {
    return this.node(op, inputs, attrs, { ...options, outputs: 1 }).outputs[0];
  }

  /** Adds an initializer with a fresh name derived from `name`. */
  constant(name: string, t: Tensor): Value {
    return this.graph.root.addInitializer(this.graph.names.fresh(name), t);
  }
}

/** Converts a literal to an attribute: integers → INT(S), other numbers → FLOAT(S). Use Attribute.* to force a type. */
export function toAttribute(name: string, v: AttrLiteral): Attribute {
  if (v instanceof Attribute) return v;
  if (typeof v === 'bigint') return Attribute.int(name, v);
  if (typeof v === 'number') return Number.isInteger(v) ? Attribute.int(name, v) : Attribute.float(name, v);
  if (typeof v === 'string') return Attribute.string(name, v);
  if (v instanceof RawTensor || v instanceof Tensor) return Attribute.tensor(name, v);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return new Attribute(name, { type: AttrType.STRINGS, value: v as string[] });
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? Attribute.ints(name, nums) : Attribute.floats(name, nums);
  }
  return Attribute.graph(name, v as Graph);
}
