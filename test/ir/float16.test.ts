import { floatToHalf, halfToFloat, halfToFloatSlow } from '../../src/ir/float16';

describe('float16 conversions', () => {
  test('the decoding table holds what the arithmetic definition gives, for every half value', () => {
    for (let h = 0; h < 65536; h++) {
      const fast = halfToFloat(h);
      const slow = halfToFloatSlow(h);
      if (Number.isNaN(slow)) expect(fast).toBeNaN();
      else expect(Object.is(fast, slow)).toBe(true);
    }
  });

  test('every non-NaN half survives decode and re-encode bit for bit', () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff)) continue;
      expect(floatToHalf(halfToFloat(h))).toBe(h);
    }
  });
});
