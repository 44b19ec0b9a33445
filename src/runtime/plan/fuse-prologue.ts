import type { KernelStep } from '../../converters/cuda';
import { OpCode } from '../../converters/cuda';
import { sameArg } from './step-args';

/**
 * Attention-prologue fusion over a plan's steps: in a run of consecutive ROPE (4-D layout) and CACHE_WRITE
 * steps — what a decoder layer emits between its q/k/v projection and its attention — RoPE of q,
 * RoPE of k together with the cache write of the rotated k, and the cache write of v become one ROPE_PACK
 * launch (4 kernels → 1 per layer; a cache that is not updated in place is copied first, as CACHE_WRITE does).
 * The steps of such a run are independent of each other except k's RoPE → k's cache write, which the pack keeps
 * in order inside one thread; anything the pack does not take stays after it, in its original order.
 */
export function fuseAttentionPrologues(steps: readonly KernelStep[]): KernelStep[] {
  const out: KernelStep[] = [];
  let i = 0;
  while (i < steps.length) {
    let j = i;
    while (j < steps.length && (isRope4d(steps[j]) || steps[j].op === OpCode.CACHE_WRITE)) j++;
    if (j - i >= 2) {
      out.push(...fuseRun(steps.slice(i, j)));
      i = j;
    } else {
      out.push(steps[i]);
      i++;
    }
  }
  return out;
}

// ROPE args: dt dtc B H S D rd inter l3 x cos sin pos out cbs
const R = { dt: 0, dtc: 1, B: 2, H: 3, S: 4, D: 5, rd: 6, inter: 7, l3: 8, x: 9, cos: 10, sin: 11, pos: 12, out: 13, cbs: 14 };
// CACHE_WRITE args: dt B H T D S src dst cur start copyAll
const C = { dt: 0, B: 1, H: 2, T: 3, D: 4, S: 5, src: 6, dst: 7, cur: 8, start: 9 };

function isRope4d(s: KernelStep): boolean {
  return s.op === OpCode.ROPE && s.args[R.l3] === 0;
}

function fuseRun(run: KernelStep[]): KernelStep[] {
  const ropes = run.filter(isRope4d);
  const writes = run.filter((s) => s.op === OpCode.CACHE_WRITE);
  for (const kR of ropes) {
    const kW = writes.find((w) => sameArg(w.args[C.cur], kR.args[R.out]) && w.args[C.dt] === kR.args[R.dt] && w.args[C.B] === kR.args[R.B]
      && w.args[C.H] === kR.args[R.H] && w.args[C.S] === kR.args[R.S] && w.args[C.D] === kR.args[R.D]);
    if (!kW) continue;
    const shared = [R.dt, R.dtc, R.B, R.S, R.D, R.rd, R.inter, R.cos, R.sin, R.pos, R.cbs];
    const qR = ropes.find((r) => r !== kR && shared.every((k) => sameArg(r.args[k], kR.args[k]))
      && !writes.some((w) => sameArg(w.args[C.cur], r.args[R.out])));
    const vW = writes.find((w) => w !== kW && [C.dt, C.B, C.T, C.D, C.S, C.start].every((k) => sameArg(w.args[k], kW.args[k]))
      && !ropes.some((r) => sameArg(r.args[R.out], w.args[C.cur])));
    const pack: KernelStep = {
      op: OpCode.ROPE_PACK,
      node: kR.node,
      opType: 'RotaryEmbedding+TensorScatter',
      args: [
        kR.args[R.dt], kR.args[R.dtc], kR.args[R.B], kR.args[R.S], kR.args[R.D], kR.args[R.rd], kR.args[R.inter], kW.args[C.T],
        kR.args[R.cos], kR.args[R.sin], kR.args[R.pos], kR.args[R.cbs], kW.args[C.start],
        qR ? qR.args[R.H] : 0, qR ? qR.args[R.x] : null, qR ? qR.args[R.out] : null,
        kR.args[R.H], kR.args[R.x], kR.args[R.out], kW.args[C.src], kW.args[C.dst],
        vW ? vW.args[C.H] : 0, vW ? vW.args[C.cur] : null, vW ? vW.args[C.src] : null, vW ? vW.args[C.dst] : null,
      ],
    };
    const taken = new Set<KernelStep>([kR, kW]);
    if (qR) taken.add(qR);
    if (vW) taken.add(vW);
    return [pack, ...fuseRun(run.filter((s) => !taken.has(s)))];
  }
  return run;
}
