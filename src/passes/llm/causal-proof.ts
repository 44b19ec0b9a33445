import { DataType } from '../../ir/dtype';
import type { Model } from '../../ir/model';
import type { Value } from '../../ir/value';
import { probe } from './probe';

/** Sequence lengths the mask is evaluated at; includes 1 and lengths that are not powers of two. */
const PROBE_LENGTHS = [1, 2, 3, 5, 8, 13];

export type CausalProof = { causal: true } | { causal: false; reason: string };

/**
 * Decides whether an attention mask is the causal (lower-triangular) mask, by evaluating the mask subgraph for
 * several sequence lengths with contiguous position_ids and comparing every element. Assumption (as in
 * Torch-TensorRT): positions are contiguous 0..S-1, i.e. no packed sequences. `bias` masks (0 / -inf) and
 * boolean masks (true = attend) are both understood.
 */
export function proveCausal(model: Model, mask: Value, kind: 'bool' | 'bias'): CausalProof {
  // Probing can only stand for every run when the mask reads no run-time values besides position_ids (whose
  // contiguity is the stated assumption): a mask that reads e.g. input_ids (padding by token) differs per input.
  const reads = runtimeValueInputs(mask);
  if (reads instanceof Error) return { causal: false, reason: reads.message };
  const foreign = reads.filter((v) => v.name !== 'position_ids');
  if (foreign.length) {
    return { causal: false, reason: `mask '${mask.name}' depends on the values of graph input(s) ${foreign.map((v) => `'${v.name}'`).join(', ')}, not only on shapes and position_ids` };
  }
  for (const seq of PROBE_LENGTHS) {
    for (const ids of [() => 0, (i: number) => (i * 7919 + 13) % 97 + 1]) {
      const out = probe(model, [mask], { batch: 1, seq }, ids)?.get(mask);
      if (!out) return { causal: false, reason: `the mask subgraph of '${mask.name}' cannot be evaluated for seq=${seq}` };
      const dims = out.dims;
      if (dims.length < 2 || dims[dims.length - 1] !== seq || dims[dims.length - 2] !== seq) {
        return { causal: false, reason: `mask '${mask.name}' has shape [${dims.join(', ')}] for seq=${seq}, not [..., ${seq}, ${seq}]` };
      }
      const vals = out.dtype === DataType.BOOL ? Array.from(out.toArray() as Uint8Array, (x) => x !== 0) : out.toNumbers().map((x) => (kind === 'bias' ? x > -1e4 : x !== 0));
      const plane = seq * seq;
      for (let i = 0; i < vals.length; i++) {
        const r = Math.floor((i % plane) / seq);
        const c = i % seq;
        if (vals[i] !== c <= r) {
          return { causal: false, reason: `mask '${mask.name}' differs from the causal mask at row ${r}, column ${c} for seq=${seq}` };
        }
      }
      if (kind === 'bias' && out.dtype !== DataType.BOOL) {
        const raw = out.toNumbers();
        if (raw.some((x) => x !== 0 && x > -1e4)) return { causal: false, reason: `bias mask '${mask.name}' has values other than 0 and large negatives` };
      }
    }
  }
  return { causal: true };
}

/**
 * Graph inputs whose values (not only their shapes: Shape and Size read no values) flow into `mask`. An Error
 * when the mask is computed by a node with subgraphs (not analysed).
 */
function runtimeValueInputs(mask: Value): Value[] | Error {
  const seen = new Set<Value>();
  const found: Value[] = [];
  const stack: Value[] = [mask];
  while (stack.length) {
    const v = stack.pop() as Value;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.isGraphInput) {
      found.push(v);
      continue;
    }
    const p = v.producer;
    if (!p || p.op === 'Shape' || p.op === 'Size') continue;
    if (p.subgraphs().length) return new Error(`mask '${mask.name}' is computed through ${p.describe()}, which has subgraphs`);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  return found;
}
