// Proves that a RoPE cos/sin operand is a per-position lookup table and tabulates it, by evaluating the operand's
// own subgraph (the exporter's inv_freq MatMul, Cos, Casts, scaling …) with the reference evaluator.
import { DataType, bitsPerElement, byteSizeOf, dataTypeName } from '../../../ir/dtype';
import type { Model } from '../../../ir/model';
import type { Node } from '../../../ir/node';
import { RawTensor, Tensor } from '../../../ir/tensor';
import type { Value } from '../../../ir/value';
import { evaluateSubgraph } from '../../common/evaluator';
import { Failure, failure } from '../../pattern/rule';

/**
 * How an operand's dims line up with the token grid: `heads` multiplies a 4D `x [B, H, S, D]`, so the operand
 * is `[b, 1, S, W]` (b = 1 or B); `rows` is RotaryEmbedding's 3D cache without position_ids, `[b, S, W]`.
 */
export type TableLayout = 'heads' | 'rows';
/**
 * Which operand columns make the half-width cache: `halves` (rotate-half: columns j and j+W/2 must be equal,
 * the cache keeps the first half), `pairs` (interleaved: columns 2j and 2j+1 equal, the cache keeps the even
 * ones), `all` (the operand is already half-width).
 */
export type TableColumns = 'halves' | 'pairs' | 'all';

export interface TableProof {
  /** The graph input the operands are a function of (position_ids). */
  readonly positions: Value;
  /** Operand width W (the last dim). */
  readonly width: number;
  readonly dtype: DataType;
}

/** Elements one evaluation may produce: chunks of positions keep the full tabulation within it. */
const EVAL_BUDGET = 1 << 21;
const TOLERANCE = 1e-6;

interface Sources {
  positions: Value;
  /** Graph inputs read only through Shape (e.g. input_ids for the batch size): fed zeros of the token grid. */
  shapeOnly: Value[];
}

/** The graph inputs the operands depend on: exactly one by value (the positions), others only through Shape. */
function findSources(model: Model, operands: readonly Value[]): Sources | Failure {
  const main = model.graph;
  const direct = new Set<Value>();
  const shapeOnly = new Set<Value>();
  const seen = new Set<Node>();
  const stack: Value[] = [...operands];
  while (stack.length) {
    const v = stack.pop() as Value;
    const p = v.producer;
    if (!p) {
      if (v.isGraphInput && v.graph === main) direct.add(v);
      else if (!v.constValue) return failure(`'${v.name}' is neither a graph input nor a constant of the main graph`, v);
      continue;
    }
    if (seen.has(p)) continue;
    seen.add(p);
    if (p.graph !== main) return failure(`${p.describe()} is inside a subgraph`, p);
    if (p.subgraphs().length) return failure(`${p.describe()} has subgraphs; the cos/sin computation cannot be tabulated`, p);
    if (p.op === 'Shape' && p.domain === '' && p.inputs[0]?.isGraphInput && !p.inputs[0].constValue) {
      shapeOnly.add(p.inputs[0]);
      continue;
    }
    for (const i of p.inputs) if (i) stack.push(i);
  }
  if (direct.size === 0) return failure(`'${operands[0].name}' does not depend on any graph input (a constant table, not a function of position_ids)`, operands[0]);
  if (direct.size > 1) return failure(`'${operands[0].name}' depends on several graph inputs: ${[...direct].map((d) => d.name).join(', ')}`, operands[0]);
  const positions = [...direct][0];
  const dtype = positions.dtype;
  if ((dtype !== DataType.INT64 && dtype !== DataType.INT32) || positions.shape?.length !== 2) {
    return failure(`'${positions.name}' is not a 2D integer position tensor [batch, seq]`, positions);
  }
  return { positions, shapeOnly: [...shapeOnly].filter((s) => !direct.has(s)) };
}

/** The positions input of operands already proved by `proveTables` (cheap: a walk, no evaluation). */
export function positionsOf(model: Model, operand: Value): Value | Failure {
  const src = findSources(model, [operand]);
  return src instanceof Failure ? src : src.positions;
}

/** Values of `operands` for a batch of position rows (all rows the same length). */
function evaluateAt(model: Model, src: Sources, operands: readonly Value[], rows: readonly (readonly number[])[]): Tensor[] | Failure {
  const batch = rows.length;
  const seq = rows[0].length;
  const feeds = new Map<Value, Tensor>();
  const flat = rows.flat();
  const posType = src.positions.dtype as DataType;
  feeds.set(src.positions, posType === DataType.INT64
    ? RawTensor.fromArray(posType, [batch, seq], BigInt64Array.from(flat, (p) => BigInt(p)))
    : RawTensor.fromArray(posType, [batch, seq], Int32Array.from(flat)));
  for (const input of src.shapeOnly) {
    const shape = input.shape;
    const dtype = input.dtype;
    if (!shape || dtype === undefined || shape.length !== 2) return failure(`shape-only input '${input.name}' is not 2D [batch, seq]`, input);
    const dims = shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : seq));
    if (dims[0] !== batch || dims[1] !== seq) return failure(`input '${input.name}' has static dims [${dims}] that do not fit a [${batch}, ${seq}] probe`, input);
    if (bitsPerElement(dtype) === undefined) return failure(`input '${input.name}' has no fixed-size element type`, input);
    feeds.set(input, new RawTensor(dtype, dims, new Uint8Array(byteSizeOf(dtype, batch * seq))));
  }
  try {
    const out = evaluateSubgraph(model.graph, feeds, operands, { opset: model.opset('') ?? 23, maxElements: EVAL_BUDGET });
    return operands.map((o) => out.get(o) as Tensor);
  } catch (e) {
    return failure(`cannot evaluate '${operands[0].name}' for positions [${rows[0].slice(0, 4).join(', ')}…]: ${(e as Error).message}`, operands[0]);
  }
}

/** The operand as rows per (batch, token): row(b, i) is the W numbers at that position. */
interface Grid {
  readonly width: number;
  readonly dtype: DataType;
  /** Element offset of row (b, i) in the tensor. */
  offset(b: number, i: number): number;
  readonly tensor: Tensor;
}

function gridOf(t: Tensor, layout: TableLayout, batch: number, seq: number, name: string): Grid | Failure {
  const want = layout === 'heads' ? 4 : 3;
  const d = [...t.dims];
  if (d.length > want) return failure(`'${name}' has rank ${d.length}, expected at most ${want} (${layout === 'heads' ? '[b, 1, S, W]' : '[b, S, W]'})`);
  while (d.length < want) d.unshift(1);
  const width = d[want - 1];
  const b = d[0];
  const okHeads = layout === 'rows' || d[1] === 1;
  if (d[want - 2] !== seq || !okHeads || (b !== 1 && b !== batch)) {
    return failure(`'${name}' evaluates to dims [${t.dims.join(', ')}] for ${batch}×${seq} positions; expected ${layout === 'heads' ? `[1|${batch}, 1, ${seq}, W]` : `[1|${batch}, ${seq}, W]`}`);
  }
  if (b === 1 && batch > 1) return failure(`'${name}' has one row of positions for a batch of ${batch}: it does not follow per-row position_ids`);
  return { width, dtype: t.dtype, tensor: t, offset: (bi, i) => ((b === 1 ? 0 : bi) * seq + i) * width };
}

function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b)) || (Number.isNaN(a) && Number.isNaN(b));
}

function columnsAgree(nums: readonly number[], at: number, width: number, columns: TableColumns): boolean {
  if (columns === 'halves') {
    const h = width / 2;
    for (let j = 0; j < h; j++) if (nums[at + j] !== nums[at + j + h]) return false;
  } else if (columns === 'pairs') {
    for (let j = 0; j < width; j += 2) if (nums[at + j] !== nums[at + j + 1]) return false;
  }
  return true;
}

/**
 * Proves that each operand is a lookup table by position: for probe batches (positions shuffled, per-row,
 * different lengths, one far position) every token's row equals the row of its position elsewhere, and the
 * duplicated columns agree (`columns`). `maxPositions - 1` must be evaluable (a smaller constant table fails).
 */
export function proveTables(model: Model, operands: readonly Value[], layout: TableLayout, columns: TableColumns, maxPositions: number): TableProof | Failure {
  const src = findSources(model, operands);
  if (src instanceof Failure) return src;
  const staticBatch = src.positions.shape?.[0];
  const batch = typeof staticBatch === 'number' ? staticBatch : 2;
  if (batch < 1) return failure(`'${src.positions.name}' has batch ${batch}`, src.positions);
  const far = Math.max(8, maxPositions - 1);
  // Probe A: row b holds positions b, b+1, … (rows differ when batch > 1). Probe B: a shuffled shorter row
  // with a far position, so length- or maximum-dependent tables (dynamic NTK scaling) are caught.
  const probeA = Array.from({ length: batch }, (_, b) => Array.from({ length: 8 }, (_, i) => i + b));
  const probeB = Array.from({ length: batch }, () => [7, 2, far, 5, 0, 3]);
  const a = evaluateAt(model, src, operands, probeA);
  if (a instanceof Failure) return a;
  const bOut = evaluateAt(model, src, operands, probeB);
  if (bOut instanceof Failure) return bOut;
  let width = -1;
  let dtype: DataType | undefined;
  for (let k = 0; k < operands.length; k++) {
    const name = operands[k].name;
    const ga = gridOf(a[k], layout, batch, 8, name);
    if (ga instanceof Failure) return ga;
    const gb = gridOf(bOut[k], layout, batch, 6, name);
    if (gb instanceof Failure) return gb;
    if (width >= 0 && (ga.width !== width || ga.dtype !== dtype)) return failure(`'${name}' is ${dataTypeName(ga.dtype)} of width ${ga.width}, '${operands[0].name}' ${dataTypeName(dtype as DataType)} of width ${width}`, operands[k]);
    width = ga.width;
    dtype = ga.dtype;
    if (columns === 'halves' && width % 2 !== 0) return failure(`'${name}' has odd width ${width}`, operands[k]);
    if (columns === 'pairs' && width % 2 !== 0) return failure(`'${name}' has odd width ${width}`, operands[k]);
    const na = a[k].toNumbers();
    const nb = bOut[k].toNumbers();
    const rowOf = new Map<number, number>(); // position → offset in probe A (row 0)
    for (let i = 0; i < 8; i++) rowOf.set(probeA[0][i], ga.offset(0, i));
    for (let bi = 0; bi < batch; bi++) {
      for (let i = 0; i < 8; i++) {
        const at = ga.offset(bi, i);
        if (!columnsAgree(na, at, width, columns)) {
          return failure(`'${name}' at position ${probeA[bi][i]}: columns are not ${columns === 'halves' ? 'duplicated halves (rotate-half needs cat(freqs, freqs))' : 'repeated pairs (interleaved needs repeat_interleave(freqs, 2))'}`, operands[k]);
        }
        const ref = rowOf.get(probeA[bi][i]);
        if (ref !== undefined && !sameRow(na, ref, na, at, width)) return failure(`'${name}' differs between batch rows at the same position ${probeA[bi][i]}`, operands[k]);
      }
      for (let i = 0; i < probeB[bi].length; i++) {
        const ref = rowOf.get(probeB[bi][i]);
        if (ref !== undefined && !sameRow(na, ref, nb, gb.offset(bi, i), width)) {
          return failure(`'${name}' at position ${probeB[bi][i]} depends on the other positions or the sequence length (not a per-position table)`, operands[k]);
        }
      }
    }
  }
  return { positions: src.positions, width, dtype: dtype as DataType };
}

function sameRow(a: readonly number[], at: number, b: readonly number[], bt: number, width: number): boolean {
  for (let j = 0; j < width; j++) if (!close(a[at + j], b[bt + j])) return false;
  return true;
}

/**
 * The half-width cache `[count, columns]` of an operand proved by `proveTables`: row p is the operand's row for
 * position p, evaluated in chunks of positions, with the element bytes copied as the graph computes them.
 */
export function tabulate(model: Model, operand: Value, layout: TableLayout, columns: TableColumns, count: number): RawTensor | Failure {
  const r = tabulateAll(model, [operand], layout, columns, count);
  return r instanceof Failure ? r : r[0];
}

/**
 * `tabulate` for several operands of one position input at once (cos and sin): one evaluation per chunk of
 * positions computes what they share (inv_freq · positions, the Concat) once. Each table is what `tabulate`
 * gives for its operand alone: the evaluator is deterministic and the shared values are the same values.
 */
export function tabulateAll(model: Model, operands: readonly Value[], layout: TableLayout, columns: TableColumns, count: number): RawTensor[] | Failure {
  const src = findSources(model, operands);
  if (src instanceof Failure) return src;
  const tables: { out: Uint8Array; dtype: DataType; cols: number; elem: number }[] = [];
  let perChunk = 0;
  for (let start = 0; start < count;) {
    // The first chunk is small (to learn the widths), the others fill the evaluation budget.
    const n = Math.min(count - start, perChunk || 16);
    const rows = [Array.from({ length: n }, (_, i) => start + i)];
    const r = evaluateAt(model, src, operands, rows);
    if (r instanceof Failure) return r;
    for (let k = 0; k < operands.length; k++) {
      const g = gridOf(r[k], layout, 1, n, operands[k].name);
      if (g instanceof Failure) return g;
      if (!tables[k]) {
        const elem = byteSizeOf(g.dtype, 1);
        const cols = columns === 'all' ? g.width : g.width / 2;
        tables[k] = { out: new Uint8Array(count * cols * elem), dtype: g.dtype, cols, elem };
        perChunk = Math.max(perChunk, Math.max(16, Math.floor(EVAL_BUDGET / (4 * Math.max(1, g.width) * operands.length))));
      }
      copyRows(tables[k], r[k].bytes(), g, columns, start, n);
    }
    start += n;
  }
  return tables.map((t) => new RawTensor(t.dtype, [count, t.cols], t.out));
}

/** Copies n rows of the evaluated operand (its kept columns, bytes as computed) into the table at `start`. */
function copyRows(table: { out: Uint8Array; cols: number; elem: number }, bytes: Uint8Array, g: Grid, columns: TableColumns, start: number, n: number): void {
  const { out, cols, elem } = table;
  const step = columns === 'pairs' ? 2 : 1;
  // Row i of the grid starts at element offset(0, i) = offset(0, 0) + i·width (batch row 0, rows contiguous).
  const first = g.offset(0, 0);
  // Whole elements through a view of the element's width where the buffers allow it, else byte by byte; one
  // loop per view type so each stays monomorphic. Either way the bits are copied as they are.
  const fits = (w: number) => elem === w && bytes.byteOffset % w === 0 && bytes.length % w === 0;
  if (fits(2)) {
    copyStrided16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2), new Uint16Array(out.buffer, out.byteOffset, out.length / 2), first, g.width, step, start * cols, cols, n);
  } else if (fits(4)) {
    copyStrided32(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), new Uint32Array(out.buffer, out.byteOffset, out.length / 4), first, g.width, step, start * cols, cols, n);
  } else {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < cols; j++) {
        const from = (first + i * g.width + step * j) * elem;
        const to = ((start + i) * cols + j) * elem;
        for (let k = 0; k < elem; k++) out[to + k] = bytes[from + k];
      }
    }
  }
}

/** dst[to + i·cols + j] = src[first + i·width + step·j] for n rows of cols elements. */
function copyStrided16(src: Uint16Array, dst: Uint16Array, first: number, width: number, step: number, to: number, cols: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const from = first + i * width;
    const at = to + i * cols;
    for (let j = 0; j < cols; j++) dst[at + j] = src[from + step * j];
  }
}

function copyStrided32(src: Uint32Array, dst: Uint32Array, first: number, width: number, step: number, to: number, cols: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const from = first + i * width;
    const at = to + i * cols;
    for (let j = 0; j < cols; j++) dst[at + j] = src[from + step * j];
  }
}

/**
 * A structural key of a value's computation (ops, attributes, constants and inputs by name), so operands that
 * compute the same table (one Cos per layer of one theta) share one cache initializer.
 */
export function computationKey(value: Value): string {
  const memo = new Map<Value, string>();
  const visit = (root: Value): string => {
    const stack: { v: Value; expanded: boolean }[] = [{ v: root, expanded: false }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (memo.has(top.v)) {
        stack.pop();
        continue;
      }
      const p = top.v.producer;
      if (!p) {
        memo.set(top.v, top.v.constValue && !top.v.isGraphInput ? `const:${top.v.name}` : `input:${top.v.name}`);
        stack.pop();
        continue;
      }
      if (!top.expanded) {
        top.expanded = true;
        for (const i of p.inputs) if (i && !memo.has(i)) stack.push({ v: i, expanded: false });
        continue;
      }
      const attrs = [...p.attributes.values()].map((a) => `${a.name}=${JSON.stringify(a.value, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Tensor ? tensorKey(x, p) : x))}`).sort();
      memo.set(top.v, `${p.qualifiedOp}[${top.v.outputIndex}](${p.inputs.map((i) => (i ? memo.get(i) : '')).join(',')}|${attrs.join(',')})`);
      stack.pop();
    }
    return memo.get(root) as string;
  };
  return visit(value);
}

/** Small tensors by value; large ones by the node holding them (never equal across nodes, which is safe). */
function tensorKey(t: Tensor, holder: Node): string {
  if (t.numElements <= 64) return `${dataTypeName(t.dtype)}[${t.dims.join(',')}]:${t.toNumbers().join(',')}`;
  let id = nodeIds.get(holder);
  if (id === undefined) nodeIds.set(holder, (id = ++nextNodeId));
  return `tensor@${holder.name}#${id}`;
}

/** Identity numbers for nodes in keys (names may be empty). Weak: it holds no node alive. */
const nodeIds = new WeakMap<Node, number>();
let nextNodeId = 0;
