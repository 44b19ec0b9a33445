import type { DT, KernelStep } from '../../converters/cuda';
import { OpCode } from '../../converters/cuda';
import { isRef, sameArg } from './step-args';

/** Largest normalised input (rows x K elements) the GEMV keeps in shared memory (kernels.cu GEMV_NORM_SMEM). */
export const GEMV_NORM_SMEM = 47 * 1024;

// GEMV args: dt M K nseg x na nb nscale nsum eps dts, then the segments
const G = { dt: 0, M: 1, K: 2, x: 4, na: 5, nb: 6, nscale: 7, nsum: 8, eps: 9, dts: 10 };
// ADD_RMSNORM args: dt dts rows cols eps a b scale sum out; RMSNORM args: dt dts rows cols eps x scale out
const N = { dt: 0, dts: 1, rows: 2, cols: 3, eps: 4 };

/**
 * Norm-into-GEMV fusion over a plan's steps: an RMSNORM or ADD_RMSNORM (residual add + RMSNorm) whose
 * normalised output is read only by the GEMV right after it — a decoder layer's input norm before its q/k/v
 * projection, its post-attention norm before the gate/up projection, the final norm before the LM head —
 * becomes that GEMV's prologue: every GEMV block normalises x into shared memory itself (block 0 also writes
 * the residual sum), and the norm's launch and its round trip through memory disappear. `keep` lists buffers
 * that must stay materialised (graph outputs); `elementBytes` gives the byte size of a dtype code.
 */
export function fuseNormsIntoGemv(steps: readonly KernelStep[], keep: ReadonlySet<number>, elementBytes: (dt: DT) => number): KernelStep[] {
  const readers = new Map<number, number>();
  for (const s of steps) for (const a of s.args) if (isRef(a)) readers.set(a.buf, (readers.get(a.buf) ?? 0) + 1);
  const out: KernelStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const g = steps[i + 1];
    const fused = g ? fuse(s, g, keep, readers, elementBytes) : undefined;
    if (fused) {
      out.push(fused);
      i++;
    } else {
      out.push(s);
    }
  }
  return out;
}

function fuse(norm: KernelStep, g: KernelStep, keep: ReadonlySet<number>, readers: ReadonlyMap<number, number>, elementBytes: (dt: DT) => number): KernelStep | undefined {
  if (g.op !== OpCode.GEMV || g.args[G.na] !== null) return undefined;
  const add = norm.op === OpCode.ADD_RMSNORM;
  if (!add && norm.op !== OpCode.RMSNORM) return undefined;
  const normOut = norm.args[add ? 9 : 7];
  if (!isRef(normOut) || !sameArg(normOut, g.args[G.x]) || normOut.offset !== 0) return undefined;
  // The normalised buffer must have no reader but the GEMV (2 references: the norm writes it, the GEMV reads it).
  if (keep.has(normOut.buf) || readers.get(normOut.buf) !== 2) return undefined;
  const [dt, M, K] = [g.args[G.dt], g.args[G.M], g.args[G.K]] as number[];
  if (norm.args[N.dt] !== dt || norm.args[N.rows] !== M || norm.args[N.cols] !== K) return undefined;
  if (M * K * elementBytes(dt) > GEMV_NORM_SMEM) return undefined;
  const args = [...g.args];
  args[G.na] = norm.args[5];
  args[G.nb] = add ? norm.args[6] : null;
  args[G.nscale] = norm.args[add ? 7 : 6];
  args[G.nsum] = add ? norm.args[8] : null;
  args[G.eps] = norm.args[N.eps];
  args[G.dts] = norm.args[N.dts];
  return { op: OpCode.GEMV, args, node: g.node, opType: `${norm.opType ?? ''}+${g.opType ?? ''}` };
}
