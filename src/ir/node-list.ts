import type { Node } from './node';

interface Box {
  node: Node | null; // null only for the sentinel
  prev: Box;
  next: Box;
  erased: boolean;
}

/**
 * Ordered node container that survives mutation during iteration: an erased box keeps its `next`
 * pointer, so an iterator standing on a removed node still finds its way back into the list.
 * Each insertion makes a fresh box, so a node moved elsewhere is seen at its new place.
 */
export class NodeList implements Iterable<Node> {
  private readonly sentinel: Box;
  private readonly boxes = new Map<Node, Box>();

  constructor() {
    const s = { node: null, erased: false } as unknown as Box;
    s.prev = s;
    s.next = s;
    this.sentinel = s;
  }

  get size(): number {
    return this.boxes.size;
  }
  has(node: Node): boolean {
    return this.boxes.has(node);
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
    this.boxes.delete(node);
  }

  /** Replaces the whole order (used by topological sort); `order` must hold exactly the same nodes. */
  reorder(order: readonly Node[]): void {
    for (const n of order) this.remove(n);
    for (const n of order) this.append(n);
  }

  private insertBeforeBox(at: Box, node: Node): void {
    if (this.boxes.has(node)) throw new Error(`node ${node.describe()} is already in this graph`);
    const box: Box = { node, prev: at.prev, next: at, erased: false };
    at.prev.next = box;
    at.prev = box;
    this.boxes.set(node, box);
  }
  private boxOf(node: Node): Box {
    const b = this.boxes.get(node);
    if (!b) throw new Error(`node ${node.describe()} is not in this graph`);
    return b;
  }
}
