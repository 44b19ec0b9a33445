// OP_SAMPLE on the device: temperature / top-k / top-p sampling, one block of 1024 threads per row of logits.
// The definition (weights, order, RNG, limits) is in sample-common.h; the emulator's version is emu-sample.h.
// Included by kernels.cu inside its anonymous namespace (uses toF, pdlWait/pdlTrigger, launchK, LAUNCH_FLOAT_T).
//
// Algorithm, all in exact integer arithmetic after the weights:
//   1. block argmax and max m (one pass); greedy cases stop here.
//   2. top_k: radix select of the top_k-th largest key (order-preserving uint32 keys of the logits, 8-bit digits,
//      4 passes, counting histogram); ties at the threshold are cut by index (locate, below) when needed.
//   3. top_p: radix select on the same keys with a mass histogram (sum of fixed-point weights of the kept columns
//      per digit): the key where the descending cumulative mass reaches ceil(top_p * Z); the first pass's total
//      is Z. Equal keys have equal weights, so the number of threshold columns needed is a division.
//   4. draw: r = floor(hash * Z_kept / 2^64), then `locate`: the column where the running kept mass in index
//      order exceeds r (each thread sums a contiguous chunk, one block scan picks the chunk, repeated on it).
// Histograms are 4 copies (warp % 4) of 256 uint64 bins in shared memory; a warp first merges lanes that hit the
// same bin (__match_any_sync + __reduce_add_sync), so the few busy bins of the leading digit do not serialise.
// Every pass re-reads the row (it stays in L2) and recomputes weights; about 10 passes with top-k and top-p.
// kernels.cu includes sample-common.h at its top.
#pragma once

constexpr int SAMPLE_THREADS = 1024;
constexpr int SAMPLE_HCOPIES = 4;

struct SampleSmem {
  unsigned long long hist[SAMPLE_HCOPIES][256];
  unsigned long long warpv[32];
  float wmax[32];
  long long widx[32];
  unsigned long long seed, step;
  // radix-select results
  unsigned selBin;
  unsigned long long selAbove, selEq, total, target;
  // locate results
  long long locLo, locHi;
  unsigned long long locR;
};

__device__ __forceinline__ unsigned long long sampleWarpSum(unsigned long long v) {
  for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Block-wide sum; every thread gets it.
__device__ unsigned long long sampleBlockSum(unsigned long long v, SampleSmem& s) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = sampleWarpSum(v);
  __syncthreads();
  if (lane == 0) s.warpv[w] = v;
  __syncthreads();
  return sampleWarpSum(lane < nw ? s.warpv[lane] : 0ull);
}

// Block-wide exclusive prefix sum in thread order.
__device__ unsigned long long sampleBlockExclusive(unsigned long long v, SampleSmem& s) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  unsigned long long inc = v;
  for (int o = 1; o < 32; o <<= 1) {
    unsigned long long y = __shfl_up_sync(0xffffffffu, inc, o);
    if (lane >= o) inc += y;
  }
  __syncthreads();
  if (lane == 31) s.warpv[w] = inc;
  __syncthreads();
  unsigned long long before = 0;
  for (int i = 0; i < w; i++) before += s.warpv[i];
  return before + inc - v;
}

// Max and first maximal index of a row (NaN ignored; an all -inf/NaN row gives index 0).
template <class T>
__device__ void sampleArgmax(const T* x, long long n, SampleSmem& s, float& m, long long& idx) {
  float best = -INFINITY;
  long long bi = 0x7fffffffffffffffLL;
  for (long long j = threadIdx.x; j < n; j += blockDim.x) {
    float v = toF(x[j]);
    if (v > best) { best = v; bi = j; }
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int o = 16; o; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, best, o);
    long long i = __shfl_xor_sync(0xffffffffu, bi, o);
    if (v > best || (v == best && i < bi)) { best = v; bi = i; }
  }
  __syncthreads();
  if (lane == 0) { s.wmax[w] = best; s.widx[w] = bi; }
  __syncthreads();
  best = lane < nw ? s.wmax[lane] : -INFINITY;
  bi = lane < nw ? s.widx[lane] : 0x7fffffffffffffffLL;
  for (int o = 16; o; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, best, o);
    long long i = __shfl_xor_sync(0xffffffffu, bi, o);
    if (v > best || (v == best && i < bi)) { best = v; bi = i; }
  }
  m = best;
  idx = bi == 0x7fffffffffffffffLL ? 0 : bi;
}

// Radix select over uint32 keys, from the top: the key t with mass(key > t) < target <= mass(key >= t), where
// f(j, key, w) says whether column j takes part and gives its key and weight (1 for counting). When frac > 0 the
// target is massTarget(frac, total of the first pass). Results: t, mass above t, mass at t, the target, the total.
template <class F>
__device__ void sampleRadixSelect(long long n, unsigned long long target, double frac, F f, SampleSmem& s,
                                  unsigned& thr, unsigned long long& above, unsigned long long& eqMass, unsigned long long& tgt, unsigned long long& total) {
  const int lane = threadIdx.x & 31, copy = (threadIdx.x >> 5) % SAMPLE_HCOPIES;
  unsigned prefix = 0, mask = 0;
  above = 0;
  total = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < SAMPLE_HCOPIES * 256; i += blockDim.x) (&s.hist[0][0])[i] = 0;
    __syncthreads();
    for (long long base = 0; base < n; base += blockDim.x) {
      long long j = base + threadIdx.x;
      unsigned key = 0;
      unsigned long long w = 0;
      bool in = j < n && f(j, key, w) && w > 0 && (key & mask) == prefix;
      unsigned bin = in ? (key >> shift) & 255u : 256u;
      unsigned peers = __match_any_sync(0xffffffffu, bin);
      // Weights < 2^41: split in 20-bit halves so that 32 of them sum in 32 bits.
      unsigned lo = in ? (unsigned)(w & 0xfffffu) : 0u, hi = in ? (unsigned)(w >> 20) : 0u;
      unsigned slo = __reduce_add_sync(peers, lo), shi = __reduce_add_sync(peers, hi);
      if (in && lane == __ffs(peers) - 1) atomicAdd(&s.hist[copy][bin], ((unsigned long long)shi << 20) + slo);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < 256; b += blockDim.x) {
      unsigned long long t = 0;
      for (int c = 0; c < SAMPLE_HCOPIES; c++) t += s.hist[c][b];
      s.hist[0][b] = t;
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane l owns bins 255 - 8l down to 248 - 8l.
      unsigned long long own = 0;
      for (int q = 0; q < 8; q++) own += s.hist[0][255 - 8 * lane - q];
      if (shift == 24) {
        unsigned long long all = sampleWarpSum(own);
        total = all;
        if (frac > 0.0) target = onnxl::sample::massTarget(frac, all);
        if (target > all) target = all;  // defensive: never past the end
        if (lane == 0) { s.total = all; s.target = target; }
      }
      unsigned long long inc = own;
      for (int o = 1; o < 32; o <<= 1) {
        unsigned long long y = __shfl_up_sync(0xffffffffu, inc, o);
        if (lane >= o) inc += y;
      }
      unsigned long long exc = inc - own;
      if (lane == 0) { s.selBin = 0; s.selAbove = 0; s.selEq = 0; }
      __syncwarp();
      if (exc < target && inc >= target) {
        unsigned long long cum = exc;
        for (int q = 0; q < 8; q++) {
          int b = 255 - 8 * lane - q;
          unsigned long long h = s.hist[0][b];
          if (cum + h >= target) { s.selBin = (unsigned)b; s.selAbove = cum; s.selEq = h; break; }
          cum += h;
        }
      }
    }
    __syncthreads();
    unsigned b = s.selBin;
    unsigned long long a = s.selAbove;
    if (shift == 24) { total = s.total; target = s.target; tgt = target; }
    prefix |= b << shift;
    mask |= 255u << shift;
    above += a;
    target -= a;
    eqMass = s.selEq;
    __syncthreads();
  }
  thr = prefix;
}

// The smallest j in [0, n) whose running sum of w (in index order) exceeds r; -1 if the total is <= r.
template <class W>
__device__ long long sampleLocate(long long n, unsigned long long r, W w, SampleSmem& s) {
  long long lo = 0, hi = n;
  while (true) {
    long long len = hi - lo, C = (len + blockDim.x - 1) / blockDim.x;
    long long a = lo + (long long)threadIdx.x * C, b = a + C < hi ? a + C : hi;
    unsigned long long sum = 0;
    for (long long j = a; j < b; j++) sum += w(j);
    if (threadIdx.x == 0) s.locLo = -1;
    unsigned long long ex = sampleBlockExclusive(sum, s);
    if (sum > 0 && ex <= r && r < ex + sum) { s.locLo = a; s.locHi = b; s.locR = r - ex; }
    __syncthreads();
    lo = s.locLo; hi = s.locHi; r = s.locR;
    __syncthreads();
    if (lo < 0 || C <= 1) return lo;
  }
}

template <class T>
__global__ void __launch_bounds__(SAMPLE_THREADS) sampleKernel(long long cols, long long rowStride, const T* in, long long* out,
                                                               unsigned long long* state, float temperature, long long topK, double topP) {
  pdlWait(); pdlTrigger();
  __shared__ SampleSmem s;
  const T* x = in + (long long)blockIdx.x * rowStride;
  if (threadIdx.x == 0) { s.seed = state[0]; s.step = *(volatile unsigned long long*)&state[1]; }
  float m;
  long long token;
  sampleArgmax(x, cols, s, m, token);  // its barriers publish s.seed / s.step
  const unsigned long long seed = s.seed, step = s.step;
  const bool greedy = !(temperature > 0.f) || topK == 1 || !isfinite(m) || cols <= 1;
  if (!greedy) {
    using namespace onnxl::sample;
    const float t = temperature;
    // top-k: threshold key and, when it ties, the index of the last kept column at the threshold.
    const bool useK = topK > 1 && topK < cols;
    unsigned thrK = 0;
    long long idxK = cols;
    unsigned long long above, eq, tgt, total;
    if (useK) {
      sampleRadixSelect(cols, (unsigned long long)topK, 0.0, [&](long long j, unsigned& key, unsigned long long& w) {
        key = keyOf(toF(x[j])); w = 1; return true;
      }, s, thrK, above, eq, tgt, total);
      unsigned long long need = (unsigned long long)topK - above;
      if (need < eq) {
        const unsigned th = thrK;
        idxK = sampleLocate(cols, need - 1, [&](long long j) -> unsigned long long { return keyOf(toF(x[j])) == th ? 1ull : 0ull; }, s);
        if (idxK < 0) idxK = cols;
      }
    }
    auto inK = [&](long long j, unsigned key) { return !useK || key > thrK || (key == thrK && j <= idxK); };
    // top-p
    const bool useP = topP < 1.0;
    unsigned thrP = 0;
    long long idxP = cols;
    unsigned long long z;
    if (useP) {
      sampleRadixSelect(cols, 0ull, topP, [&](long long j, unsigned& key, unsigned long long& w) {
        float v = toF(x[j]);
        key = keyOf(v);
        if (!inK(j, key)) return false;
        w = weightOf(v, m, t);
        return true;
      }, s, thrP, above, eq, tgt, total);
      const unsigned long long wEq = weightOf(keyFloat(thrP), m, t);
      const unsigned long long rem = tgt - above;
      unsigned long long nEq = wEq ? (rem + wEq - 1) / wEq : 1;
      const unsigned long long cntEq = wEq ? eq / wEq : 1;
      if (nEq > cntEq) nEq = cntEq;
      if (nEq < cntEq) {
        const unsigned th = thrP;
        idxP = sampleLocate(cols, nEq - 1, [&](long long j) -> unsigned long long {
          unsigned key = keyOf(toF(x[j]));
          return key == th && inK(j, key) ? 1ull : 0ull;
        }, s);
        if (idxP < 0) idxP = cols;
      }
      z = above + nEq * wEq;
    } else {
      unsigned long long part = 0;
      for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = toF(x[j]);
        if (inK(j, keyOf(v))) part += weightOf(v, m, t);
      }
      z = sampleBlockSum(part, s);
    }
    const unsigned long long r = mulHi(hash3(seed, step, blockIdx.x), z);
    long long pick = sampleLocate(cols, r, [&](long long j) -> unsigned long long {
      float v = toF(x[j]);
      unsigned key = keyOf(v);
      if (!inK(j, key)) return 0ull;
      if (useP && !(key > thrP || (key == thrP && j <= idxP))) return 0ull;
      return weightOf(v, m, t);
    }, s);
    if (pick >= 0) token = pick;
  }
  if (threadIdx.x == 0) {
    out[blockIdx.x] = token;
    // The last block of the launch advances the step (every block has read it before its increment).
    __threadfence();
    unsigned long long done = atomicAdd(&state[2], 1ull);
    if (done == gridDim.x - 1) {
      state[2] = 0;
      state[1] = step + 1;
      __threadfence();
    }
  }
}

// OP_SAMPLE: dt rows cols rowStride in out state temperature topK topP
bool launchSample(ArgReader& r, std::string& err) {
  int dt = r.in();
  long long rows = r.ll(), cols = r.ll(), rs = r.ll();
  void* in = r.p<void>();
  long long* out = r.p<long long>();
  unsigned long long* state = r.p<unsigned long long>();
  float temperature = r.f();
  long long topK = r.ll();
  double topP = r.d();
  if (cols >= onnxl::sample::MAX_VOCAB) { err = "sample: vocabulary of " + std::to_string(cols) + " is not below 2^23"; return false; }
  if (rows) LAUNCH_FLOAT_T(dt, (launchK(sampleKernel<T>, (unsigned)rows, SAMPLE_THREADS, 0, cols, rs, (const T*)in, out, state, temperature, topK, topP)));
  return true;
}
