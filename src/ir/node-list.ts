import { IrError } from './errors';
import type { Node } from './node';

interface Box {
  node: Node | null; // null only for the sentinel
  prev: Box;
  next: Box;
  erased: boolean;
  list: NodeList;
  /** Last reorder that saw this box (catches a node listed twice). */
  stamp: number;
}

let reorderStamp = 0;

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
    const s = { node: null, erased: false, list: this, stamp: 0 } as unknown as Box;
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
    const out: Node[] = new Array(this.count);
    let i = 0;
    for (let box = this.sentinel.next; box !== this.sentinel; box = box.next) if (!box.erased) out[i++] = box.node as Node;
    return out;
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

  /**
   * Replaces the whole order (used by topological sort); `order` must hold exactly the same nodes. The
   * boxes are relinked, not remade: an iteration in flight goes on from its node's new place.
   */
  reorder(order: readonly Node[]): void {
    if (order.length !== this.count) throw new IrError('IR_REORDER', `reorder got ${order.length} nodes for a list of ${this.count}`);
    const boxes: Box[] = new Array(order.length);
    const stamp = ++reorderStamp;
    for (let i = 0; i < order.length; i++) {
      const b = order[i]._listBox as Box | null;
      if (!b || b.list !== this || b.erased) throw new IrError('IR_NOT_IN_GRAPH', `node ${order[i].describe()} is not in this list`, order[i].name);
      if (b.stamp === stamp) throw new IrError('IR_REORDER', `node ${order[i].describe()} is listed twice`, order[i].name);
      b.stamp = stamp;
      boxes[i] = b;
    }
    let prev = this.sentinel;
    for (const b of boxes) {
      prev.next = b;
      b.prev = prev;
      prev = b;
    }
    prev.next = this.sentinel;
    this.sentinel.prev = prev;
  }

  private insertBeforeBox(at: Box, node: Node): void {
    if (node._listBox !== null) throw new IrError('IR_NODE_OWNED', `node ${node.describe()} is already in a node list`, node.name);
    const box: Box = { node, prev: at.prev, next: at, erased: false, list: this, stamp: 0 };
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
