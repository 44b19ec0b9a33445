import { IrError } from './errors';
import type { Value } from './value';

/**
 * The unique-name authority of one model: every value in a graph and its subgraphs has a distinct
 * name (ONNX SSA). New values get fresh names; a name clash on insertion gets a numeric suffix.
 */
export class NameAuthority {
  private readonly taken = new Map<string, Value>();
  /** Node names are a separate namespace; onnxruntime refuses duplicates, so new nodes get fresh ones. */
  private readonly nodeNames = new Set<string>();
  private counter = 0;

  /** Records a node name in use (names from a file are kept as they are, even if repeated). */
  useNodeName(name: string): void {
    if (name) this.nodeNames.add(name);
  }

  /** A node name not yet used, derived from `base`. */
  freshNodeName(base: string): string {
    let name = base;
    while (this.nodeNames.has(name)) name = `${base}_${++this.counter}`;
    this.nodeNames.add(name);
    return name;
  }

  has(name: string): boolean {
    return this.taken.has(name);
  }
  lookup(name: string): Value | undefined {
    return this.taken.get(name);
  }

  /** Registers a value, giving it a fresh name when it has none or its name is held by another value. */
  register(value: Value): void {
    if (value.isOmitted) return;
    const current = this.taken.get(value.name);
    if (value.name && current === value) return;
    if (!value.name || current !== undefined) value._setName(this.fresh(value.name || 'val'));
    this.taken.set(value.name, value);
  }

  /** Registers a value whose name must be kept (graph inputs/outputs from a file); refuses clashes. */
  registerExact(value: Value): void {
    const current = this.taken.get(value.name);
    if (current !== undefined && current !== value) {
      throw new IrError('IR_NAME_CLASH', `value name '${value.name}' is defined twice`, value.name);
    }
    this.taken.set(value.name, value);
  }

  release(value: Value): void {
    if (this.taken.get(value.name) === value) this.taken.delete(value.name);
  }

  rename(value: Value, name: string): void {
    if (name === value.name) return;
    const holder = this.taken.get(name);
    if (holder !== undefined && holder !== value) {
      throw new IrError('IR_NAME_CLASH', `cannot rename '${value.name}' to '${name}': the name is taken`, name);
    }
    this.release(value);
    value._setName(name);
    if (name) this.taken.set(name, value);
  }

  /** A name not yet taken, derived from `base`. */
  fresh(base: string): string {
    if (!this.taken.has(base)) return base;
    let name: string;
    do name = `${base}_${++this.counter}`;
    while (this.taken.has(name));
    return name;
  }
}
