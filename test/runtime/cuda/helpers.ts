import * as path from 'path';
import type { Model } from '../../../src/ir/model';
import { loadModel } from '../../../src/ir/serde';
import '../../../src/passes';
import '../../../src/passes/llm';
import { CacheKind, lowerLlm } from '../../../src/passes/llm/pipeline';
import { DeviceFacts, weightsStoredTransposed } from '../../../src/converters/cuda';
import { findCacheIdioms } from '../../../src/runtime/plan/cache-idioms';
import { buildPlan, ExecutionPlan, PlanBuffer, SharedBuffers } from '../../../src/runtime/plan/execution-plan';
import type { Value } from '../../../src/ir/value';

export const ROOT = path.join(__dirname, '..', '..', '..');
export const fixture = (rel: string) => path.join(ROOT, 'fixtures', rel);

const sources = new Map<string, Model>();
export function lowered(rel: string, cache: CacheKind, maxSeqLen = 64): Model {
  let m = sources.get(rel);
  if (!m) {
    m = loadModel(fixture(rel));
    sources.set(rel, m);
  }
  return lowerLlm(m, { cache, maxSeqLen }).model;
}

export function sharedBuffers(model?: Model, device: DeviceFacts = { smCount: 132, gemv: true }): SharedBuffers {
  let id = 1;
  const weights = new Map<Value, PlanBuffer>();
  return {
    nextId: () => id++,
    weight: (v) => {
      if (!weights.has(v)) weights.set(v, { id: id++, kind: 'weight', bytes: v.constValue?.byteLength ?? 1, name: v.name });
      return weights.get(v)!;
    },
    transposed: model && device.gemv ? weightsStoredTransposed(model) : new Set(),
  };
}

/** Input shapes of a static-cache model for batch 1, `seq` new tokens and a cache of `maxSeq`. */
export function inputDims(model: Model, seq: number, maxSeq: number): Map<string, number[]> {
  const dims = new Map<string, number[]>();
  for (const v of model.graph.inputs) {
    if (v.name === 'input_ids' || v.name === 'position_ids') dims.set(v.name, [1, seq]);
    else if (v.name.endsWith('_idx')) dims.set(v.name, []);
    else dims.set(v.name, [1, v.shape![1] as number, maxSeq, v.shape![3] as number]);
  }
  return dims;
}

export function plan(model: Model, seq: number, maxSeq: number, device: DeviceFacts = { smCount: 132, gemv: true }): ExecutionPlan {
  return buildPlan(model, findCacheIdioms(model), inputDims(model, seq, maxSeq), device, sharedBuffers(model, device));
}
