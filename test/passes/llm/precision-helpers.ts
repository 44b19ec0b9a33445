// Shared checks for the precision tests: type consistency of a lowered graph, needless casts, relative error.
import * as fs from 'fs';
import * as path from 'path';
import { DataType, dataTypeName } from '../../../src/ir/dtype';
import { halfToFloat } from '../../../src/ir/float16';
import type { Model } from '../../../src/ir/model';
import type { Node } from '../../../src/ir/node';
import { isExactConversion } from '../../../src/passes/llm/precision';
import { EXPORTS } from '../../helpers/models';

const FLOATS = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);
/** Slots that take any type. */
const ANY_SLOT: Record<string, number[]> = { Cast: [0], CastLike: [0], Shape: [0], Size: [0] };

/**
 * Declared element types that onnxruntime's type constraints would refuse: a node whose float inputs and outputs
 * (apart from Cast/CastLike/Shape/Size inputs, Cast outputs and LayerNormalization's stash outputs) do not all
 * have one type. Only declared types are checked, so run this on graphs whose values are typed.
 */
export function typeConflicts(model: Model): string[] {
  const problems: string[] = [];
  for (const n of model.graph.nodes) {
    if (n.domain !== '') continue;
    const seen = new Map<DataType, string>();
    n.inputs.forEach((v, i) => {
      if (!v || ANY_SLOT[n.op]?.includes(i) || v.dtype === undefined || !FLOATS.has(v.dtype)) return;
      seen.set(v.dtype, `input ${i} '${v.name}'`);
    });
    n.outputs.forEach((o, i) => {
      if (o.isOmitted || o.dtype === undefined || !FLOATS.has(o.dtype)) return;
      if (n.op === 'Cast') {
        if (o.dtype !== n.attrInt('to')) problems.push(`${n.describe()}: output '${o.name}' declared ${dataTypeName(o.dtype)} but to=${dataTypeName(n.attrInt('to'))}`);
        return;
      }
      if (n.op === 'LayerNormalization' && i > 0) return;
      seen.set(o.dtype, `output ${i} '${o.name}'`);
    });
    if (seen.size > 1) problems.push(`${n.describe()} mixes ${[...seen].map(([dt, w]) => `${dataTypeName(dt)} (${w})`).join(', ')}`);
  }
  return problems;
}

/** Casts that do nothing or could be merged: same type, exact chains, two casts of one value to one type. */
export function needlessCasts(model: Model): string[] {
  const out: string[] = [];
  const byValue = new Map<string, Node>();
  for (const n of model.graph.nodes) {
    if (n.op !== 'Cast') continue;
    const x = n.inputs[0];
    const to = n.attrInt('to');
    if (!x) continue;
    if (x.dtype === to) out.push(`${n.describe()} casts '${x.name}' to its own type`);
    const inner = x.producer;
    if (inner?.op === 'Cast' && inner.inputs[0]?.dtype !== undefined && isExactConversion(inner.inputs[0].dtype, inner.attrInt('to'))) {
      out.push(`${n.describe()} follows exact cast ${inner.describe()}`);
    }
    const key = `${x.name}->${to}`;
    if (byValue.has(key)) out.push(`${n.describe()} repeats ${(byValue.get(key) as Node).describe()}`);
    byValue.set(key, n);
  }
  return out;
}

/** max|a − b| / max|a| (the relative logits error of the precision tests, per sequence). */
export function relativeError(reference: ArrayLike<number>, other: ArrayLike<number>): number {
  if (reference.length !== other.length) throw new Error(`length mismatch ${reference.length} vs ${other.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(reference[i] - other[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return diff / scale;
}

/** Logits as float32 numbers whatever their tensor type. */
export function floatData(t: { type: string; data: unknown }): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  throw new Error(`unexpected logits type ${t.type}`);
}

export interface GreedyReference {
  prompt_1: number[];
  prompt_7: number[];
  prompt_64: number[];
  greedy_48_from_1: number[];
  greedy_48_from_7: number[];
  greedy_48_from_64: number[];
}

/** fixtures/exports/<m>.greedy.json: fp32 onnxruntime greedy tokens (full recompute) from three prompts. */
export function greedyReference(name: string): GreedyReference {
  return JSON.parse(fs.readFileSync(path.join(EXPORTS, `${name}.greedy.json`), 'utf8')) as GreedyReference;
}

/** Index of the first differing token, or the length when equal. */
export function firstDivergence(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
