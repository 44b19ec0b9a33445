/** IEEE half and bfloat16 conversions (Node 20 has no Float16Array). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half bits → float by arithmetic: the definition `halfToFloat`'s table is built from (and tested against). */
export function halfToFloatSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * All 65,536 half values decoded once (256 KB, built at load in about a millisecond): decoding is a lookup,
 * which is what makes fp16 constant folding and RoPE tabulation cheap. Written only here, read-only after.
 */
const HALF_TO_FLOAT: Float32Array = (() => {
  const t = new Float32Array(65536);
  const bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    // Normal numbers by their float32 bits (exponent rebiased 15 → 127, fraction widened); the rest (zeros,
    // subnormals, infinities, NaNs: 4,096 values) by the definition. The test compares all 65,536.
    if (exp !== 0 && exp !== 31) bits[h] = ((h & 0x8000) << 16) | ((exp + 112) << 23) | ((h & 0x3ff) << 13);
    else t[h] = halfToFloatSlow(h);
  }
  return t;
})();

/** Half bits (the low 16 bits of `h`) → float, exactly. */
export function halfToFloat(h: number): number {
  return HALF_TO_FLOAT[h & 0xffff];
}

/** Round-to-nearest-even float32 → half bits. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  return floatBitsToHalf(u32[0]);
}

/**
 * Round-to-nearest-even float32 (given by its bits) → half bits. Normal results by integer arithmetic on the
 * bits (rebias the exponent, add the rounding bias 0xfff plus the odd bit, shift: a carry rounds up into the
 * exponent, up to infinity); subnormal results, infinities and NaN (quiet, sign kept) as `floatToHalfSlow`.
 */
export function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x47800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00); // ≥ 65536, inf, NaN
  if (abs >= 0x38800000) return sign | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13); // ≥ 2^-14
  return floatBitsToHalfSlow(x);
}

/** The definition, field by field (kept as the reference the fast path is tested against, and for subnormals). */
export function floatBitsToHalfSlow(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** float32 values → half bits (element by element, through the values' bits: no per-element scratch round trip). */
export function floatsToHalves(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = floatBitsToHalf(bits[i]);
}

/** Rounds float32 values in place to the nearest half (`halfToFloat(floatToHalf(x))` for each). */
export function roundFloatsToHalf(values: Float32Array): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) values[i] = HALF_TO_FLOAT[floatBitsToHalf(bits[i])];
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Round-to-nearest-even float32 → bfloat16 bits. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40;
  const rounding = 0x7fff + ((x >>> 16) & 1);
  return ((x + rounding) >>> 16) & 0xffff;
}
