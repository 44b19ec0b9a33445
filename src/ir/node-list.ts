import { IrError } from './errors';
import type { Node } from './node';

interface Box {
  node: Node | null; // null only for the sentinel
  prev: Box;
  next: Box;
  erased: boolean;
  list: NodeList;
}

/**
 * Ordered node container that survives mutation during iteration: an erased box keeps its `next`
 * pointer, so an iterator standing on a removed node still finds its way back into the list.
 * Each insertion makes a fresh box, so a node moved elsewhere is seen at its new place.
 */
export class NodeList implements Iterable<Node> {
  private readonly sentinel: Box;
  // A node's box hangs on the node itself (a node is in one list at most): no per-list hash map.
  private count = 0;

  constructor() {
    const s = { node: null, erased: false, list: this } as unknown as Box;
    s.prev = s;
    s.next = s;
    this.sentinel = s;
  }

  get size(): number {
    return this.count;
  }
  has(node: Node): boolean {
    const b = node._listBox as Box | null;
    return b !== null && b.list === this && !b.erased;
  }
  get first(): Node | undefined {
    return this.sentinel.next.node ?? undefined;
  }
  get last(): Node | undefined {
    return this.sentinel.prev.node ?? undefined;
  }

  *[Symbol.iterator](): Iterator<Node> {
    let box = this.sentinel.next;
    while (box !== this.sentinel) {
      if (!box.erased) yield box.node as Node;
      box = box.next;
    }
  }

  *reversed(): Iterable<Node> {
    let box = this.sentinel.prev;
    while (box !== this.sentinel) {
      if (!box.erased) yield box.node as Node;
      box = box.prev;
    }
  }

  toArray(): Node[] {
    return [...this];
  }

  /** Index of the node in order (O(n)); -1 when absent. */
  indexOf(node: Node): number {
    let i = 0;
    for (const n of this) {
      if (n === node) return i;
      i++;
    }
    return -1;
  }

  append(node: Node): void {
    this.insertBeforeBox(this.sentinel, node);
  }
  insertBefore(ref: Node, node: Node): void {
    this.insertBeforeBox(this.boxOf(ref), node);
  }
  insertAfter(ref: Node, node: Node): void {
    this.insertBeforeBox(this.boxOf(ref).next, node);
  }

  remove(node: Node): void {
    const box = this.boxOf(node);
    box.prev.next = box.next;
    box.next.prev = box.prev;
    box.erased = true;
    node._listBox = null;
    this.count--;
  }

  /** Replaces the whole order (used by topological sort); `order` must hold exactly the same nodes. */
  reorder(order: readonly Node[]): void {
    for (const n of order) this.remove(n);
    for (const n of order) this.append(n);
  }

  private insertBeforeBox(at: Box, node: Node): void {
    if (node._listBox !== null) throw new IrError('IR_NODE_OWNED', `node ${node.describe()} is already in a node list`, node.name);
    const box: Box = { node, prev: at.prev, next: at, erased: false, list: this };
    at.prev.next = box;
    at.prev = box;
    node._listBox = box;
    this.count++;
  }
  private boxOf(node: Node): Box {
    const b = node._listBox as Box | null;
    if (!b || b.list !== this) throw new IrError('IR_NOT_IN_GRAPH', `node ${node.describe()} is not in this graph`, node.name);
    return b;
  }
}
