import { DataType, dataTypeName } from '../../ir/dtype';
import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Tensor } from '../../ir/tensor';
import { Dim, formatShape, TensorType } from '../../ir/type';
import type { Value } from '../../ir/value';
import type { Pass, PassContext, PassResult } from '../pass';
import { loweringPass } from '../registry';
import { EvalError } from './eval/errors';
import { canEvaluate, DEFAULT_EVAL_OPSET, evaluateNode, isUnloadedWeight } from './evaluator';
import { attentionRules } from './shape/attention';
import { elementwiseRules, genericElementwise } from './shape/elementwise';
import { ShapeInferenceError } from './shape/errors';
import { indexingRules } from './shape/indexing';
import { linalgRules } from './shape/linalg';
import { reduceRules } from './shape/reduce';
import { InferContext, OutputInfo, ShapeRule, ShapeValue, TensorInfo } from './shape/rule';
import { shapeOpRules } from './shape/shape-ops';
import { compareDims, staticValue } from './symbolic-dim';

export { ShapeInferenceError } from './shape/errors';
export type { ShapeValue, TensorInfo } from './shape/rule';

const RULES: ReadonlyMap<string, ShapeRule> = new Map(Object.entries({
  ...elementwiseRules,
  ...shapeOpRules,
  ...indexingRules,
  ...reduceRules,
  ...linalgRules,
  ...attentionRules,
}));

/** Nodes whose inputs are all constants this small are evaluated outright (exact values, exact shapes). */
const CONST_EVAL_BUDGET = 100_000;
/** Integer constants up to this many elements are read as shape values. */
const SHAPE_VALUE_LIMIT = 1024;

/** ai.onnx op types with an inference rule, sorted. */
export function shapeInferenceOps(): string[] {
  return [...RULES.keys()].sort();
}

/** Contrib ops known to be elementwise (broadcast of their inputs), inferred with the generic rule. */
export const DEFAULT_ELEMENTWISE_OPS: readonly string[] = [
  'com.microsoft::BiasAdd', 'com.microsoft::BiasGelu', 'com.microsoft::FastGelu', 'com.microsoft::Gelu', 'com.microsoft::QuickGelu',
];

export interface ShapeInferenceOptions {
  /**
   * Ops without a rule of their own (qualified `domain::Op`; plain `Op` for ai.onnx) that are elementwise:
   * they get the generic elementwise rule. Default DEFAULT_ELEMENTWISE_OPS. Other ops without a rule keep
   * their declared output types.
   */
  elementwiseOps?: readonly string[];
}

export interface ShapeInferenceResult {
  /** Values whose type was added or made more specific. */
  updated: number;
  /** Ops (qualified) without a rule; their outputs keep the declared types. */
  unknownOps: string[];
}

/**
 * Shape inference with symbolic dims. Infers every node output's element type and shape from its inputs
 * (graph inputs' declared types, initializers, and constants evaluated on the way), writes them into
 * `value.type`, and merges with declared types: a declared static dim is never replaced, a declared
 * symbolic or unknown dim gives way to an inferred static one, and a declared dim that contradicts the
 * inferred one is a SHAPE_CONFLICT error naming the node.
 */
@loweringPass({
  name: 'shape_inference',
  description: 'Infers element types and (symbolic) shapes of every value, merging with declared types',
})
export class ShapeInference implements Pass {
  readonly inPlace = true;
  constructor(private readonly options: ShapeInferenceOptions = {}) {}

  run(model: Model, ctx: PassContext): PassResult {
    const result = inferShapes(model, this.options);
    if (result.unknownOps.length) ctx.log(`shape_inference: no rule for ${result.unknownOps.join(', ')} (declared types kept)`);
    return { model, modified: result.updated > 0, changes: result.updated, counts: { updated_values: result.updated, unknown_ops: result.unknownOps.length } };
  }
}

/** Infers and writes types in place (main graph and subgraphs). Throws ShapeInferenceError on conflicts. */
export function inferShapes(model: Model, options: ShapeInferenceOptions = {}): ShapeInferenceResult {
  const engine = new Engine(model, true, options);
  engine.run();
  return { updated: engine.updated, unknownOps: [...engine.unknownOps].sort() };
}

/**
 * Re-infers without changing the model and lists every mismatch between declared and inferred types
 * (element type, rank, static dims, symbolic dims that provably differ), and every node whose input shapes
 * are invalid for its op. Each message names the node and the value.
 */
export function checkShapes(model: Model, options: ShapeInferenceOptions = {}): string[] {
  const engine = new Engine(model, false, options);
  engine.run();
  return engine.problems;
}

class Engine {
  readonly info = new Map<Value, TensorInfo>();
  readonly consts = new Map<Value, Tensor>();
  readonly values = new Map<Value, ShapeValue>();
  readonly unknownOps = new Set<string>();
  readonly problems: string[] = [];
  updated = 0;
  readonly opset: number;
  private readonly elementwise: ReadonlySet<string>;

  constructor(
    private readonly model: Model,
    /** Write merged types into the model and throw on problems (else only collect problems). */
    private readonly write: boolean,
    options: ShapeInferenceOptions,
  ) {
    this.opset = model.opset('') ?? DEFAULT_EVAL_OPSET;
    this.elementwise = new Set(options.elementwiseOps ?? DEFAULT_ELEMENTWISE_OPS);
  }

  run(): void {
    for (const g of this.model.graph.allGraphs()) this.graph(g);
  }

  private graph(g: Graph): void {
    for (const v of g.inputs) this.info.set(v, declaredInfo(v) ?? {});
    for (const v of g.initializers.values()) {
      const t = v.constValue as Tensor;
      this.info.set(v, { dtype: t.dtype, shape: t.dims });
      // An initializer that is also a graph input is only a default: its value may be overridden.
      if (!g.inputs.includes(v)) this.consts.set(v, t);
    }
    for (const n of g.nodes) this.node(n);
  }

  infoOf(v: Value | null): TensorInfo | undefined {
    if (!v) return undefined;
    return this.info.get(v) ?? declaredInfo(v);
  }

  valueOf(v: Value | null): ShapeValue | undefined {
    if (!v) return undefined;
    const known = this.values.get(v);
    if (known) return known;
    const t = this.consts.get(v);
    if (!t || t.dims.length > 1 || t.numElements > SHAPE_VALUE_LIMIT) return undefined;
    if (t.dtype !== DataType.INT64 && t.dtype !== DataType.INT32) return undefined;
    const value: ShapeValue = { dims: [...t.dims], elems: t.toNumbers() };
    this.values.set(v, value);
    return value;
  }

  private node(n: Node): void {
    let outputs: (OutputInfo | undefined)[] | undefined = this.evaluateConstant(n);
    if (!outputs) {
      const rule = (n.domain === '' ? RULES.get(n.op) : undefined) ?? (this.elementwise.has(n.qualifiedOp) ? genericElementwise : undefined);
      if (!rule) {
        this.unknownOps.add(n.qualifiedOp);
      } else {
        try {
          outputs = rule(new NodeContext(this, n));
        } catch (e) {
          if (!(e instanceof ShapeInferenceError) || this.write) throw e;
          this.problems.push(e.message);
        }
      }
    }
    const outs = n.outputs;
    for (let i = 0; i < outs.length; i++) this.merge(n, outs[i], outputs?.[i]);
  }

  /** Exact outputs of a node whose inputs are all small constants; undefined when it does not apply. */
  private evaluateConstant(n: Node): OutputInfo[] | undefined {
    if (!canEvaluate(n)) return undefined;
    const inputs: (Tensor | undefined)[] = [];
    for (const v of n.inputs) {
      if (!v) {
        inputs.push(undefined);
        continue;
      }
      const t = this.consts.get(v);
      if (!t || t.numElements > CONST_EVAL_BUDGET || isUnloadedWeight(t)) return undefined;
      inputs.push(t);
    }
    let results: Tensor[];
    try {
      results = evaluateNode(n, inputs, this.opset, { maxElements: CONST_EVAL_BUDGET });
    } catch (e) {
      if (e instanceof EvalError) return undefined;
      throw e;
    }
    return results.map((t, i) => {
      this.consts.set(n.outputs[i], t);
      return { dtype: t.dtype, shape: t.dims, value: this.valueOf(n.outputs[i]) };
    });
  }

  /** Merges an inferred output with its declared type, records it for consumers, and writes it back. */
  private merge(n: Node, out: Value, inferred: OutputInfo | undefined): void {
    if (out.isOmitted) return;
    const declared = declaredInfo(out);
    if (out.type && out.type.kind !== 'tensor') return;
    if (!inferred) {
      if (declared) this.info.set(out, declared);
      return;
    }
    if (declared && sameDeclaration(declared, inferred)) {
      // The common case once a graph is inferred: nothing conflicts, the merge is the declaration, nothing to write.
      this.info.set(out, declared);
      if (inferred.value) this.values.set(out, inferred.value);
      return;
    }
    const conflicts = describeConflicts(declared, inferred);
    if (conflicts.length) {
      const message = `node ${n.describe()}: output '${out.name}' is declared ${formatInfo(declared)} but inferred ${formatInfo(inferred)} (${conflicts.join('; ')})`;
      if (this.write) throw new ShapeInferenceError('SHAPE_CONFLICT', message, n.name);
      this.problems.push(message);
      // Consumers see the declared type, so one wrong declaration is reported once.
      this.info.set(out, declared ?? {});
      return;
    }
    const merged = mergeInfo(declared, inferred);
    this.info.set(out, merged);
    if (inferred.value) this.values.set(out, inferred.value);
    if (this.write && merged.dtype !== undefined && !sameInfo(declared, merged)) {
      const old = out.type as TensorType | undefined;
      out.type = { ...(old ?? {}), kind: 'tensor', elemType: merged.dtype, ...(merged.shape ? { shape: [...merged.shape] } : {}) };
      this.updated++;
    }
  }
}

/**
 * The node view shape rules read (a class, not closures per node: shape inference builds one per node per run).
 * Inputs by index; omitted optional inputs are null.
 */
class NodeContext implements InferContext {
  readonly opset: number;
  readonly inputCount: number;
  constructor(
    private readonly engine: Engine,
    readonly node: Node,
  ) {
    this.opset = engine.opset;
    this.inputCount = node.inputs.length;
  }
  private input(i: number): Value | null {
    return this.node.inputs[i] ?? null;
  }
  has(i: number): boolean {
    return this.input(i) !== null;
  }
  dtype(i: number): DataType | undefined {
    return this.engine.infoOf(this.input(i))?.dtype;
  }
  shape(i: number): readonly Dim[] | undefined {
    return this.engine.infoOf(this.input(i))?.shape;
  }
  constant(i: number): Tensor | undefined {
    const v = this.input(i);
    return v ? this.engine.consts.get(v) : undefined;
  }
  value(i: number): ShapeValue | undefined {
    return this.engine.valueOf(this.input(i));
  }
  ints(i: number): number[] | undefined {
    const v = this.engine.valueOf(this.input(i));
    if (!v || v.elems.some((e) => staticValue(e) === undefined)) return undefined;
    return v.elems.map((e) => staticValue(e) as number);
  }
  intsFromInputOrAttr(i: number, attr: string): number[] | undefined {
    return this.input(i) ? this.ints(i) : this.node.attr(attr) ? this.node.attrInts(attr) : undefined;
  }
  fail(message: string): never {
    throw new ShapeInferenceError('SHAPE_INVALID', `node ${this.node.describe()}: ${message}`, this.node.name);
  }
}

/**
 * Declared and inferred are the same element type and the same dims, none of them a string with a constant
 * value (mergeDim would turn those into numbers): what describeConflicts and mergeInfo would find is then
 * nothing and the declaration itself.
 */
function sameDeclaration(declared: TensorInfo, inferred: TensorInfo): boolean {
  if (declared.dtype === undefined || declared.dtype !== inferred.dtype) return false;
  const ds = declared.shape;
  const is = inferred.shape;
  if (!ds || !is || ds.length !== is.length) return false;
  for (let k = 0; k < ds.length; k++) {
    const d = ds[k];
    if (d !== is[k]) return false;
    if (typeof d === 'string' && staticValue(d) !== undefined) return false;
  }
  return true;
}

function declaredInfo(v: Value): TensorInfo | undefined {
  const t = v.type;
  if (!t || t.kind !== 'tensor') return undefined;
  return { dtype: t.elemType, shape: t.shape };
}

/** Declared vs inferred: element types, ranks, and dims that provably differ. */
function describeConflicts(declared: TensorInfo | undefined, inferred: TensorInfo): string[] {
  if (!declared) return [];
  const out: string[] = [];
  if (declared.dtype !== undefined && inferred.dtype !== undefined && declared.dtype !== inferred.dtype) {
    out.push(`element type ${dataTypeName(declared.dtype)} vs ${dataTypeName(inferred.dtype)}`);
  }
  const ds = declared.shape;
  const is = inferred.shape;
  if (ds && is) {
    if (ds.length !== is.length) out.push(`rank ${ds.length} vs ${is.length}`);
    else ds.forEach((d, i) => {
      const c = d === null || is[i] === null ? undefined : compareDims(d, is[i]);
      if (c !== undefined && c !== 0) out.push(`dim ${i}: ${d} vs ${is[i]}`);
    });
  }
  return out;
}

/** Per dim: declared static wins; else an inferred static dim; else the declared symbol; else the inferred one. */
function mergeDim(d: Dim, i: Dim): Dim {
  if (d === null) return i;
  if (i === null) return d;
  if (staticValue(d) !== undefined) return staticValue(d) as number;
  const si = staticValue(i);
  return si !== undefined ? si : d;
}

function mergeInfo(declared: TensorInfo | undefined, inferred: TensorInfo): TensorInfo {
  const dtype = declared?.dtype ?? inferred.dtype;
  const ds = declared?.shape;
  const is = inferred.shape;
  const shape = ds && is ? ds.map((d, i) => mergeDim(d, is[i])) : (ds ?? is);
  return { dtype, shape };
}

function sameInfo(a: TensorInfo | undefined, b: TensorInfo): boolean {
  if (!a) return false;
  if (a.dtype !== b.dtype) return false;
  if (!a.shape || !b.shape) return a.shape === b.shape;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === (b.shape as readonly Dim[])[i]);
}

function formatInfo(t: TensorInfo | undefined): string {
  if (!t) return '?';
  return `${t.dtype === undefined ? '?' : dataTypeName(t.dtype)}${formatShape(t.shape)}`;
}
