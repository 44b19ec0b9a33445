import { dataTypeName } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import { inferRanks } from './analysis';
import { RESTRICTION_CHECKS } from './restrictions';
import { OPSET_RANGES, opSupport, RESTRICTIONS, SOURCES, trtTypeOf, UNSUPPORTED_OPS } from './support-matrix';
import { atLeast, parseTrtTarget, TrtTarget } from './target';

/** Rule ids besides the per-op restrictions of support-matrix.ts. */
export type GeneralRule = 'opset_range' | 'custom_domain' | 'unsupported_op' | 'op_not_yet_supported' | 'unsupported_type';

/** One thing the target's ONNX parser would reject. */
export interface Violation {
  /** The node's name ('' for unnamed nodes); absent for model-level problems. */
  readonly node?: string;
  readonly op?: string;
  /** Subgraph or function body holding the node; absent for the main graph. */
  readonly graph?: string;
  /** A RestrictionId or a GeneralRule. */
  readonly rule: string;
  readonly reason: string;
  /** Where the rule comes from (document and version). */
  readonly source: string;
}

/**
 * Every node (in the main graph, subgraphs and model-local function bodies) that the target's TensorRT ONNX
 * parser rejects according to the support matrix, plus model-level problems (the opset import). Reads
 * nothing but small constants (axes); never weights. The target defaults to DEFAULT_TRT_TARGET.
 */
export function checkTrt(model: Model, targetSpec?: string | TrtTarget): Violation[] {
  const target = parseTrtTarget(targetSpec);
  const out: Violation[] = [];
  const range = OPSET_RANGES[target.version];
  const opset = model.opset('');
  if (opset !== undefined && (opset < range.min || opset > range.max)) {
    out.push({
      rule: 'opset_range',
      reason: `the model imports ai.onnx opset ${opset}; TensorRT ${target.version} supports opsets ${range.min} to ${range.max}`,
      source: range.source,
    });
  }
  for (const g of model.graph.allGraphs()) checkGraph(model, g, target, out);
  for (const f of model.functions) for (const g of f.body.allGraphs()) checkGraph(model, g, target, out, `function ${f.domain}::${f.name}`);
  return out;
}

function checkGraph(model: Model, graph: Graph, target: TrtTarget, out: Violation[], where?: string): void {
  const ranks = inferRanks(model, graph);
  const graphName = where ?? (graph === model.graph ? undefined : `subgraph ${graph.name}`);
  for (const n of graph.nodes) {
    const at = { node: n.name, op: n.qualifiedOp, graph: graphName };
    if (n.domain !== '') {
      if (model.findFunction(n.domain, n.op, n.overload)) continue; // its body is checked on its own
      out.push({ ...at, rule: 'custom_domain', reason: `op ${n.qualifiedOp} is outside the ai.onnx domain; TensorRT needs a plugin registered for it`, source: SOURCES.MATRIX_10_15 });
      continue;
    }
    const row = opSupport(n.op);
    if (!row) {
      const listed = UNSUPPORTED_OPS.includes(n.op);
      out.push({ ...at, rule: 'unsupported_op', reason: `${n.op} is ${listed ? 'marked unsupported' : 'not listed'} in the TensorRT ONNX operator matrix`, source: SOURCES.MATRIX_10_15 });
      continue;
    }
    if (row.since && !atLeast(target, row.since)) {
      out.push({ ...at, rule: 'op_not_yet_supported', reason: `${n.op} is imported by the TensorRT ONNX parser only from TensorRT ${row.since} (target: ${target.version})`, source: row.source });
      continue;
    }
    checkTypes(n, row, target, at, out);
    for (const id of row.restrictions ?? []) {
      const problem = RESTRICTION_CHECKS[id](n, { model, ranks });
      if (problem) out.push({ ...at, rule: id, reason: `${n.op} ${problem}: ${RESTRICTIONS[id].text}`, source: RESTRICTIONS[id].source });
    }
  }
}

function checkTypes(n: Node, row: NonNullable<ReturnType<typeof opSupport>>, target: TrtTarget, at: { node: string; op: string; graph?: string }, out: Violation[]): void {
  if (!row.types) return;
  const allowed = new Set(row.types);
  if (row.laterTypes && atLeast(target, row.laterTypes.since)) for (const t of row.laterTypes.types) allowed.add(t);
  const indices = row.typedInputs === 'all' ? n.inputs.map((_, i) => i) : (row.typedInputs ?? [0]);
  const values = indices.map((i) => n.inputs[i]).filter((v) => !!v);
  if (row.typedOutput && n.outputs[0]) values.push(n.outputs[0]);
  for (const v of values) {
    const dt = v?.dtype;
    if (dt === undefined) continue;
    const tt = trtTypeOf(dt);
    if (tt && allowed.has(tt)) continue;
    const later = row.laterTypes && tt && row.laterTypes.types.includes(tt) ? ` (supported from TensorRT ${row.laterTypes.since})` : '';
    out.push({
      ...at,
      rule: 'unsupported_type',
      reason: `${n.op} on ${dataTypeName(dt)} ('${v?.name}') is unsupported${later}; supported: ${[...allowed].join(', ')}`,
      source: later ? (row.laterTypes as { source: string }).source : row.source,
    });
    return; // one type complaint per node is enough
  }
}

/** One line per violation, for people. */
export function formatViolation(v: Violation): string {
  const where = v.node !== undefined ? `node '${v.node || '<unnamed>'}' (${v.op})${v.graph ? ` in ${v.graph}` : ''}` : 'model';
  return `${where}: ${v.reason} [${v.rule}; ${v.source}]`;
}
