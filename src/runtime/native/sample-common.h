// OP_SAMPLE definitions shared by the CUDA kernel (sample.cuh) and the CPU emulator (emu-sample.h), so that both
// compute the same weights and draw the same random numbers.
//
// Definition (the same as sampleToken in src/runtime/sampling.ts, in exact integer arithmetic where it can be):
//   temperature <= 0, top_k == 1, a row whose maximum is not finite, or one column: argmax (first maximal index).
//   Otherwise the weight of column j is w_j = round(expf((x_j - max) / temperature) * 2^40), a 40-bit fixed-point
//   number (the maximum weighs exactly 2^40; weights below 2^-41 of the maximum round to 0 and are never drawn).
//   Order: descending logit, ties by ascending index (a stable sort, as sampleToken's).
//   top_k (0 = off): keep the first top_k columns of that order.
//   top_p (>= 1 = off): with Z the kept mass, keep the shortest prefix of that order whose mass reaches
//   ceil(top_p * Z) (computed in double).
//   Draw: h = hash(seed, step, row) (splitmix64 finalisers, below), r = floor(h * Z_kept / 2^64), and the token is
//   the kept column where the running kept mass, in ascending index order, first exceeds r.
// The RNG state is four uint64 words in device memory: seed, step, blocks done, spare. A launch reads the step;
// the last block of the launch to finish writes step + 1 (and resets the block count), so a CUDA graph replayed
// draws new numbers each step, and a run that starts from the same state repeats exactly.
// Limits: vocabulary < 2^23 (the kept mass, at most vocab * 2^40, must fit 64 bits); top_k any value.
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>

#ifdef __CUDACC__
#define ONNXL_SAMPLE_HD __host__ __device__ __forceinline__
#else
#define ONNXL_SAMPLE_HD inline
#endif

namespace onnxl {
namespace sample {

constexpr int STATE_WORDS = 4;           // seed, step, blocks done, spare
constexpr long long MAX_VOCAB = 1LL << 23;

ONNXL_SAMPLE_HD uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// 64 random bits for (seed, step, row): counter-based, no state but the step.
ONNXL_SAMPLE_HD uint64_t hash3(uint64_t seed, uint64_t step, uint64_t row) { return mix64(mix64(mix64(seed) ^ step) ^ row); }

// floor(h * z / 2^64): a uniform integer in [0, z).
ONNXL_SAMPLE_HD uint64_t mulHi(uint64_t h, uint64_t z) {
#ifdef __CUDA_ARCH__
  return __umul64hi(h, z);
#else
  return (uint64_t)(((unsigned __int128)h * z) >> 64);
#endif
}

ONNXL_SAMPLE_HD uint32_t floatBits(float x) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(x);
#else
  uint32_t b; std::memcpy(&b, &x, 4); return b;
#endif
}
ONNXL_SAMPLE_HD float bitsFloat(uint32_t b) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(b);
#else
  float x; std::memcpy(&x, &b, 4); return x;
#endif
}
// Order-preserving key: a larger float has a larger key; NaN sorts below everything.
ONNXL_SAMPLE_HD uint32_t keyOf(float x) {
  if (x != x) return 0u;
  uint32_t b = floatBits(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
ONNXL_SAMPLE_HD float keyFloat(uint32_t k) { return bitsFloat((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }

// 40-bit fixed-point weight of logit x under max m and temperature t (> 0).
ONNXL_SAMPLE_HD uint64_t weightOf(float x, float m, float t) {
  float e = expf((x - m) / t);
  if (!(e > 0.f)) return 0;  // 0, or NaN
  return (uint64_t)llrintf(e * 1099511627776.0f);
}

// The top-p mass target: ceil(p * z), at least 1 and at most z.
ONNXL_SAMPLE_HD uint64_t massTarget(double p, uint64_t z) {
  double t = ceil(p * (double)z);
  if (!(t >= 1.0)) return 1;
  if (t >= (double)z) return z;
  return (uint64_t)t;
}

}  // namespace sample
}  // namespace onnxl
