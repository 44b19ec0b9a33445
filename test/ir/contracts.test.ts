/** DESIGN.md's IR contracts: value identity, use lists, all-or-nothing removal, node list, name authority. */
import { Attribute, DataType, Graph, Node, tensor, tensorType, Value, verify } from '../../src/ir';
import { decodeModel, encodeModel } from '../../src/ir/serde';
import { dumpModel } from '../helpers/model-dump';
import { chain, expectError, floatInput, ifNode, newModel, useKeys } from './ir-util';

describe('values have identity; the name is an attribute', () => {
  test('renaming keeps the object every user holds, and the file follows the new name', () => {
    const { m, neg, relu } = chain();
    const a = neg.output;
    a.name = 'renamed';
    expect(relu.inputs[0]).toBe(a);
    expect(m.graph.names.lookup('renamed')).toBe(a);
    expect(m.graph.names.has('a')).toBe(false);
    const back = decodeModel(encodeModel(m));
    const reluBack = back.graph.nodes.toArray()[1];
    expect(reluBack.inputs[0]?.name).toBe('renamed');
    expect(reluBack.inputs[0]).toBe(back.graph.nodes.first?.outputs[0]);
  });

  test('producer links: node outputs know their node and index; inputs and initializers have none', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const w = g.addInitializer('w', tensor.float32([4], [1, 2, 3, 4]));
    const split = g.add({ op: 'Split', name: 'split', inputs: [x], outputs: ['s0', 's1'] });
    expect(split.outputs.map((o) => [o.producer, o.outputIndex])).toEqual([[split, 0], [split, 1]]);
    expect(x.producer).toBeNull();
    expect(w.producer).toBeNull();
    expect(w.isInitializer).toBe(true);
    expect(x.isGraphInput).toBe(true);
    expect(w.graph).toBe(g);
    expect(() => split.output).toThrow(/has 2 outputs/);
  });

  test('a value produced by a node cannot also become a graph input', () => {
    const { g, neg } = chain();
    expectError(() => g.addInput(neg.output), 'IR_FOREIGN_VALUE');
    expectError(() => g.addInput(g.inputs[0]), 'IR_NAME_CLASH');
  });
});

describe('use lists are kept by the IR', () => {
  test('replaceInput moves the use from the old value to the new one', () => {
    const { m, x, neg, relu } = chain();
    expect(useKeys(x)).toEqual(['neg:0']);
    relu.replaceInput(0, x);
    expect(useKeys(x)).toEqual(['neg:0', 'relu:0']);
    expect(neg.output.hasUses()).toBe(false);
    relu.replaceInput(0, null);
    expect(useKeys(x)).toEqual(['neg:0']);
    expect(() => relu.replaceInput(3, x)).toThrow(/has no input 3/);
    expect(verify(m)).toEqual([]);
  });

  test('a value used twice by one node has two uses; truncateInputs drops the trailing one', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const add = g.add({ op: 'Add', name: 'add', inputs: [x, x] });
    expect(useKeys(x)).toEqual(['add:0', 'add:1']);
    expect(x.useCount).toBe(2);
    expect(x.consumers()).toEqual([add]);
    add.truncateInputs(1);
    expect(useKeys(x)).toEqual(['add:0']);
    add.appendInput(x);
    expect(useKeys(x)).toEqual(['add:0', 'add:1']);
  });

  test('uses() is a snapshot: rewiring while iterating it visits every original use once', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const y = floatInput(g, 'y');
    const users = [0, 1, 2, 3].map((i) => g.add({ op: 'Neg', name: `n${i}`, inputs: [x] }));
    const seen: string[] = [];
    for (const u of x.uses()) {
      seen.push(u.node.name);
      u.node.replaceInput(u.index, y);
    }
    expect(seen).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(x.hasUses()).toBe(false);
    expect(y.consumers()).toEqual(users);
  });

  test('replaceAllUsesWith rewires node uses (also inside subgraphs) but not graph outputs unless asked', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const y = floatInput(g, 'y');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const neg = g.add({ op: 'Neg', name: 'neg', inputs: [x], outputs: ['a'] });
    const { node: iff } = ifNode(g, cond, [neg.output, neg.output]);
    const relu = g.add({ op: 'Relu', name: 'relu', inputs: [neg.output] });
    g.addOutput(neg.output);
    g.addOutput(iff.output);
    g.addOutput(relu.output);
    expect(useKeys(neg.output)).toEqual(['if_else_id:0', 'if_then_neg:0', 'relu:0']);

    neg.output.replaceAllUsesWith(y);
    expect(neg.output.hasUses()).toBe(false);
    expect(useKeys(y)).toEqual(['if_else_id:0', 'if_then_neg:0', 'relu:0']);
    expect(g.outputs[0]).toBe(neg.output); // the interface did not change silently
    expect(neg.output.isGraphOutput).toBe(true);

    neg.output.replaceAllUsesWith(x, { replaceGraphOutputs: true });
    expect(g.outputs[0]).toBe(x);
    expect(neg.output.isGraphOutput).toBe(false);
    expect(x.isGraphOutput).toBe(true);
    expect(verify(m)).toEqual([]);
  });

  test('replaceAllUsesWith can spare the node that consumes the old value (insert-after pattern)', () => {
    const { m, g, neg, relu } = chain();
    const a = neg.output;
    const clip = new Node({ op: 'Relu', name: 'guard', inputs: [a], outputs: ['a_guarded'] });
    g.insertAfter(neg, clip);
    a.replaceAllUsesWith(clip.output, { except: [clip] });
    expect(clip.inputs[0]).toBe(a);
    expect(relu.inputs[0]).toBe(clip.output);
    expect(useKeys(a)).toEqual(['guard:0']);
    expect(verify(m)).toEqual([]);
  });

  test('a node records uses only while it is in a graph', () => {
    const { m, g, x } = chain();
    const loose = new Node({ op: 'Neg', name: 'loose', inputs: [x] });
    expect(useKeys(x)).toEqual(['neg:0']);
    expect(loose.isAttached).toBe(false);
    g.append(loose);
    expect(useKeys(x)).toEqual(['loose:0', 'neg:0']);
    g.remove(loose);
    expect(useKeys(x)).toEqual(['neg:0']);
    expect(verify(m)).toEqual([]);
  });
});

describe('graph.remove is all or nothing', () => {
  test('refuses a node whose output is still used; nothing changes', () => {
    const { m, g, neg, relu } = chain();
    const before = dumpModel(m);
    const e = expectError(() => g.remove([relu, neg]), 'IR_IN_USE');
    expect(e.message).toMatch(/'b' is used by 'exp'/);
    expect(dumpModel(m)).toEqual(before);
    expect(g.nodes.toArray()).toHaveLength(3);
    expect(useKeys(neg.output)).toEqual(['relu:0']);
    expect(verify(m)).toEqual([]);
  });

  test('refuses a node whose output is a graph output', () => {
    const { m, g, exp } = chain();
    const before = dumpModel(m);
    const e = expectError(() => g.remove(exp), 'IR_IN_USE');
    expect(e.message).toMatch(/graph output/);
    expect(dumpModel(m)).toEqual(before);
  });

  test('refuses a node of another graph before touching any node', () => {
    const { m, g, x } = chain();
    const dead = g.add({ op: 'Neg', name: 'dead', inputs: [x] }); // removable on its own
    const other = newModel().graph;
    const foreign = other.add({ op: 'Neg', name: 'foreign', inputs: [floatInput(other, 'z')] });
    const before = dumpModel(m);
    expectError(() => g.remove([dead, foreign]), 'IR_NOT_IN_GRAPH');
    expect(dumpModel(m)).toEqual(before);
    expect(dead.graph).toBe(g);
    g.remove(dead);
    expect(verify(m)).toEqual([]);
  });

  test('removes a set whose outputs are used only inside the set, dropping its uses and names', () => {
    const { m, g, x, neg, relu, exp } = chain();
    g.setOutputs([x]);
    g.remove([exp, neg, relu]);
    expect(g.nodes.size).toBe(0);
    expect(x.hasUses()).toBe(false);
    expect(g.names.has('a')).toBe(false);
    expect([neg, relu, exp].map((n) => n.graph)).toEqual([null, null, null]);
    expect(verify(m)).toEqual([]);
    // A removed node can come back; it is a user again.
    g.append(neg);
    expect(useKeys(x)).toEqual(['neg:0']);
    expect(g.names.lookup('a')).toBe(neg.output);
  });

  test('removing an If drops the uses its branches made of outer values, and frees their names', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const { node: iff } = ifNode(g, cond, [x, x]);
    g.addOutput(x);
    expect(useKeys(x)).toEqual(['if_else_id:0', 'if_then_neg:0']);
    g.remove(iff);
    expect(x.hasUses()).toBe(false);
    expect(cond.hasUses()).toBe(false);
    expect(g.names.has('if_t')).toBe(false);
    expect(verify(m)).toEqual([]);
    // Now x itself can go (it could not while the dead branches still held it).
    g.setOutputs([cond]);
    g.removeInput(x);
    // Re-inserting the If restores the branch uses.
    const y = floatInput(g, 'y');
    g.append(iff);
    expect(g.names.lookup('if_t')).toBe(iff.subgraphs()[0].outputs[0]);
    expect(x.hasUses()).toBe(true); // the branches still point at x, which verify reports as dangling
    expect(verify(m).join('\n')).toMatch(/uses 'x'.*dangling/);
    x.replaceAllUsesWith(y);
    expect(verify(m)).toEqual([]);
  });

  test('replacing a subgraph attribute retires the old branch', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const y = floatInput(g, 'y');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const { node: iff } = ifNode(g, cond, [x, x]);
    g.addOutput(iff.output);
    const fresh = new Graph('then2', g);
    fresh.addOutput(fresh.add({ op: 'Neg', name: 'then2_neg', inputs: [y] }).output);
    iff.setAttr(Attribute.graph('then_branch', fresh));
    expect(useKeys(x)).toEqual(['if_else_id:0']);
    expect(useKeys(y)).toEqual(['then2_neg:0']);
    expect(g.names.has('if_t')).toBe(false);
    expect(verify(m)).toEqual([]);
    expect(iff.removeAttr('else_branch')).toBe(true);
    expect(x.hasUses()).toBe(false);
  });

  test('swapping two branches keeps both in the model', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const y = floatInput(g, 'y');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const { node: iff, thenG, elseG } = ifNode(g, cond, [x, y]);
    g.addOutput(iff.output);
    iff.setAttr(Attribute.graph('then_branch', elseG));
    iff.setAttr(Attribute.graph('else_branch', thenG));
    expect(useKeys(x)).toEqual(['if_then_neg:0']);
    expect(useKeys(y)).toEqual(['if_else_id:0']);
    expect(g.names.lookup('if_t')).toBe(thenG.outputs[0]);
    expect(verify(m)).toEqual([]);
  });
});

describe('the node list survives mutation during iteration', () => {
  const names = (g: Graph) => g.nodes.toArray().map((n) => n.name);
  function line(count: number): { g: Graph; nodes: Node[] } {
    const m = newModel();
    const g = m.graph;
    let v: Value = floatInput(g, 'x');
    const nodes: Node[] = [];
    for (let i = 0; i < count; i++) {
      const n = g.add({ op: 'Neg', name: `n${i}`, inputs: [v] });
      nodes.push(n);
      v = n.output;
    }
    return { g, nodes };
  }

  test('removing the current node keeps the walk going', () => {
    const { g, nodes } = line(5);
    const seen: string[] = [];
    for (const n of g) {
      seen.push(n.name);
      if (n.name === 'n1' || n.name === 'n3') {
        // Detach from its consumer first so remove() accepts it.
        for (const u of n.output.uses()) u.node.replaceInput(u.index, n.inputs[0]);
        g.remove(n);
      }
    }
    expect(seen).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect(names(g)).toEqual(['n0', 'n2', 'n4']);
    expect(nodes[1].graph).toBeNull();
  });

  test('removing nodes ahead skips them; nodes inserted ahead are visited; nodes inserted behind are not', () => {
    const { g, nodes } = line(6);
    // Make n3, n4 removable: their outputs feed only each other and n5, so cut n5 loose first.
    nodes[5].replaceInput(0, g.inputs[0]);
    const seen: string[] = [];
    for (const n of g) {
      seen.push(n.name);
      if (n.name === 'n1') {
        g.remove([nodes[3], nodes[4]]);
        g.insertAfter(n, new Node({ op: 'Relu', name: 'ahead', inputs: [n.output] }));
        g.insertBefore(nodes[0], new Node({ op: 'Relu', name: 'behind', inputs: [g.inputs[0]] }));
      }
    }
    expect(seen).toEqual(['n0', 'n1', 'ahead', 'n2', 'n5']);
    expect(names(g)).toEqual(['behind', 'n0', 'n1', 'ahead', 'n2', 'n5']);
  });

  test('a node moved during the walk is seen at its new place; removing everything ends the walk', () => {
    const { g, nodes } = line(4);
    nodes[3].replaceInput(0, g.inputs[0]);
    const seen: string[] = [];
    let moved = false;
    for (const n of g) {
      seen.push(n.name);
      if (n.name === 'n0' && !moved) {
        moved = true;
        g.remove(nodes[3]);
        g.insertAfter(nodes[1], nodes[3]);
      }
    }
    expect(seen).toEqual(['n0', 'n1', 'n3', 'n2']);
    const all: string[] = [];
    for (const n of g) {
      all.push(n.name);
      for (const k of g.nodes.toArray()) for (const u of k.outputs[0].uses()) u.node.replaceInput(u.index, g.inputs[0]);
      g.remove(g.nodes.toArray());
    }
    expect(all).toEqual(['n0']);
    expect(g.nodes.size).toBe(0);
  });

  test('reorder takes a permutation only, and a walk in flight goes on from its node\'s new place', () => {
    const { g, nodes } = line(4);
    expectError(() => g.nodes.reorder([nodes[0], nodes[0], nodes[1], nodes[2]]), 'IR_REORDER');
    expectError(() => g.nodes.reorder(nodes.slice(0, 3)), 'IR_REORDER');
    expect(names(g)).toEqual(['n0', 'n1', 'n2', 'n3']);
    const seen: string[] = [];
    for (const n of g) {
      seen.push(n.name);
      if (n.name === 'n1') g.nodes.reorder([nodes[1], nodes[3], nodes[0], nodes[2]]);
    }
    expect(seen).toEqual(['n0', 'n1', 'n3', 'n0', 'n2']);
    expect(names(g)).toEqual(['n1', 'n3', 'n0', 'n2']);
  });

  test('inserting relative to a node of another graph fails without adopting the new node', () => {
    const { g } = line(2);
    const other = line(1);
    const n = new Node({ op: 'Neg', name: 'stray', inputs: [g.inputs[0]] });
    expectError(() => g.insertBefore(other.nodes[0], n), 'IR_NOT_IN_GRAPH');
    expect(n.graph).toBeNull();
    expect(g.inputs[0].consumers().map((c) => c.name)).toEqual(['n0']);
    expectError(() => g.append(other.nodes[0]), 'IR_NODE_OWNED');
  });
});

describe('the name authority', () => {
  test('gives fresh names to unnamed values and to node outputs whose name is taken', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const a = g.add({ op: 'Neg', inputs: [x] });
    const b = g.add({ op: 'Neg', inputs: [x], outputs: ['x'] }); // 'x' is the input's name
    expect(a.output.name).not.toBe('');
    expect(b.output.name).not.toBe('x');
    expect(new Set([x.name, a.output.name, b.output.name]).size).toBe(3);
    const fresh = g.names.fresh('x');
    expect(g.names.has(fresh)).toBe(false);
    expect(verify(m)).toEqual([]);
  });

  test('refuses clashes where a name must be kept: graph inputs, exact initializers, renames', () => {
    const { g, neg } = chain();
    expectError(() => g.addInput({ name: 'a' }), 'IR_NAME_CLASH');
    expectError(() => g.addInitializer('b', tensor.float32([1], [0]), { exactName: true }), 'IR_NAME_CLASH');
    expectError(() => (neg.output.name = 'x'), 'IR_NAME_CLASH');
    expectError(() => (neg.output.name = ''), 'IR_NAME_EMPTY');
    expect(neg.output.name).toBe('a');
    // A non-exact initializer with a taken name gets a fresh one.
    const w = g.addInitializer('b', tensor.float32([1], [0]));
    expect(w.name).not.toBe('b');
    expect(g.initializers.get(w.name)).toBe(w);
  });

  test('renaming an initializer keeps it registered (and in its place) under the new name', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const w1 = g.addInitializer('w1', tensor.float32([4], [1, 2, 3, 4]));
    const w2 = g.addInitializer('w2', tensor.float32([4], [5, 6, 7, 8]));
    g.addOutput(g.add({ op: 'Add', inputs: [x, w1] }).output);
    g.addOutput(g.add({ op: 'Add', inputs: [x, w2] }).output);
    w1.name = 'weight_one';
    expect(w1.isInitializer).toBe(true);
    expect([...g.initializers.keys()]).toEqual(['weight_one', 'w2']);
    expect(verify(m)).toEqual([]);
    const back = decodeModel(encodeModel(m));
    expect([...back.graph.initializers.keys()]).toEqual(['weight_one', 'w2']);
    expect(verify(back)).toEqual([]);
  });

  test('names freed by removal can be taken; a re-inserted node whose name was taken gets a fresh one', () => {
    const { g, neg, relu } = chain();
    relu.replaceInput(0, g.inputs[0]);
    g.remove(neg);
    const taker = g.add({ op: 'Neg', name: 'taker', inputs: [g.inputs[0]], outputs: ['a'] });
    expect(taker.output.name).toBe('a');
    g.insertBefore(relu, neg);
    expect(neg.output.name).not.toBe('a');
    expect(g.names.lookup(neg.output.name)).toBe(neg.output);
  });

  test('naming an omitted optional output makes the node produce it', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const n = g.add({ op: 'Dropout', name: 'drop', inputs: [x], outputs: ['y', { omitted: true }] });
    expect(n.outputs[1].isOmitted).toBe(true);
    n.outputs[1].name = 'mask';
    expect(n.outputs[1].isOmitted).toBe(false);
    g.addOutput(n.outputs[1]);
    const back = decodeModel(encodeModel(m));
    expect(back.graph.nodes.first?.outputs.map((o) => o.name)).toEqual(['y', 'mask']);
  });
});
