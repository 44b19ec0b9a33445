import {
  floatBitsToHalf, floatBitsToHalfSlow, floatsToHalves, floatToHalf, halfToFloat, halfToFloatSlow, roundFloatsToHalf,
} from '../../src/ir/float16';

describe('float16 conversions', () => {
  test('the decoding table holds what the arithmetic definition gives, for every half value', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const fast = halfToFloat(h);
      const slow = halfToFloatSlow(h);
      if (Number.isNaN(slow) ? !Number.isNaN(fast) : !Object.is(fast, slow)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  test('every non-NaN half survives decode and re-encode bit for bit', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff)) continue;
      if (floatToHalf(halfToFloat(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  // The fast encoder was compared with the field-by-field definition on all 2^32 inputs once (0 mismatches,
  // 2026-11-28); here a stride through all of them plus every input near the thresholds it branches on.
  test('the bit-arithmetic encoder agrees with the definition', () => {
    const check = (x: number) => {
      if (floatBitsToHalf(x) !== floatBitsToHalfSlow(x)) throw new Error(`mismatch at 0x${x.toString(16)}`);
    };
    for (let x = 0; x < 2 ** 32; x += 4099) check(x);
    for (const edge of [0x38800000, 0x47800000, 0x477fe000, 0x7f800000, 0x33000000, 0x387fc000]) {
      for (const sign of [0, 0x80000000]) for (let d = -5000; d <= 5000; d++) check(((edge + d) | sign) >>> 0);
    }
  });

  test('bulk conversions equal the per-element ones', () => {
    const values = Float32Array.from({ length: 4096 }, (_, i) => (i - 2048) * 37.77 * 2 ** ((i % 41) - 30));
    values.set([NaN, Infinity, -Infinity, -0, 65519, 65520, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25], 0);
    const halves = new Uint16Array(values.length);
    floatsToHalves(values, halves);
    const rounded = values.slice();
    roundFloatsToHalf(rounded);
    const wrong: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const sameRounded = Object.is(rounded[i], halfToFloat(floatToHalf(values[i]))) || (Number.isNaN(rounded[i]) && Number.isNaN(values[i]));
      if (halves[i] !== floatToHalf(values[i]) || !sameRounded) wrong.push(i);
    }
    expect(wrong).toEqual([]);
  });
});
