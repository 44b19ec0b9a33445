import { Attribute, DataType, tensor } from '../../../src/ir';
import { constantNumbers, constantOf, scalarOf } from '../../../src/passes/pattern';
import { draw, input, newModel } from './graphs';

describe('constantOf', () => {
  it('reads initializers and every numeric Constant attribute form', () => {
    const g = newModel().graph;
    const b = draw(g);
    const init = g.addInitializer('w', tensor.int64([2], [3, -4]));
    expect(constantOf(init)?.dtype).toBe(DataType.INT64);
    expect(constantNumbers(init)).toEqual([3, -4]);
    expect(scalarOf(init)).toBeUndefined(); // two elements
    const forms: [Attribute, number[], DataType][] = [
      [Attribute.tensor('value', tensor.float32([1, 1], [0.25])), [0.25], DataType.FLOAT],
      [Attribute.float('value_float', 1.5), [1.5], DataType.FLOAT],
      [Attribute.int('value_int', 7), [7], DataType.INT64],
      [Attribute.floats('value_floats', [1.5, 2.5]), [1.5, 2.5], DataType.FLOAT],
      [Attribute.ints('value_ints', [1, 2, 3]), [1, 2, 3], DataType.INT64],
    ];
    for (const [a, nums, dtype] of forms) {
      const out = b.op('Constant', [], { [a.name]: a });
      const c = constantOf(out);
      expect(c?.numbers()).toEqual(nums);
      expect(c?.dtype).toBe(dtype);
      expect(c?.producer).toBe(out.producer);
    }
    expect(scalarOf(b.op('Constant', [], { value: tensor.float32([1, 1], [0.25]) }))).toBe(0.25);
  });

  it('is undefined for computed values, graph inputs (even with a default) and string constants', () => {
    const g = newModel().graph;
    const b = draw(g);
    const x = input(g, 'x', [1]);
    expect(constantOf(x)).toBeUndefined();
    g.setInitializerOf(x, tensor.float32([1], [1]));
    expect(constantOf(x)).toBeUndefined();
    expect(constantOf(b.op('Relu', [x]))).toBeUndefined();
    expect(constantOf(b.op('Constant', [], { value_string: 'hi' }))).toBeUndefined();
    expect(constantOf(null)).toBeUndefined();
  });
});
