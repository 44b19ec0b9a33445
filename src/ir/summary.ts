import { dataTypeName } from './dtype';
import type { Model } from './model';
import { ExternalTensor } from './tensor';
import type { Dim } from './type';
import type { Value } from './value';

export interface ValueSummary {
  name: string;
  dtype: string;
  /** Dimensions: numbers, symbolic names, or null when unknown; null for unknown rank. */
  shape: Dim[] | null;
}

export interface ModelSummary {
  irVersion: number;
  producer: string;
  opsetImports: Record<string, number>;
  nodeCount: number;
  /** Op → count, including nodes inside subgraphs; non-default domains written `domain::Op`. */
  opHistogram: Record<string, number>;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  initializerCount: number;
  parameterCount: number;
  parameterBytes: number;
  externalBytes: number;
  externalFiles: string[];
  functionCount: number;
  metadata: Record<string, string>;
}

/** Facts about a model, computed from the graph alone: external weight bytes are never read. */
export function summarize(model: Model): ModelSummary {
  const histogram = new Map<string, number>();
  let nodeCount = 0;
  for (const n of model.graph.allNodes()) {
    nodeCount++;
    histogram.set(n.qualifiedOp, (histogram.get(n.qualifiedOp) ?? 0) + 1);
  }
  let initializerCount = 0;
  let parameterCount = 0;
  let parameterBytes = 0;
  let externalBytes = 0;
  const files = new Set<string>();
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers.values()) {
      const t = v.constValue;
      if (!t) continue;
      initializerCount++;
      parameterCount += t.numElements;
      parameterBytes += t.byteLength;
      // Whether the tensor lives in a file, not whether it was read yet: the summary must not change
      // because something looked at the values.
      if (t instanceof ExternalTensor) {
        externalBytes += t.external.length;
        files.add(t.external.location);
      }
    }
  }
  const sortedOps = [...histogram].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return {
    irVersion: model.irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsetImports: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
    nodeCount,
    opHistogram: Object.fromEntries(sortedOps),
    inputs: model.graph.inputs.filter((v) => !v.isInitializer).map(valueSummary),
    outputs: model.graph.outputs.map(valueSummary),
    initializerCount,
    parameterCount,
    parameterBytes,
    externalBytes,
    externalFiles: [...files],
    functionCount: model.functions.length,
    metadata: Object.fromEntries(model.metadata),
  };
}

function valueSummary(v: Value): ValueSummary {
  return { name: v.name, dtype: v.dtype !== undefined ? dataTypeName(v.dtype) : 'unknown', shape: v.shape ? [...v.shape] : null };
}
