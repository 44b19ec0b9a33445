import type { Graph } from '../../ir/graph';
import type { Model } from '../../ir/model';
import type { Node } from '../../ir/node';
import type { Value } from '../../ir/value';
import { OnnxLowerError } from '../../ir/errors';
import { cacheNames } from '../../passes/llm/cache-names';

export class PlanError extends OnnxLowerError {}

/** One layer's K or V cache as a static-cache pass wrote it. */
export interface CacheUpdate {
  /** Graph input key_cache_i / value_cache_i. */
  readonly cacheIn: Value;
  /** Graph output present_*: the updated cache. */
  readonly present: Value;
  /** The new rows (K or V of the current tokens), [B, H, seq, D]. */
  readonly current: Value;
  /** What Attention reads (rows 0..end of the updated cache). */
  readonly attend: Value;
  /** static_cache_v3: the output may share the input's buffer. */
  readonly inPlace: boolean;
  /** Nodes of the idiom, replaced by one cache write. */
  readonly nodes: ReadonlySet<Node>;
  /** The idiom node at which the write is emitted (the first one that reads `current`). */
  readonly writeAt: Node;
}

/** What the start/end-dependent part of a lowered graph means, in runtime terms. */
export interface CacheIdioms {
  readonly updates: readonly CacheUpdate[];
  /** Values that are the shared mask `j <= start + i`. */
  readonly masks: ReadonlySet<Value>;
  /** Every node replaced by the idioms (skipped by the plan). */
  readonly replaced: ReadonlySet<Node>;
  readonly byAttend: ReadonlyMap<Value, CacheUpdate>;
}

function producer(v: Value | null | undefined, op: string): Node | undefined {
  const p = v?.producer;
  return p && p.op === op && p.domain === '' ? p : undefined;
}

function constInts(v: Value | null | undefined): number[] | undefined {
  const t = v?.constValue;
  if (!t || t.numElements > 8) return undefined;
  try {
    return t.toNumbers();
  } catch {
    return undefined;
  }
}

/** Recognises the static-cache subgraphs of static_cache_v1/v2/v3 and the shared mask. */
export class IdiomMatcher {
  private readonly start: Value;
  private readonly end: Value;
  constructor(private readonly graph: Graph) {
    const find = (name: string) => graph.inputs.find((v) => v.name === name);
    const start = find(cacheNames.start);
    const end = find(cacheNames.end);
    if (!start || !end) throw new PlanError('PLAN_CACHE', `the graph has cache inputs but no ${cacheNames.start}/${cacheNames.end}`);
    this.start = start;
    this.end = end;
  }

  /** `Unsqueeze(idx, [0])` or `Reshape(idx, [1])`: the index as a 1-element vector. */
  private vecOf(v: Value | null | undefined, idx: Value, seen: Set<Node>): boolean {
    const u = producer(v, 'Unsqueeze') ?? producer(v, 'Reshape');
    if (!u || u.inputs[0] !== idx) return false;
    const axes = u.inputs[1] ? constInts(u.inputs[1]) : u.attr('axes') ? u.attrInts('axes') : undefined;
    if (u.op === 'Unsqueeze' && !(axes && axes.length === 1 && axes[0] === 0)) return false;
    if (u.op === 'Reshape' && !(axes && axes.length === 1 && (axes[0] === 1 || axes[0] === -1))) return false;
    seen.add(u);
    return true;
  }

  private isConst(v: Value | null | undefined, pred: (x: number) => boolean): boolean {
    const c = constInts(v);
    return !!c && c.length === 1 && pred(c[0]);
  }

  /** Slice(x, from, to, axes=[2]) on the sequence axis: which bounds it uses. */
  private seqSlice(v: Value | null | undefined, seen: Set<Node>): { data: Value; from: 'zero' | 'start' | 'end'; to: 'start' | 'end' | 'max' } | undefined {
    const s = producer(v, 'Slice');
    if (!s || !s.inputs[0]) return undefined;
    const axes = constInts(s.inputs[3]);
    if (!axes || axes.length !== 1 || (axes[0] !== 2 && axes[0] !== -2)) return undefined;
    if (s.inputs[4] && !this.isConst(s.inputs[4], (x) => x === 1)) return undefined;
    const local = new Set<Node>();
    const bound = (b: Value | null): 'zero' | 'start' | 'end' | 'max' | undefined => {
      if (this.isConst(b, (x) => x === 0)) return 'zero';
      if (this.isConst(b, (x) => x >= 2 ** 31 - 1)) return 'max';
      if (this.vecOf(b, this.start, local)) return 'start';
      if (this.vecOf(b, this.end, local)) return 'end';
      return undefined;
    };
    const from = bound(s.inputs[1]);
    const to = bound(s.inputs[2]);
    if (!from || !to || from === 'max' || to === 'zero') return undefined;
    local.forEach((n) => seen.add(n));
    seen.add(s);
    return { data: s.inputs[0], from, to };
  }

  private isCacheInput(v: Value | null | undefined): v is Value {
    return !!v && v.isGraphInput && cacheNames.keyInputPattern.test(v.name.replace('value_', 'key_'));
  }

  /** The cache update behind an Attention K/V input, or undefined when it is not one of the idioms. */
  matchAttend(attend: Value): CacheUpdate | undefined {
    const nodes = new Set<Node>();
    // v1 / v3: attention reads Slice(updated, 0, end).
    const read = this.seqSlice(attend, nodes);
    if (read && read.from === 'zero' && read.to === 'end') {
      const updated = read.data;
      const scatter = producer(updated, 'TensorScatter');
      if (scatter) {
        const [cacheIn, current, idx] = scatter.inputs;
        const expand = producer(idx, 'Expand');
        const axis = scatter.attrInt('axis', -2);
        if (!this.isCacheInput(cacheIn) || !current || !expand || (axis !== -2 && axis !== 2) || scatter.attrString('mode', 'linear') !== 'linear') return undefined;
        if (!this.vecOf(expand.inputs[0], this.start, nodes)) return undefined;
        nodes.add(expand).add(scatter);
        if (!updated.isGraphOutput) return undefined;
        return { cacheIn, present: updated, current, attend, inPlace: cacheIn.useCount === 1, nodes, writeAt: scatter };
      }
      const cat = producer(updated, 'Concat');
      if (cat && cat.inputs.length === 3 && (cat.attrInt('axis') === 2 || cat.attrInt('axis') === -2)) {
        const before = this.seqSlice(cat.inputs[0], nodes);
        const after = this.seqSlice(cat.inputs[2], nodes);
        const current = cat.inputs[1];
        if (!before || !after || !current || before.data !== after.data || !this.isCacheInput(before.data)) return undefined;
        if (before.from !== 'zero' || before.to !== 'start' || after.from !== 'end' || after.to !== 'max' || !updated.isGraphOutput) return undefined;
        nodes.add(cat);
        return { cacheIn: before.data, present: updated, current, attend, inPlace: false, nodes, writeAt: cat };
      }
      return undefined;
    }
    // v2: attention reads Concat(cache[:, :, :start], current); the output appends cache[:, :, end:].
    const cat = producer(attend, 'Concat');
    if (cat && cat.inputs.length === 2 && (cat.attrInt('axis') === 2 || cat.attrInt('axis') === -2)) {
      const before = this.seqSlice(cat.inputs[0], nodes);
      const current = cat.inputs[1];
      if (!before || !current || before.from !== 'zero' || before.to !== 'start' || !this.isCacheInput(before.data)) return undefined;
      for (const outer of attend.consumers()) {
        if (outer.op !== 'Concat' || outer.inputs.length !== 2 || outer.inputs[0] !== attend || !outer.outputs[0].isGraphOutput) continue;
        const tailNodes = new Set<Node>();
        const after = this.seqSlice(outer.inputs[1], tailNodes);
        if (!after || after.data !== before.data || after.from !== 'end' || after.to !== 'max') continue;
        tailNodes.forEach((n) => nodes.add(n));
        nodes.add(cat).add(outer);
        return { cacheIn: before.data, present: outer.outputs[0], current, attend, inPlace: false, nodes, writeAt: cat };
      }
    }
    return undefined;
  }

  /** mask = Unsqueeze(LessOrEqual(Unsqueeze(Range(0, end, 1), [0]), Unsqueeze(Range(start, end, 1), [1])), [0, 1]). */
  matchMask(mask: Value, nodes: Set<Node>): boolean {
    const outer = producer(mask, 'Unsqueeze');
    const outerAxes = outer && (outer.inputs[1] ? constInts(outer.inputs[1]) : outer.attr('axes') ? outer.attrInts('axes') : undefined);
    if (!outer || !outerAxes || outerAxes.join(',') !== '0,1') return false;
    const le = producer(outer.inputs[0], 'LessOrEqual');
    if (!le) return false;
    const range = (v: Value | null, axis: number, from: 'zero' | 'start'): Node[] | undefined => {
      const u = producer(v, 'Unsqueeze');
      const axes = u && (u.inputs[1] ? constInts(u.inputs[1]) : u.attr('axes') ? u.attrInts('axes') : undefined);
      if (!u || !axes || axes.length !== 1 || axes[0] !== axis) return undefined;
      const r = producer(u.inputs[0], 'Range');
      if (!r || r.inputs[1] !== this.end || !this.isConst(r.inputs[2], (x) => x === 1)) return undefined;
      const ok = from === 'zero' ? this.isConst(r.inputs[0], (x) => x === 0) : r.inputs[0] === this.start;
      return ok ? [u, r] : undefined;
    };
    const keys = range(le.inputs[0], 0, 'zero');
    const queries = range(le.inputs[1], 1, 'start');
    if (!keys || !queries) return false;
    [outer, le, ...keys, ...queries].forEach((n) => nodes.add(n));
    return true;
  }
}

/** Values that depend on start_idx/end_idx (only the cache idioms may use them). */
function dynamicValues(graph: Graph, roots: readonly Value[]): Set<Value> {
  const dyn = new Set<Value>(roots);
  for (const n of graph.nodes) {
    // Attention consumes the idioms (cache reads, mask); its output is ordinary data.
    if (n.op === 'Attention') continue;
    if (n.inputs.some((v) => v && dyn.has(v))) n.outputs.forEach((o) => dyn.add(o));
  }
  return dyn;
}

/** Finds the cache idioms of a lowered model; undefined when it has no static cache. */
export function findCacheIdioms(model: Model): CacheIdioms | undefined {
  const g = model.graph;
  const roots = g.inputs.filter((v) => v.name === cacheNames.start || v.name === cacheNames.end);
  if (roots.length === 0) return undefined;
  const matcher = new IdiomMatcher(g);
  const dyn = dynamicValues(g, roots);
  const updates: CacheUpdate[] = [];
  const masks = new Set<Value>();
  const replaced = new Set<Node>();
  const byAttend = new Map<Value, CacheUpdate>();
  for (const n of g.nodes) {
    if (n.op !== 'Attention') continue;
    for (const i of [1, 2]) {
      const v = n.inputs[i];
      if (!v || !dyn.has(v) || byAttend.has(v)) continue;
      const u = matcher.matchAttend(v);
      if (!u) throw new PlanError('PLAN_CACHE', `Attention ${n.describe()}: input ${i} '${v.name}' depends on start/end but is not a static-cache read (static_cache_v1/v2/v3)`, n.name);
      updates.push(u);
      byAttend.set(v, u);
      u.nodes.forEach((x) => replaced.add(x));
    }
    const m = n.inputs[3];
    if (m && dyn.has(m) && !masks.has(m)) {
      if (!matcher.matchMask(m, replaced)) throw new PlanError('PLAN_CACHE', `Attention ${n.describe()}: mask '${m.name}' depends on start/end but is not the mask j <= start + i`, n.name);
      masks.add(m);
    }
  }
  // Every other use of start/end must be part of an idiom.
  for (const n of g.nodes) {
    if (replaced.has(n) || n.op === 'Attention') continue;
    const d = n.inputs.find((v) => v && dyn.has(v));
    if (d) throw new PlanError('PLAN_CACHE', `${n.describe()} uses '${d.name}', which depends on start_idx/end_idx outside the static-cache idioms`, n.name);
  }
  for (const o of g.outputs) {
    if (dyn.has(o) && !updates.some((u) => u.present === o)) throw new PlanError('PLAN_CACHE', `graph output '${o.name}' depends on start/end but is not a cache update`);
  }
  return { updates, masks, replaced, byAttend };
}
