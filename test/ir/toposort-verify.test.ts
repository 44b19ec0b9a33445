/** Stable iterative topological sort and `verify` listing every violation by name. */
import { Attribute, DataType, Graph, Model, Node, tensor, tensorType, topologicalOrder, topologicalSort, Value, verify, VerifyError, assertValid } from '../../src/ir';
import { expectError, floatInput, ifNode, newModel } from './ir-util';

const names = (nodes: Iterable<Node>) => [...nodes].map((n) => n.name);

describe('topological sort', () => {
  test('an already sorted graph keeps its order exactly (independent nodes are not shuffled)', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    // Independent branches interleaved on purpose: a sort that is not stable would regroup them.
    const b1 = g.add({ op: 'Neg', name: 'b1', inputs: [x] });
    const c1 = g.add({ op: 'Relu', name: 'c1', inputs: [x] });
    const b2 = g.add({ op: 'Neg', name: 'b2', inputs: [b1.output] });
    const c2 = g.add({ op: 'Relu', name: 'c2', inputs: [c1.output] });
    g.add({ op: 'Add', name: 'join', inputs: [b2.output, c2.output] });
    const before = names(g);
    expect(names(topologicalOrder(g))).toEqual(before);
    topologicalSort(g);
    expect(names(g)).toEqual(before);
  });

  test('a scrambled graph gets the order closest to the original (earliest ready node first)', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const a = new Node({ op: 'Neg', name: 'a', inputs: [x] });
    const b = new Node({ op: 'Neg', name: 'b', inputs: [a.output] });
    const c = new Node({ op: 'Relu', name: 'c', inputs: [x] });
    const d = new Node({ op: 'Add', name: 'd', inputs: [b.output, c.output] });
    for (const n of [d, b, c, a]) g.append(n);
    g.addOutput(d.output);
    expect(verify(m).join('\n')).toMatch(/not in topological order/);
    topologicalSort(g);
    // c (position 2) is ready before a (3), b waits for a: c, a, b, d.
    expect(names(g)).toEqual(['c', 'a', 'b', 'd']);
    expect(verify(m)).toEqual([]);
  });

  test('a node whose subgraph uses an outer value is ordered after that value\'s producer', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const p = new Node({ op: 'Neg', name: 'p', inputs: [x] });
    const { node: iff } = ifNode(g, cond, [x, x]);
    iff.subgraphs()[0].nodes.first!.replaceInput(0, p.output); // the If uses p only from inside
    g.insertBefore(iff, new Node({ op: 'Relu', name: 'first', inputs: [x] }));
    g.append(p);
    g.addOutput(iff.output);
    topologicalSort(g);
    expect(names(g)).toEqual(['first', 'p', 'if']);
    expect(verify(m)).toEqual([]);
  });

  test('a cycle is refused, naming nodes on it', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const a = g.add({ op: 'Add', name: 'cyc_a', inputs: [x, x] });
    const b = g.add({ op: 'Neg', name: 'cyc_b', inputs: [a.output] });
    a.replaceInput(1, b.output);
    const e = expectError(() => topologicalSort(g), 'IR_CYCLE');
    expect(e.message).toMatch(/cyc_a/);
    expect(names(g)).toEqual(['cyc_a', 'cyc_b']); // untouched
  });

  test('a 1,000,000-node chain built in reverse order sorts without recursion', () => {
    const N = 1_000_000;
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    // Create the chain, then insert it last-first, so every node comes before its producer. (Unnamed: the
    // name authority names the values as they are inserted; the cost here is allocation, not the sort.)
    const nodes: Node[] = new Array(N);
    let v: Value = x;
    for (let i = 0; i < N; i++) {
      const n = new Node({ op: 'Neg', inputs: [v] });
      nodes[i] = n;
      v = n.outputs[0];
    }
    for (let i = N - 1; i >= 0; i--) g.append(nodes[i]);
    expect(g.nodes.first).toBe(nodes[N - 1]);
    topologicalSort(g);
    let i = 0;
    let ok = true;
    for (const n of g) if (n !== nodes[i++]) ok = false;
    expect(ok).toBe(true);
    expect(i).toBe(N);
    expect(x.consumers()).toEqual([nodes[0]]);
    const lastValue = nodes[N - 1].outputs[0];
    expect(g.names.lookup(lastValue.name)).toBe(lastValue); // the authority named every value as it came in
  }, 60_000);
});

describe('verify lists every violation, naming nodes and values', () => {
  test('a clean model has none; assertValid passes', () => {
    const m = newModel();
    const g = m.graph;
    g.addOutput(g.add({ op: 'Neg', name: 'n', inputs: [floatInput(g, 'x')] }).output);
    expect(verify(m)).toEqual([]);
    expect(() => assertValid(m)).not.toThrow();
  });

  test('SSA, order, dangling values, opset imports and initializer types, all in one report', () => {
    const m = new Model(new Graph('main'));
    m.opsetImports.set('', 18); // but not 'com.example'
    const g = m.graph;
    const x = floatInput(g, 'x');
    // Wrong order: 'early' uses 'late_v' before 'late' produces it.
    const late = new Node({ op: 'Neg', name: 'late', inputs: [x], outputs: ['late_v'] });
    g.add({ op: 'Relu', name: 'early', inputs: [late.output] });
    g.append(late);
    // Dangling: 'orphan_user' uses the output of a node that was never inserted.
    const never = new Node({ op: 'Neg', name: 'never', inputs: [x], outputs: ['ghost'] });
    g.add({ op: 'Relu', name: 'orphan_user', inputs: [never.output] });
    // Dangling: a value with no producer that is neither input nor initializer.
    g.add({ op: 'Relu', name: 'stray_user', inputs: [new Value('stray')] });
    // Missing opset import for a custom domain.
    g.add({ op: 'Custom', domain: 'com.example', name: 'custom', inputs: [x] });
    // Initializer type mismatch: declared INT32 [3], holds FLOAT [4].
    const w = g.addInitializer('w', tensor.float32([4], [1, 2, 3, 4]));
    w.type = tensorType(DataType.INT32, [3]);
    g.add({ op: 'Add', name: 'use_w', inputs: [x, w] });
    // SSA: a subgraph with its own name authority defines 'late_v' again.
    const cond = g.addInput({ name: 'cond', type: tensorType(DataType.BOOL, []) });
    const loose = new Graph('loose');
    loose.addOutput(loose.add({ op: 'Neg', name: 'dup', inputs: [x], outputs: ['late_v'] }).output);
    const elseG = new Graph('else', g);
    elseG.addOutput(x);
    g.add({ op: 'If', name: 'if', inputs: [cond], attributes: [Attribute.graph('then_branch', loose), Attribute.graph('else_branch', elseG)] });
    g.addOutput(late.output);

    const problems = verify(m);
    const text = problems.join('\n');
    expect(text).toMatch(/node 'early' \(Relu\) input 0 uses 'late_v' before it is produced by 'late' \(Neg\) \(not in topological order\)/);
    expect(text).toMatch(/node 'orphan_user' \(Relu\) input 0 uses 'ghost', produced by removed node 'never' \(Neg\) \(dangling\)/);
    expect(text).toMatch(/node 'stray_user' \(Relu\) input 0 uses 'stray', which has no producer \(dangling\)/);
    expect(text).toMatch(/node 'custom' \(com.example::Custom\) uses domain 'com.example' which has no opset import/);
    expect(text).toMatch(/initializer 'w' is declared INT32 but holds FLOAT/);
    expect(text).toMatch(/initializer 'w' is declared \[3\] but holds \[4\]/);
    expect(text).toMatch(/value 'late_v' is defined twice \(node 'late' \(Neg\) and node 'dup' \(Neg\)\) — SSA violated/);
    expect(text).toMatch(/subgraph 'loose' of node 'if' \(If\) was made for no outer graph/);
    expect(problems).toHaveLength(8);

    let err: unknown;
    try {
      assertValid(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifyError);
    expect((err as VerifyError).violations).toEqual(problems);
  });

  test('use lists that disagree with node inputs are reported', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const n = g.add({ op: 'Neg', name: 'n', inputs: [x] });
    g.addOutput(n.output);
    x._removeUse(n, 0); // simulate a bug in a mutation primitive
    expect(verify(m)).toEqual([`use list of 'x' misses node 'n' (Neg) input 0`]);
    x._addUse(n, 0);
    x._addUse(n, 5);
    expect(verify(m)).toEqual([`use list of 'x' names node 'n' (Neg) input 5, which holds something else`]);
  });

  test('an omitted optional output that is used is reported', () => {
    const m = newModel();
    const g = m.graph;
    const x = floatInput(g, 'x');
    const drop = g.add({ op: 'Dropout', name: 'drop', inputs: [x], outputs: ['y', { omitted: true }] });
    g.addOutput(g.add({ op: 'Neg', name: 'user', inputs: [drop.outputs[1]] }).output);
    expect(verify(m).join('\n')).toMatch(/output 1 of node 'drop' \(Dropout\) is omitted \(not produced\) but used/);
  });
});
