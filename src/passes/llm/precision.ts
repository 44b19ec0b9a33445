import { Attribute } from '../../ir/attribute';
import { DataType } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { tensor } from '../../ir/tensor';
import type { Value } from '../../ir/value';
import { Pass, PassContext, PassResult, PostconditionError, PreconditionError } from '../pass';
import { loweringPass } from '../registry';
import { classifyNodes, Decision } from './precision/classify';
import { CastFactory, makeCast, removeNeedlessCasts, withElemType } from './precision/casts';
import { constantTensorOf, convertFloatTensor, ElemTypes, isPassFloat, PassFloat, shortName } from './precision/dtypes';

export { classifyNodes, statisticsIslands } from './precision/classify';
export type { Decision, Fp32Reason, NodeKind } from './precision/classify';
export { convertFloatTensor, isExactConversion } from './precision/dtypes';
export { removeNeedlessCasts } from './precision/casts';

/** Cache outputs of the static-cache signature stay in the cache's (low) precision. */
const CACHE_OUTPUT = /^present_(key|value)_cache_\d+$/;

/** Input slots that take any type (no Cast is put in front of them). */
const ANY_TYPE_SLOTS: Readonly<Record<string, readonly number[]>> = { Cast: [0], CastLike: [0], Shape: [0], Size: [0] };
/** Input slots ONNX types as float32 (or independently of the data type): they keep their original type. */
const FIXED_SLOTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2], Upsample: [1] };

/** FP16 / BF16 → the ONNX type; undefined for FP32 (nothing to do). */
export function precisionType(p: string | undefined): PassFloat | undefined {
  if (p === undefined || p === 'FP32') return undefined;
  if (p === 'FP16') return DataType.FLOAT16;
  if (p === 'BF16') return DataType.BFLOAT16;
  throw new PreconditionError(`precision: unknown precision '${p}' (FP32, FP16 or BF16)`);
}

/**
 * precision: an fp32 export → FP16 or BF16 weights and activations (ctx.options.precision), the way Hugging Face
 * runs a model in half precision:
 * - softmax and normalisation statistics in fp32: `Attention.softmax_precision = 1`, `stash_type = 1` on
 *   RMSNormalization/LayerNormalization; decomposed variance chains (x² → ReduceMean → +eps → Sqrt →
 *   Reciprocal → ×x) and Softmax/LogSoftmax nodes run in fp32 islands with Casts around;
 * - index math (float values computed from integer inputs and constants only, e.g. RoPE's cos/sin) stays fp32
 *   and is cast once where it meets activations;
 * - float graph inputs (the static KV caches) and the cache outputs become low precision; every other float
 *   output (`logits`) keeps its type through a final Cast under the original name;
 * - every float value's declared type follows; needless Casts are removed.
 * Custom-domain ops and nodes holding subgraphs are left as they are (their inputs are cast back).
 * See docs/precision.md.
 */
@loweringPass({
  name: 'precision',
  description: 'FP16/BF16 weights and activations (--precision); softmax, normalisation statistics and index math in fp32; logits stay fp32',
  after: ['sdpa_canonicalize', 'shape_inference', 'static_cache_v1', 'static_cache_v2', 'static_cache_v3'],
  before: ['trt_legalize', 'dce'],
})
export class PrecisionPass implements Pass {
  readonly inPlace = true;

  requires(_model: Model, ctx: PassContext): void {
    precisionType(ctx.options.precision);
  }

  run(model: Model, ctx: PassContext): PassResult {
    const target = precisionType(ctx.options.precision);
    if (target === undefined) {
      ctx.log('precision: FP32 requested, nothing to do');
      return { model, modified: false, changes: 0 };
    }
    const counts = convertPrecision(model, target);
    const changes = counts.weights_converted + counts.values_retyped + counts.inputs_retyped + counts.attributes_set + counts.casts_inserted +
      counts.casts_removed + counts.outputs_cast;
    ctx.log(`precision: ${shortName(target)}: ${counts.weights_converted} weights converted, ${counts.values_retyped} values retyped, ${counts.attributes_set} attributes set, ` +
      `${counts.fp32_nodes} nodes kept in fp32 (${counts.fp32_index} index, ${counts.fp32_statistics} statistics, ${counts.fp32_softmax} softmax), ` +
      `${counts.casts_inserted} casts inserted, ${counts.casts_removed} removed`);
    return { model, modified: changes > 0, changes, counts };
  }

  ensures(model: Model, ctx: PassContext): void {
    const target = precisionType(ctx.options.precision);
    if (target === undefined) return;
    for (const o of model.graph.outputs) {
      if (CACHE_OUTPUT.test(o.name) && o.dtype !== undefined && isPassFloat(o.dtype) && o.dtype !== target) {
        throw new PostconditionError(`precision: cache output '${o.name}' is ${shortName(o.dtype)}, not ${shortName(target)}`, o.name);
      }
    }
  }
}

export interface PrecisionCounts {
  [key: string]: number;
  weights_converted: number;
  values_retyped: number;
  inputs_retyped: number;
  attributes_set: number;
  fp32_nodes: number;
  fp32_index: number;
  fp32_statistics: number;
  fp32_softmax: number;
  opaque_nodes: number;
  casts_inserted: number;
  casts_removed: number;
  outputs_cast: number;
}

/** The pass's work on `model` (in place); exported for tests and tools. */
export function convertPrecision(model: Model, target: PassFloat): PrecisionCounts {
  const g = model.graph;
  const graphs = g.allGraphs();
  const types = new ElemTypes(graphs);
  const { decisions } = classifyNodes(g, types);
  const counts: PrecisionCounts = {
    weights_converted: 0, values_retyped: 0, inputs_retyped: 0, attributes_set: 0, fp32_nodes: 0, fp32_index: 0, fp32_statistics: 0,
    fp32_softmax: 0, opaque_nodes: 0, casts_inserted: 0, casts_removed: 0, outputs_cast: 0,
  };
  for (const d of decisions.values()) {
    if (d.kind === 'fp32') {
      counts.fp32_nodes++;
      counts[`fp32_${d.reason}`]++;
    } else if (d.kind === 'opaque') counts.opaque_nodes++;
  }

  // Element types before the pass: opaque users and graph outputs are given back what they had.
  const original = new Map<Value, DataType>();
  const remember = (v: Value | null) => {
    if (!v || original.has(v)) return;
    const dt = types.of(v);
    if (dt !== undefined) original.set(v, dt);
  };
  for (const h of graphs) {
    h.inputs.forEach(remember);
    for (const v of h.initializers.values()) remember(v);
    for (const n of h.nodes) {
      n.inputs.forEach(remember);
      n.outputs.forEach(remember);
    }
  }
  const isFloatValue = (v: Value) => isPassFloat(original.get(v));

  /** The element type a node wants at an input slot; undefined = any. */
  const wantAt = (n: Node, slot: number, v: Value): DataType | undefined => {
    const was = original.get(v);
    if (n.graph !== g) return was; // inside a subgraph: untouched
    if (ANY_TYPE_SLOTS[n.op]?.includes(slot) && n.domain === '') return undefined;
    const d = decisions.get(n) as Decision;
    if (d.kind === 'low') return FIXED_SLOTS[n.op]?.includes(slot) ? was : target;
    if (d.kind === 'fp32') return DataType.FLOAT;
    return was;
  };

  // 1. Node attributes and output types.
  const newType = new Map<Value, DataType>();
  for (const n of g.nodes) {
    const d = decisions.get(n) as Decision;
    if (d.kind === 'low') {
      counts.attributes_set += retargetAttributes(n, target);
      n.outputs.forEach((o, i) => {
        if (o.isOmitted || !isFloatValue(o)) return;
        if (n.op === 'Cast') newType.set(o, n.attrInt('to'));
        else if (n.op === 'LayerNormalization' && i > 0) newType.set(o, DataType.FLOAT); // mean / inv std dev: stash type
        else newType.set(o, target);
      });
    } else if (d.kind === 'fp32') {
      for (const o of n.outputs) if (!o.isOmitted && isFloatValue(o)) newType.set(o, n.op === 'Cast' ? n.attrInt('to') : DataType.FLOAT);
    }
  }
  for (const [v, dt] of newType) {
    if (v.dtype !== undefined && v.dtype !== dt) {
      v.type = withElemType(v.type, dt);
      counts.values_retyped++;
    }
  }
  const typeNow = (v: Value): DataType | undefined => newType.get(v) ?? original.get(v);

  // 2. Float graph inputs (the static caches) become low precision.
  for (const v of g.inputs) {
    if (v.isInitializer || !isFloatValue(v) || original.get(v) === target) continue;
    v.type = withElemType(v.type, target);
    newType.set(v, target);
    counts.inputs_retyped++;
  }

  // 3. Constants take the type their users want (a second copy where users disagree).
  for (const v of [...g.initializers.values()]) {
    if (isFloatValue(v) && !v.isGraphInput) counts.weights_converted += convertConstant(g, v, wantAt, newType);
  }
  for (const n of g.nodes) {
    if ((decisions.get(n) as Decision | undefined)?.kind !== 'constant') continue;
    const o = n.outputs[0];
    if (isFloatValue(o)) counts.weights_converted += convertConstant(g, o, wantAt, newType);
  }

  // 4. Casts where a value meets a user of another precision (users in subgraphs included).
  const casts = new CastFactory(g);
  for (const h of graphs) {
    for (const n of h.nodes.toArray()) {
      n.inputs.forEach((v, slot) => {
        if (!v || v.graph !== g || !isFloatValue(v) || constantTensorOf(v) || isConstantNode(v)) return;
        const want = wantAt(n, slot, v);
        const have = typeNow(v);
        if (want !== undefined && have !== undefined && want !== have) n.replaceInput(slot, casts.castOf(v, want));
      });
    }
  }
  counts.casts_inserted = casts.created;

  // 5. Graph outputs keep their type (logits: float32) under their name; cache outputs stay low precision.
  g.outputs.forEach((o, i) => {
    if (!isFloatValue(o) || CACHE_OUTPUT.test(o.name)) return;
    const want = original.get(o) as DataType;
    const have = typeNow(o);
    if (have === want || o.isGraphInput || o.isInitializer) return;
    const name = o.name;
    o.name = g.names.fresh(`${name}_${shortName(have as DataType)}`);
    const cast = makeCast(g, o, want, name);
    if (o.producer && o.producer.graph === g) g.insertAfter(o.producer, cast);
    else g.append(cast);
    const out = cast.outputs[0];
    out.type = withElemType(o.type, want);
    out.name = name;
    g.setOutput(i, out);
    counts.outputs_cast++;
  });

  // 6. Needless Casts (same type, exact chains, duplicates), ours and the export's.
  counts.casts_removed = removeNeedlessCasts(g);
  return counts;
}

function isConstantNode(v: Value): boolean {
  const p = v.producer;
  return !!p && p.domain === '' && (p.op === 'Constant' || p.op === 'ConstantOfShape');
}

/** Low-precision nodes: Casts retargeted, softmax and normalisation statistics pinned to fp32. */
function retargetAttributes(n: Node, target: PassFloat): number {
  if (n.domain !== '') return 0;
  const set = (name: string, value: number) => {
    const a = n.attributes.get(name);
    if (a && Number(a.value) === value) return 0;
    n.setAttr(Attribute.int(name, value));
    return 1;
  };
  switch (n.op) {
    case 'Cast': {
      const to = n.attrInt('to');
      return isPassFloat(to) && to !== target ? set('to', target) : 0;
    }
    case 'Attention': return set('softmax_precision', DataType.FLOAT);
    case 'RMSNormalization': case 'LayerNormalization': return set('stash_type', DataType.FLOAT);
    default: return 0;
  }
}

/**
 * Gives a float constant (initializer, Constant or ConstantOfShape output) the type its users want: converted
 * in place when they agree, otherwise the largest group keeps the value and the others get a converted copy.
 * Returns how many tensors were converted.
 */
function convertConstant(g: Graph, v: Value, wantAt: (n: Node, slot: number, v: Value) => DataType | undefined, newType: Map<Value, DataType>): number {
  const current = v.dtype ?? constantTensorOf(v)?.dtype ?? v.producer?.attrTensor('value')?.dtype ?? DataType.FLOAT;
  const groups = new Map<DataType, { node: Node; slot: number }[]>();
  for (const u of v.uses()) {
    const want = wantAt(u.node, u.index, v);
    if (want === undefined || want === current) continue;
    let list = groups.get(want);
    if (!list) groups.set(want, (list = []));
    list.push({ node: u.node, slot: u.index });
  }
  if (!groups.size) return 0;
  const keepers = v.uses().length - [...groups.values()].reduce((s, l) => s + l.length, 0);
  let converted = 0;
  const ordered = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  for (const [i, [dt, uses]] of ordered.entries()) {
    if (i === 0 && keepers === 0 && !v.isGraphOutput && v.graph === g) {
      convertInPlace(v, dt as PassFloat);
      newType.set(v, dt);
    } else {
      const copy = convertedCopy(g, v, dt as PassFloat);
      for (const u of uses) u.node.replaceInput(u.slot, copy);
    }
    converted++;
  }
  return converted;
}

function convertInPlace(v: Value, dt: PassFloat): void {
  const p = v.producer;
  if (v.isInitializer) {
    const t = convertFloatTensor(v.constValue as NonNullable<Value['constValue']>, dt);
    t.name = v.name;
    v.constValue = t;
  } else if (p && p.op === 'Constant') {
    p.setAttr(Attribute.tensor('value', convertFloatTensor(p.attrTensor('value') as NonNullable<Value['constValue']>, dt)));
  } else if (p && p.op === 'ConstantOfShape') {
    const t = p.attrTensor('value');
    if (t) p.setAttr(Attribute.tensor('value', convertFloatTensor(t, dt)));
    else p.setAttr(Attribute.tensor('value', convertFloatTensor(tensor.float32([1], [0]), dt))); // the default value is fp32 0
  }
  v.type = withElemType(v.type, dt) ?? { kind: 'tensor', elemType: dt };
}

function convertedCopy(g: Graph, v: Value, dt: PassFloat): Value {
  const t = constantTensorOf(v);
  if (t) return g.addInitializer(g.names.fresh(`${v.name}_${shortName(dt)}`), convertFloatTensor(t, dt));
  // ConstantOfShape: a Cast of its (small, shape-sized) output.
  const cast = makeCast(g, v, dt);
  g.insertAfter(v.producer as Node, cast);
  return cast.outputs[0];
}
