import { DataType } from '../../../ir/dtype';
import type { Graph } from '../../../ir/graph';
import type { Node } from '../../../ir/node';
import type { Value } from '../../../ir/value';
import { constantTensorOf, ElemTypes, isConstantLike } from './dtypes';

/**
 * What the precision pass does with a node of the main graph:
 * - `low`: computes in the target precision (fp16/bf16): float inputs are made low precision;
 * - `fp32`: an fp32 island (index math, normalisation statistics, a Softmax): float inputs are made fp32;
 * - `opaque`: left exactly as it is (holds a subgraph, or is in a domain the pass does not know): its inputs
 *   get back the types they had before the pass;
 * - `constant`: a Constant / ConstantOfShape (its value is converted to what its users need);
 * - `neutral`: touches no float value.
 */
export type NodeKind = 'low' | 'fp32' | 'opaque' | 'constant' | 'neutral';
export type Fp32Reason = 'index' | 'statistics' | 'softmax';

export interface Decision {
  readonly kind: NodeKind;
  readonly reason?: Fp32Reason | 'subgraph' | 'domain';
}

/** Domains whose ops the pass understands (ai.onnx only: custom-domain ops keep their types). */
const KNOWN_DOMAINS = new Set(['']);

/** Elementwise ops that may sit between the variance and the normalised output (with constant operands). */
const STAT_CHAIN = new Set(['Add', 'Sub', 'Mul', 'Div', 'Sqrt', 'Reciprocal', 'Max', 'Clip', 'Cast']);
/** Longest chain from the variance to the normalised value (var + eps → sqrt → reciprocal → mul is 4). */
const STAT_CHAIN_LIMIT = 8;

function isConstScalar(v: Value | null, value: number): boolean {
  if (!v) return false;
  const t = constantTensorOf(v);
  if (!t || t.numElements !== 1) return false;
  try {
    return t.toNumbers()[0] === value;
  } catch {
    return false;
  }
}

/**
 * Decomposed normalisations: `ReduceMean(x²)` (Pow(x, 2) or Mul(x, x)), followed by elementwise ops with
 * constants (+eps, Sqrt, Reciprocal, …) up to the Mul/Div that applies the statistic to x. A centred x
 * (`Sub(y, ReduceMean(y))`, LayerNorm) joins the island. Returns the island nodes.
 */
export function statisticsIslands(g: Graph, types: ElemTypes): Set<Node> {
  const island = new Set<Node>();
  for (const rm of g.nodes) {
    if (rm.op !== 'ReduceMean' || rm.domain !== '' || !types.isFloat(rm.inputs[0])) continue;
    const sq = rm.inputs[0]?.producer;
    if (!sq || sq.domain !== '' || sq.graph !== g) continue;
    let x: Value | null = null;
    if (sq.op === 'Pow' && isConstScalar(sq.inputs[1], 2)) x = sq.inputs[0];
    else if (sq.op === 'Mul' && sq.inputs[0] && sq.inputs[0] === sq.inputs[1]) x = sq.inputs[0];
    if (!x) continue;
    const members: Node[] = [sq, rm];
    const centre = x.producer;
    if (centre?.op === 'Sub' && centre.graph === g) {
      const mean = centre.inputs[1]?.producer;
      if (mean?.op === 'ReduceMean' && mean.graph === g && mean.inputs[0] === centre.inputs[0]) members.push(centre, mean);
    }
    let terminal = false;
    const queue: Value[] = [rm.outputs[0]];
    let steps = 0;
    while (queue.length && steps++ < STAT_CHAIN_LIMIT) {
      const v = queue.shift() as Value;
      for (const c of v.consumers()) {
        if (members.includes(c) || c.domain !== '' || c.graph !== g) continue;
        const others = c.inputs.filter((i): i is Value => !!i && i !== v);
        if ((c.op === 'Mul' || c.op === 'Div') && others.length === 1 && others[0] === x && (c.op === 'Mul' || c.inputs[0] === x)) {
          members.push(c);
          terminal = true;
        } else if (STAT_CHAIN.has(c.op) && others.every(isConstantLike) && (c.op !== 'Cast' || c.attrInt('to') === DataType.FLOAT)) {
          members.push(c);
          queue.push(c.outputs[0]);
        }
      }
    }
    if (terminal) for (const m of members) island.add(m);
  }
  return island;
}

/**
 * Classifies every node of the main graph (in topological order, so index math is known before its users).
 * - Index math: float values computed only from integer inputs (through Cast) and constants, e.g. RoPE's
 *   inv_freq · positions → Cos/Sin. It stays fp32 and is cast where it meets activations, as Hugging Face does.
 * - Constant-derived values (computed from constants and integers only, without an int → float Cast: an
 *   Expand of inv_freq to the batch, an embedding Gather, an additive mask's Where) follow their users: fp32
 *   when every user is fp32 (then they are part of the index math), low precision otherwise.
 */
export function classifyNodes(g: Graph, types: ElemTypes): { decisions: Map<Node, Decision>; indexValues: Set<Value> } {
  const stats = statisticsIslands(g, types);
  const decisions = new Map<Node, Decision>();
  const indexValues = new Set<Value>();
  /** Float values computed from constants (and integers) only. */
  const derived = new Set<Value>();
  const derivedNodes: Node[] = [];
  const floatOutputs = (n: Node) => n.outputs.filter((v) => !v.isOmitted && types.isFloat(v));
  const constantish = (v: Value) => derived.has(v) || isConstantLike(v);
  for (const n of g.nodes) {
    const floatIns = n.inputs.filter((v): v is Value => !!v && types.isFloat(v));
    const floatOuts = floatOutputs(n);
    let d: Decision;
    if (n.subgraphs().length) d = { kind: 'opaque', reason: 'subgraph' };
    else if (!KNOWN_DOMAINS.has(n.domain)) d = { kind: 'opaque', reason: 'domain' };
    else if (!floatIns.length && !floatOuts.length) d = { kind: 'neutral' };
    else if (n.op === 'Constant' || n.op === 'ConstantOfShape') d = { kind: 'constant' };
    else if (n.op === 'Cast') d = classifyCast(n, floatIns, stats, indexValues);
    else if (stats.has(n)) d = { kind: 'fp32', reason: 'statistics' };
    else if (n.op === 'Softmax' || n.op === 'LogSoftmax') d = { kind: 'fp32', reason: 'softmax' };
    else if (floatOuts.length && floatIns.every((v) => indexValues.has(v) || constantish(v)) && !isLookup(n)) {
      if (!floatIns.length || floatIns.some((v) => indexValues.has(v))) d = { kind: 'fp32', reason: 'index' };
      else {
        // Decided below, from its users.
        d = { kind: 'low' };
        for (const o of floatOuts) derived.add(o);
        derivedNodes.push(n);
      }
    } else d = { kind: 'low' };
    if (d.kind === 'fp32' && d.reason === 'index') for (const o of floatOuts) indexValues.add(o);
    decisions.set(n, d);
  }
  // Constant-derived nodes, last first: fp32 index math when every user computes in fp32.
  for (let i = derivedNodes.length - 1; i >= 0; i--) {
    const n = derivedNodes[i];
    const users = floatOutputs(n).flatMap((o) => (o.isGraphOutput ? [null] : o.consumers()));
    if (users.length && users.every((u) => u !== null && u.graph === g && decisions.get(u)?.kind === 'fp32')) {
      decisions.set(n, { kind: 'fp32', reason: 'index' });
      for (const o of floatOutputs(n)) indexValues.add(o);
    }
  }
  return { decisions, indexValues };
}

/** Ops that look up rows of a (weight) table by runtime indices: their output is an activation (embeddings). */
const LOOKUPS = new Set(['Gather', 'GatherND', 'GatherElements']);
function isLookup(n: Node): boolean {
  return LOOKUPS.has(n.op) && !!n.inputs[1] && !isConstantLike(n.inputs[1]);
}

function classifyCast(n: Node, floatIns: Value[], stats: Set<Node>, indexValues: Set<Value>): Decision {
  const to = n.attrInt('to');
  if (!floatIns.length) {
    // int → fp32 starts index math; int → fp16/bf16 is an explicit low-precision cast (retargeted).
    return to === DataType.FLOAT ? { kind: 'fp32', reason: 'index' } : { kind: 'low' };
  }
  if (to === DataType.FLOAT && indexValues.has(floatIns[0])) return { kind: 'fp32', reason: 'index' };
  if (stats.has(n)) return { kind: 'fp32', reason: 'statistics' };
  return { kind: 'low' };
}
