/**
 * fast-check: random sequences of IR mutations (insert node, replaceInput, replaceAllUsesWith, remove dead
 * nodes, all-or-nothing removal attempts, add/remove initializers, renames, output changes) on random models
 * keep the use-def invariants (use lists recomputed from scratch match the IR's) and a clean verify.
 */
import fc from 'fast-check';
import { Graph, IrError, Model, Node, tensor, Value, verify } from '../../src/ir';
import { decodeModel, encodeModel } from '../../src/ir/serde';
import { dumpModel } from '../helpers/model-dump';
import { buildModel, modelRecipe } from './random-model';

type Step = { kind: number; a: number; b: number; c: number; flag: boolean };
const step: fc.Arbitrary<Step> = fc.record({ kind: fc.nat({ max: 9 }), a: fc.nat(), b: fc.nat(), c: fc.nat(), flag: fc.boolean() });

/** Every value the test has seen (inputs, initializers, node outputs, incl. of removed nodes). */
class Tracker {
  readonly values = new Set<Value>();
  private readonly ids = new WeakMap<Node, number>();
  private next = 0;
  id(n: Node): number {
    let i = this.ids.get(n);
    if (i === undefined) this.ids.set(n, (i = this.next++));
    return i;
  }
  scan(m: Model): void {
    for (const g of m.graph.allGraphs()) {
      for (const v of g.inputs) this.values.add(v);
      for (const v of g.initializers.values()) this.values.add(v);
      for (const n of g.nodes) for (const o of n.outputs) this.values.add(o);
    }
  }
}

/** Use lists recomputed from node inputs must equal what the IR keeps, for every value ever seen. */
function checkUses(m: Model, t: Tracker): void {
  const expected = new Map<Value, string[]>();
  for (const g of m.graph.allGraphs()) {
    for (const n of g.nodes) {
      n.inputs.forEach((v, i) => {
        if (!v) return;
        t.values.add(v);
        const list = expected.get(v) ?? [];
        list.push(`${t.id(n)}:${i}`);
        expected.set(v, list);
      });
    }
  }
  for (const v of t.values) {
    const actual = v.uses().map((u) => `${t.id(u.node)}:${u.index}`).sort();
    const want = (expected.get(v) ?? []).sort();
    if (actual.join() !== want.join()) throw new Error(`uses of '${v.name}': IR has [${actual}], inputs say [${want}]`);
    if (v.useCount !== want.length) throw new Error(`useCount of '${v.name}' is ${v.useCount}, expected ${want.length}`);
  }
  // The name authority knows every live value by its name.
  for (const g of m.graph.allGraphs()) {
    const live = [...g.inputs, ...g.initializers.values(), ...g.nodes.toArray().flatMap((n) => n.outputs.filter((o) => !o.isOmitted))];
    for (const v of live) if (g.names.lookup(v.name) !== v) throw new Error(`name authority lost '${v.name}'`);
  }
}

const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

/** Values defined in the main graph before node position `pos` (inputs and initializers always). */
function availableBefore(g: Graph, pos: number): Value[] {
  const out: Value[] = [...g.inputs, ...g.initializers.values()];
  g.nodes.toArray().slice(0, pos).forEach((n) => out.push(...n.outputs.filter((o) => !o.isOmitted)));
  return out;
}

/** Expects `fn` to be refused with an IrError and to leave the model exactly as it was. */
function refusedCleanly(m: Model, fn: () => void): boolean {
  const before = dumpModel(m);
  try {
    fn();
    return false;
  } catch (e) {
    if (!(e instanceof IrError)) throw e;
    expect(dumpModel(m)).toEqual(before);
    return true;
  }
}

function apply(m: Model, s: Step, t: Tracker, counter: { n: number }): void {
  const g = m.graph;
  const nodes = g.nodes.toArray();
  switch (s.kind) {
    case 0: { // insert a node after a value's producer; maybe move the value's uses to it
      const values = availableBefore(g, nodes.length);
      const v = pick(values, s.a)!;
      const n = new Node({ op: 'Neg', name: `ins${counter.n++}`, inputs: [v] });
      if (v.producer) g.insertAfter(v.producer, n);
      else if (g.nodes.first) g.insertBefore(g.nodes.first, n);
      else g.append(n);
      t.values.add(n.output);
      if (s.flag) v.replaceAllUsesWith(n.output, { except: [n], replaceGraphOutputs: s.c % 2 === 0 });
      break;
    }
    case 1: { // replaceInput with a value defined earlier (main graph), or an input/initializer (subgraph)
      const all = [...g.allNodes()].filter((n) => n.inputs.length);
      const n = pick(all, s.a);
      if (!n) break;
      const pos = n.graph === g ? nodes.indexOf(n) : 0;
      const w = pick(availableBefore(g, pos), s.b)!;
      n.replaceInput(s.c % n.inputs.length, s.flag && n.inputs.length > 1 && s.c % n.inputs.length < n.inputs.length - 1 ? null : w);
      break;
    }
    case 2: { // replaceAllUsesWith an input/initializer (in scope everywhere)
      const v = pick(availableBefore(g, nodes.length), s.a)!;
      const w = pick([...g.inputs, ...g.initializers.values()], s.b)!;
      v.replaceAllUsesWith(w, { replaceGraphOutputs: s.flag });
      break;
    }
    case 3: { // remove a dead node (an If takes its branches' uses with it)
      const dead = nodes.filter((n) => n.outputs.every((o) => !o.hasUses() && !o.isGraphOutput));
      const n = pick(dead, s.a);
      if (n) g.remove(n);
      break;
    }
    case 4: { // try removing a random set: all or nothing
      const set = [pick(nodes, s.a), pick(nodes, s.b), pick(nodes, s.c)].filter((n): n is Node => !!n);
      if (!set.length) break;
      const live = set.some((n) => n.outputs.some((o) => o.isGraphOutput || o.uses().some((u) => !set.includes(u.node) && !insideAny(u.node, set))));
      const refused = refusedCleanly(m, () => g.remove(set));
      expect(refused).toBe(live);
      break;
    }
    case 5: { // add an initializer, sometimes with a taken name (it gets a fresh one)
      const v = g.addInitializer(s.flag ? `w${s.a % 3}` : `extra${counter.n++}`, tensor.float32([2], [s.a, s.b]));
      t.values.add(v);
      if (s.c % 2) g.add({ op: 'Add', name: `use${counter.n++}`, inputs: [g.inputs[0], v] });
      break;
    }
    case 6: { // remove an initializer: refused (and nothing changes) while it is used
      const v = pick([...g.initializers.values()], s.a);
      if (!v) break;
      const used = v.hasUses() || v.isGraphOutput || v.isGraphInput;
      if (used) expect(refusedCleanly(m, () => g.removeInitializer(v))).toBe(true);
      else g.removeInitializer(v);
      break;
    }
    case 7: { // rename to a fresh name, or to a taken one (refused, nothing changes)
      const v = pick(availableBefore(g, nodes.length), s.a)!;
      if (s.flag) {
        const other = pick(availableBefore(g, nodes.length), s.b)!;
        if (other !== v) expect(refusedCleanly(m, () => (v.name = other.name))).toBe(true);
      } else {
        v.name = g.names.fresh(`renamed${s.b % 5}`);
      }
      break;
    }
    case 8: { // point a graph output at another value
      const v = pick(availableBefore(g, nodes.length), s.a)!;
      if (g.outputs.length) g.setOutput(s.b % g.outputs.length, v);
      break;
    }
    case 9: { // a node taken out and put back at the end (a move)
      const dead = nodes.filter((n) => n.outputs.every((o) => !o.hasUses() && !o.isGraphOutput));
      const n = pick(dead, s.a);
      if (!n) break;
      g.remove(n);
      g.append(n);
      break;
    }
  }
}

function insideAny(node: Node, set: readonly Node[]): boolean {
  for (let gr = node.graph; gr; gr = gr.outer) for (const h of set) if (h.subgraphs().includes(gr)) return true;
  return false;
}

describe('random mutation sequences keep use-def invariants', () => {
  test('after every step: uses recomputed from scratch match, names resolve, verify is clean; the result round-trips', () => {
    fc.assert(
      fc.property(modelRecipe, fc.array(step, { minLength: 1, maxLength: 25 }), (recipe, steps) => {
        const m = buildModel(recipe);
        const t = new Tracker();
        t.scan(m);
        checkUses(m, t);
        const counter = { n: 0 };
        for (const s of steps) {
          apply(m, s, t, counter);
          checkUses(m, t);
          expect(verify(m)).toEqual([]);
        }
        const back = decodeModel(encodeModel(m));
        expect(dumpModel(back)).toEqual(dumpModel(m));
      }),
      { numRuns: 200 },
    );
  });
});
