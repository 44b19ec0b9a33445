/**
 * Static memory plan: every temporary buffer of a program gets a byte offset in one arena such that buffers
 * whose lifetimes overlap never share bytes. Greedy by size (largest first, lowest offset that fits), as
 * TFLite's and ONNX Runtime's planners do: near-optimal for the chain-shaped lifetimes of transformer layers.
 */
export interface BufferLifetime {
  readonly id: number;
  readonly bytes: number;
  /** First and last step (inclusive) that touch the buffer. */
  readonly first: number;
  readonly last: number;
}

export interface MemoryPlan {
  readonly offsets: ReadonlyMap<number, number>;
  /** Arena size in bytes. */
  readonly arenaBytes: number;
  /** Sum of all buffer sizes (what no reuse would need). */
  readonly totalBytes: number;
}

export const ALIGNMENT = 256;

export function alignUp(n: number, a = ALIGNMENT): number {
  return Math.ceil(n / a) * a;
}

export function planMemory(buffers: readonly BufferLifetime[]): MemoryPlan {
  const sorted = [...buffers].sort((a, b) => b.bytes - a.bytes || a.first - b.first || a.id - b.id);
  const placed: { start: number; end: number; first: number; last: number }[] = [];
  const offsets = new Map<number, number>();
  let arena = 0;
  let total = 0;
  for (const b of sorted) {
    const size = alignUp(Math.max(b.bytes, 1));
    total += size;
    const conflicts = placed.filter((p) => p.first <= b.last && b.first <= p.last).sort((x, y) => x.start - y.start);
    let offset = 0;
    for (const c of conflicts) {
      if (offset + size <= c.start) break;
      offset = Math.max(offset, c.end);
    }
    placed.push({ start: offset, end: offset + size, first: b.first, last: b.last });
    offsets.set(b.id, offset);
    arena = Math.max(arena, offset + size);
  }
  return { offsets, arenaBytes: arena, totalBytes: total };
}

/** Checks a plan: no two live-overlapping buffers overlap in bytes (used by tests). */
export function verifyMemoryPlan(buffers: readonly BufferLifetime[], plan: MemoryPlan): string | undefined {
  for (let i = 0; i < buffers.length; i++) {
    for (let j = i + 1; j < buffers.length; j++) {
      const a = buffers[i];
      const b = buffers[j];
      if (a.first > b.last || b.first > a.last) continue;
      const ao = plan.offsets.get(a.id) as number;
      const bo = plan.offsets.get(b.id) as number;
      if (ao < bo + b.bytes && bo < ao + a.bytes) return `buffers ${a.id} and ${b.id} overlap while both are live`;
    }
  }
  return undefined;
}
