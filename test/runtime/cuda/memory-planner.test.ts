import fc from 'fast-check';
import { ALIGNMENT, BufferLifetime, planMemory, verifyMemoryPlan } from '../../../src/runtime/plan/memory-planner';

describe('memory planner', () => {
  it('never overlaps buffers that are live at the same time, and aligns offsets', () => {
    const lifetime = fc.record({ bytes: fc.integer({ min: 1, max: 1 << 20 }), first: fc.integer({ min: 0, max: 60 }), len: fc.integer({ min: 0, max: 20 }) });
    fc.assert(fc.property(fc.array(lifetime, { minLength: 1, maxLength: 60 }), (raw) => {
      const buffers: BufferLifetime[] = raw.map((b, id) => ({ id, bytes: b.bytes, first: b.first, last: b.first + b.len }));
      const plan = planMemory(buffers);
      expect(verifyMemoryPlan(buffers, plan)).toBeUndefined();
      for (const o of plan.offsets.values()) expect(o % ALIGNMENT).toBe(0);
      expect(plan.arenaBytes).toBeLessThanOrEqual(plan.totalBytes);
      const peak = Math.max(...Array.from({ length: 81 }, (_, t) => buffers.filter((b) => b.first <= t && t <= b.last).reduce((s, b) => s + Math.ceil(b.bytes / ALIGNMENT) * ALIGNMENT, 0)));
      expect(plan.arenaBytes).toBeGreaterThanOrEqual(peak);
    }), { numRuns: 200 });
  });

  it('reuses memory along a chain (each buffer dies as the next is made)', () => {
    const buffers = Array.from({ length: 50 }, (_, i) => ({ id: i, bytes: 4096, first: i, last: i + 1 }));
    const plan = planMemory(buffers);
    expect(plan.arenaBytes).toBe(2 * 4096);
    expect(plan.totalBytes).toBe(50 * 4096);
  });
});
