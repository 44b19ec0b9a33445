import { Attribute, Node, Value } from '../../../src/ir';
import {
  anyValue, attr, constant, defineRule, NodeOutputPattern, none, oneOf, optional, patternNodes, PatternError, patternOps,
  rootOps, scalar, v,
} from '../../../src/passes/pattern';

const op = patternOps();

describe('pattern builder', () => {
  it('builds a DAG for any op name through the proxy, with attributes split from inputs', () => {
    const k = v('k');
    const p = op.MatMul(v('x'), op.Transpose(k, { perm: [0, 1, 3, 2] }));
    expect(p).toBeInstanceOf(NodeOutputPattern);
    expect(p.node.op).toBe('MatMul');
    expect(p.node.inputs).toHaveLength(2);
    const t = p.node.inputs[1] as NodeOutputPattern<object, object>;
    expect(t.node.op).toBe('Transpose');
    expect(t.node.inputs[0]).toBe(k);
    expect([...t.node.attributes.keys()]).toEqual(['perm']);
    expect(p.describe()).toBe('MatMul(%x, Transpose(%k, perm=[0, 1, 3, 2]))');
    expect(op.SomeBrandNewOp(v('a')).node.op).toBe('SomeBrandNewOp');
  });

  it('explicit node(): domain, several outputs, node binding', () => {
    const ms = patternOps({ domain: 'com.microsoft' });
    expect(ms.FusedMatMul(v('a'), v('b')).node.qualifiedOp).toBe('com.microsoft::FusedMatMul');
    const [a, b, c] = op.node('Split', [v('x')], { axis: 0 }, { outputs: 3 });
    expect([a.index, b.index, c.index]).toEqual([0, 1, 2]);
    expect(a.node).toBe(c.node);
    expect(a.describe()).toBe('Split(%x, axis=0)[0]');
    const one = op.node('Attention', [v('q'), v('k'), v('v')], {}, { domain: 'ai.onnx', as: 'att' });
    expect(one.node.domain).toBe('');
    expect(one.node.bindAs).toBe('att');
    expect(() => op.node('Split', [v('x')], {}, { outputs: 0 })).toThrow(PatternError);
  });

  it('number literals become near-equal scalar constants, null an omitted input', () => {
    const p = op.Clip(v('x'), null, 6);
    expect(p.node.inputs[1].describe()).toBe('none');
    expect(p.node.inputs[2].describe()).toBe('scalar(≈6)');
    expect(none().kind).toBe('none');
  });

  it('reports root ops through optional, oneOf and constrained variables', () => {
    expect(rootOps(op.Add(v('a'), v('b')))).toEqual(new Set(['Add']));
    expect(rootOps(oneOf(op.Div(v('a'), 2), op.Mul(v('a'), 0.5)))).toEqual(new Set(['Div', 'Mul']));
    expect(rootOps(optional(op.Cast(op.Relu(v('a')))))).toEqual(new Set(['Cast', 'Relu']));
    expect(rootOps(optional(op.Cast(v('a'))))).toBeNull();
    expect(rootOps(v('y', op.Exp(v('a'))))).toEqual(new Set(['Exp']));
    expect(rootOps(v('a'))).toBeNull();
    const shared = op.Mul(v('a'), v('b'));
    expect(patternNodes([op.Add(shared, shared), op.Sub(shared, anyValue())]).map((n) => n.op).sort()).toEqual(['Add', 'Mul', 'Sub']);
  });

  it('rejects malformed patterns with typed errors', () => {
    expect(() => v('')).toThrow(PatternError);
    expect(() => oneOf()).toThrow(PatternError);
    expect(() => optional(op.RandomNormal())).toThrow(PatternError);
    expect(() => defineRule({ name: 'var_root', pattern: v('x'), rewrite: (_b, m) => m.x })).toThrow(/must be produced by a node pattern/);
    expect(() => defineRule({ name: '', pattern: op.Relu(v('x')), rewrite: (_b, m) => m.x })).toThrow(PatternError);
  });

  it('types bindings by variable, capture and node names', () => {
    const p = op.node('Softmax', [v('x', op.Add(v('a'), constant()))], { axis: attr.capture('axis') }, { as: 'sm' });
    const rule = defineRule({
      name: 'typed',
      pattern: [p, op.Relu(v('a'))],
      rewrite(b, m) {
        const x: Value = m.x;
        const a: Value = m.a;
        const axis: Attribute = m.axis;
        const sm: Node = m.sm;
        // @ts-expect-error: 'nope' is not bound by the pattern
        void m.nope;
        return [b.op('Softmax', [x], { axis }), b.op('Relu', [a]), sm.outputs[0]][0] as Value;
      },
    });
    expect(rule.outputs).toHaveLength(2);
    expect(rule.patternSize).toBe(3);
    const opt = optional(op.Cast(v('raw'), { to: attr.capture('to') }));
    const typedOpt = defineRule({
      name: 'opt', pattern: op.Relu(opt), rewrite(_b, m) {
        const raw: Value = m.raw; // input 0 of the optional node: always bound
        const to: Attribute | undefined = m.to; // only bound when the Cast is present
        // @ts-expect-error: 'to' may be absent, so it is not an Attribute
        const bad: Attribute = m.to;
        void bad;
        void to;
        return raw;
      },
    });
    expect(typedOpt.rootOps).toEqual(new Set(['Relu']));
    const alt = oneOf(op.Div(v('x'), scalar()), op.Mul(v('x'), v('c', scalar())));
    defineRule({
      name: 'alt', pattern: op.Exp(alt), rewrite(_b, m) {
        const x: Value = m.x; // bound by every alternative
        // @ts-expect-error: 'c' only exists in one alternative
        const c: Value = m.c;
        void c;
        return x;
      },
    });
  });
});
