// CPU emulator of the native runtime: the same instruction set as kernels.cu, run with plain loops on host
// memory. It exists so that the execution plan, its memory plan and the program encoding can be tested on a
// machine without a GPU (test/runtime/cuda), against onnxruntime. Not fast; not meant to be.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <numeric>
#include <map>
#include <vector>
#include "ops.h"
#include "device.h"
#include "sample-common.h"  // before any namespace: sample.cuh / emu-sample.h are included inside one

using namespace onnxl;

namespace {

float h2f(uint16_t h) {
  uint32_t s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023, f;
  if (e == 0) {
    if (m == 0) f = s << 31;
    else { int k = -1; do { k++; m <<= 1; } while (!(m & 1024)); m &= 1023; f = (s << 31) | ((uint32_t)(127 - 15 - k) << 23) | (m << 13); }
  } else if (e == 31) f = (s << 31) | 0x7f800000u | (m << 13);
  else f = (s << 31) | ((e - 15 + 127) << 23) | (m << 13);
  float r; memcpy(&r, &f, 4); return r;
}
uint16_t f2h(float v) {
  uint32_t x; memcpy(&x, &v, 4);
  uint32_t s = (x >> 16) & 0x8000; int e = (int)((x >> 23) & 255) - 127 + 15; uint32_t m = x & 0x7fffff;
  if (((x >> 23) & 255) == 255) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
  if (e >= 31) return (uint16_t)(s | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)s;
    m |= 0x800000; int shift = 14 - e; uint32_t hm = m >> shift; uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1))) hm++;
    return (uint16_t)(s | hm);
  }
  uint32_t hm = m >> 13, rem = m & 0x1fff;
  uint32_t h = s | ((uint32_t)e << 10) | hm;
  if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) h++;
  return (uint16_t)h;
}
float b2f(uint16_t b) { uint32_t x = (uint32_t)b << 16; float r; memcpy(&r, &x, 4); return r; }
uint16_t f2b(float v) { uint32_t x; memcpy(&x, &v, 4); if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0; x += 0x7fff + ((x >> 16) & 1); return (uint16_t)(x >> 16); }

double ld(const void* p, int dt, long long i) {
  switch (dt) {
    case DT_F32: return ((const float*)p)[i];
    case DT_F16: return h2f(((const uint16_t*)p)[i]);
    case DT_BF16: return b2f(((const uint16_t*)p)[i]);
    case DT_I64: return (double)((const long long*)p)[i];
    case DT_I32: return ((const int*)p)[i];
    default: return ((const uint8_t*)p)[i];
  }
}
void st(void* p, int dt, long long i, double v) {
  switch (dt) {
    case DT_F32: ((float*)p)[i] = (float)v; break;
    case DT_F16: ((uint16_t*)p)[i] = f2h((float)v); break;
    case DT_BF16: ((uint16_t*)p)[i] = f2b((float)v); break;
    case DT_I64: ((long long*)p)[i] = (long long)v; break;
    case DT_I32: ((int*)p)[i] = (int)v; break;
    default: ((uint8_t*)p)[i] = (uint8_t)(v != 0); break;
  }
}
// Rounds through the storage type (float ops are computed in float32 as the GPU does).
float rf(double v) { return (float)v; }

struct Nd {
  int rank; long long dims[MAXR];
  void read(ArgReader& r) { rank = r.in(); for (int i = 0; i < MAXR; i++) dims[i] = r.ll(); }
  long long count() const { long long n = 1; for (int i = 0; i < rank; i++) n *= dims[i]; return n; }
};
void readStrides(ArgReader& r, long long* s) { for (int i = 0; i < MAXR; i++) s[i] = r.ll(); }
long long offsetOf(const Nd& nd, long long flat, const long long* str) {
  long long off = 0;
  for (int d = nd.rank - 1; d >= 0; d--) { long long i = flat % nd.dims[d]; flat /= nd.dims[d]; off += i * str[d]; }
  return off;
}

double binop(int op, double a, double b, bool isInt) {
  switch (op) {
    case B_ADD: return isInt ? a + b : rf(rf(a) + rf(b));
    case B_SUB: return isInt ? a - b : rf(rf(a) - rf(b));
    case B_MUL: return isInt ? a * b : rf(rf(a) * rf(b));
    case B_DIV: return isInt ? (b == 0 ? 0 : std::trunc(a / b)) : rf(rf(a) / rf(b));
    case B_POW: return isInt ? std::pow(a, b) : rf(std::pow(rf(a), rf(b)));
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_LE: return a <= b;
    case B_GT: return a > b;
    case B_GE: return a >= b;
    case B_AND: return (a != 0) && (b != 0);
    case B_OR: return (a != 0) || (b != 0);
    case B_MOD: return isInt ? a - std::floor(a / b) * b : std::fmod(a, b);
  }
  return 0;
}
double unop(int op, double x, double alpha) {
  float v = (float)x;
  switch (op) {
    case U_NEG: return -v;
    case U_SQRT: return std::sqrt(v);
    case U_RECIP: return 1.0f / v;
    case U_SIGMOID: return 1.0f / (1.0f + std::exp(-v));
    case U_TANH: return std::tanh(v);
    case U_COS: return std::cos(v);
    case U_SIN: return std::sin(v);
    case U_EXP: return std::exp(v);
    case U_LOG: return std::log(v);
    case U_ERF: return std::erf(v);
    case U_RELU: return v > 0 ? v : 0;
    case U_ABS: return std::fabs(v);
    case U_SILU: return v / (1.0f + std::exp(-v));
    case U_GELU: return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
    case U_GELU_TANH: return 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case U_NOT: return x == 0;
    case U_IDENTITY: return x;
    case U_RSQRT: return 1.0f / std::sqrt(v);
  }
  (void)alpha;
  return 0;
}

void attention(const AttnArgs& a) {
  const int G = a.Hq / a.Hkv;
  long long start = a.causal == C_OFFSET ? *a.start : 0;
  std::vector<float> sc(a.T);
  std::vector<double> acc(a.Dv);
  for (int b = 0; b < a.B; b++)
    for (int h = 0; h < a.Hq; h++)
      for (int s = 0; s < a.S; s++) {
        int kh = h / G;
        long long kvlen = a.causal == C_OFFSET ? std::min<long long>(a.T, start + a.S) : a.T;
        float mx = -INFINITY;
        for (long long j = 0; j < kvlen; j++) {
          bool ok = true;
          if (a.causal == C_TOP_LEFT) ok = j <= s;
          if (a.causal == C_OFFSET) ok = j <= start + s;
          double extra = 0;
          if (a.mtype != MT_NONE) {
            long long mo = b * a.msb + h * a.msh + s * a.mss + j * a.mst;
            if (a.mtype == MT_BOOL) ok = ok && ((const uint8_t*)a.mask)[mo];
            else extra = ld(a.mask, a.dt, mo);
          }
          if (!ok) { sc[j] = -INFINITY; continue; }
          float dot = 0;
          for (int d = 0; d < a.D; d++)
            dot += (float)ld(a.q, a.dt, b * a.qb + h * a.qh + s * a.qs + d) * (float)ld(a.k, a.dt, b * a.kb + kh * a.kh + j * a.kt + d);
          sc[j] = dot * a.scale + (float)extra;
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (int d = 0; d < a.Dv; d++) acc[d] = 0;
        for (long long j = 0; j < kvlen; j++) {
          if (sc[j] == -INFINITY) continue;
          double p = std::exp((double)sc[j] - mx);
          sum += p;
          for (int d = 0; d < a.Dv; d++) acc[d] += p * ld(a.v, a.dt, b * a.vb + kh * a.vh + j * a.vt + d);
        }
        for (int d = 0; d < a.Dv; d++) st(a.out, a.dt, b * a.ob + h * a.oh + s * a.os + d, sum > 0 ? acc[d] / sum : 0);
      }
}

#include "emu-sample.h"

// RoPE of x [B, H, S, D] (or [B, S, H * D] with l3) into out: OP_ROPE and the q/k jobs of OP_ROPE_PACK.
void ropeRows(int dt, int dtc, int B, int H, int S, int D, int rd, int inter, int l3, const void* x, const void* cs, const void* sn,
              const long long* pos, void* out, long long cbs) {
  int half = rd / 2;
  for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) for (int s = 0; s < S; s++) {
    long long base = l3 ? ((long long)(b * S + s) * H + h) * D : ((long long)(b * H + h) * S + s) * D;
    long long crow = pos ? pos[b * S + s] * half : b * cbs + (long long)s * half;
    for (int i = 0; i < half; i++) {
      float c = (float)ld(cs, dtc, crow + i), sv = (float)ld(sn, dtc, crow + i);
      int i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
      float x1 = (float)ld(x, dt, base + i1), x2 = (float)ld(x, dt, base + i2);
      st(out, dt, base + i1, c * x1 - sv * x2);
      st(out, dt, base + i2, sv * x1 + c * x2);
    }
    for (int d = rd; d < D; d++) st(out, dt, base + d, ld(x, dt, base + d));
  }
}

// Rows [start, start + S) of cache [B, H, T, D] from cur [B, H, S, D] (src copied to dst first when they differ):
// OP_CACHE_WRITE and the k/v jobs of OP_ROPE_PACK.
bool cacheRows(int dt, int B, int H, int T, int D, int S, const void* src, void* dst, const void* cur, long long start, std::string& err) {
  size_t es = dtSize(dt);
  if (src != dst) memcpy(dst, src, (size_t)B * H * T * D * es);
  if (start < 0 || start + S > T) { err = "cache write out of range (start + seq > max_seq_len)"; return false; }
  for (int b = 0; b < B; b++) for (int h = 0; h < H; h++)
    memcpy((char*)dst + (((long long)(b * H + h) * T + start) * D) * es, (const char*)cur + ((long long)(b * H + h) * S * D) * es, (size_t)S * D * es);
  return true;
}

bool execOne(int op, ArgReader& r, std::string& err) {
  switch (op) {
    case OP_SAMPLE: return emuSample(r, err);
    case OP_COPY: {
      int dti = r.in(), dto = r.in(); Nd nd; nd.read(r); long long is[MAXR], os[MAXR]; readStrides(r, is); readStrides(r, os);
      void* in = r.p<void>(); void* out = r.p<void>();
      long long n = nd.count();
      for (long long f = 0; f < n; f++) st(out, dto, offsetOf(nd, f, os), ld(in, dti, offsetOf(nd, f, is)));
      return true;
    }
    case OP_BINARY: {
      int bop = r.in(), dta = r.in(), dtb = r.in(), dto = r.in(); Nd nd; nd.read(r); long long as[MAXR], bs[MAXR]; readStrides(r, as); readStrides(r, bs);
      void* a = r.p<void>(); void* b = r.p<void>(); void* out = r.p<void>();
      bool isInt = !dtIsFloat(dta);
      long long n = nd.count();
      for (long long f = 0; f < n; f++) st(out, dto, f, binop(bop, ld(a, dta, offsetOf(nd, f, as)), ld(b, dtb, offsetOf(nd, f, bs)), isInt));
      return true;
    }
    case OP_UNARY: {
      int uop = r.in(), dti = r.in(), dto = r.in(); long long n = r.ll(); void* in = r.p<void>(); void* out = r.p<void>(); double alpha = r.d();
      for (long long i = 0; i < n; i++) st(out, dto, i, unop(uop, ld(in, dti, i), alpha));
      return true;
    }
    case OP_WHERE: {
      int dt = r.in(); Nd nd; nd.read(r); long long cs[MAXR], xs[MAXR], ys[MAXR]; readStrides(r, cs); readStrides(r, xs); readStrides(r, ys);
      void* c = r.p<void>(); void* x = r.p<void>(); void* y = r.p<void>(); void* out = r.p<void>();
      long long n = nd.count();
      for (long long f = 0; f < n; f++)
        st(out, dt, f, ((uint8_t*)c)[offsetOf(nd, f, cs)] ? ld(x, dt, offsetOf(nd, f, xs)) : ld(y, dt, offsetOf(nd, f, ys)));
      return true;
    }
    case OP_GEMM: {
      int dt = r.in(), ta = r.in(), tb = r.in(); long long M = r.ll(), N = r.ll(), K = r.ll(), batch = r.ll();
      void* A = r.p<void>(); long long sA = r.ll(); void* B = r.p<void>(); long long sB = r.ll(); void* C = r.p<void>(); long long sC = r.ll();
      float alpha = r.f(), beta = r.f();
      for (long long bi = 0; bi < batch; bi++)
        for (long long m = 0; m < M; m++)
          for (long long n = 0; n < N; n++) {
            float acc = 0;
            for (long long k = 0; k < K; k++) {
              float av = (float)ld(A, dt, bi * sA + (ta ? k * M + m : m * K + k));
              float bv = (float)ld(B, dt, bi * sB + (tb ? n * K + k : k * N + n));
              acc += av * bv;
            }
            long long o = bi * sC + m * N + n;
            float prev = beta != 0 ? (float)ld(C, dt, o) : 0.f;
            st(C, dt, o, alpha * acc + beta * prev);
          }
      return true;
    }
    case OP_GEMV: {
      int dt = r.in(); long long M = r.ll(), K = r.ll(); int nseg = r.in();
      void* x = r.p<void>();
      void* na = r.p<void>(); void* nb = r.p<void>(); void* nsc = r.p<void>(); void* nsum = r.p<void>(); float eps = r.f(); int dts = r.in();
      if (nseg < 1 || nseg > MAX_GEMV_SEGS) { err = "gemv: 1 to 4 segments"; return false; }
      std::vector<unsigned char> normed;
      if (na) {
        // The fused ADD_RMSNORM / RMSNORM: same arithmetic as those instructions, into a private x.
        normed.resize((size_t)(M * K * dtSize(dt)));
        void* nx = normed.data();
        for (long long i = 0; i < M; i++) {
          double ss = 0;
          for (long long j = 0; j < K; j++) {
            float v = (float)ld(na, dt, i * K + j) + (nb ? (float)ld(nb, dt, i * K + j) : 0.f);
            st(nx, dt, i * K + j, v);
            if (nsum) st(nsum, dt, i * K + j, v);
            float rv = (float)ld(nx, dt, i * K + j);
            ss += (double)rv * rv;
          }
          float inv = 1.0f / std::sqrt((float)(ss / K) + eps);
          for (long long j = 0; j < K; j++) st(nx, dt, i * K + j, (float)ld(nx, dt, i * K + j) * inv * (float)ld(nsc, dts, j));
        }
        x = nx;
      }
      for (int sgi = 0; sgi < nseg; sgi++) {
        long long N = r.ll(); void* W = r.p<void>(); void* up = r.p<void>(); void* bias = r.p<void>(); void* y = r.p<void>();
        for (long long m = 0; m < M; m++)
          for (long long n = 0; n < N; n++) {
            float acc = 0, acc2 = 0;
            for (long long k = 0; k < K; k++) {
              float xv = (float)ld(x, dt, m * K + k);
              acc += xv * (float)ld(W, dt, n * K + k);
              if (up) acc2 += xv * (float)ld(up, dt, n * K + k);
            }
            if (up) acc = acc / (1.f + std::exp(-acc)) * acc2;
            else if (bias) acc += (float)ld(bias, dt, n);
            st(y, dt, m * N + n, acc);
          }
      }
      return true;
    }
    case OP_ADD_RMSNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f();
      void* a = r.p<void>(); void* b = r.p<void>(); void* sc = r.p<void>(); void* sum = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < rows; i++) {
        double ss = 0;
        for (long long j = 0; j < cols; j++) {
          float v = (float)ld(a, dt, i * cols + j) + (float)ld(b, dt, i * cols + j);
          st(sum, dt, i * cols + j, v);
          float rv = (float)ld(sum, dt, i * cols + j);
          ss += (double)rv * rv;
        }
        float inv = 1.0f / std::sqrt((float)(ss / cols) + eps);
        for (long long j = 0; j < cols; j++) st(out, dt, i * cols + j, (float)ld(sum, dt, i * cols + j) * inv * (float)ld(sc, dts, j));
      }
      return true;
    }
    case OP_REDUCE: {
      int rop = r.in(), dti = r.in(), dto = r.in(); long long rows = r.ll(), cols = r.ll(); void* in = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < rows; i++) {
        double acc = rop == R_MAX ? -INFINITY : 0;
        for (long long j = 0; j < cols; j++) { double v = ld(in, dti, i * cols + j); acc = rop == R_MAX ? std::max(acc, v) : acc + v; }
        st(out, dto, i, rop == R_MEAN ? acc / cols : acc);
      }
      return true;
    }
    case OP_RMSNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f(); void* x = r.p<void>(); void* sc = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < rows; i++) {
        double ss = 0;
        for (long long j = 0; j < cols; j++) { double v = ld(x, dt, i * cols + j); ss += v * v; }
        float inv = 1.0f / std::sqrt((float)(ss / cols) + eps);
        for (long long j = 0; j < cols; j++) st(out, dt, i * cols + j, (float)ld(x, dt, i * cols + j) * inv * (float)ld(sc, dts, j));
      }
      return true;
    }
    case OP_LAYERNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f(); void* x = r.p<void>(); void* sc = r.p<void>(); void* bias = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < rows; i++) {
        double mean = 0, var = 0;
        for (long long j = 0; j < cols; j++) mean += ld(x, dt, i * cols + j);
        mean /= cols;
        for (long long j = 0; j < cols; j++) { double d = ld(x, dt, i * cols + j) - mean; var += d * d; }
        float inv = 1.0f / std::sqrt((float)(var / cols) + eps);
        for (long long j = 0; j < cols; j++)
          st(out, dt, i * cols + j, ((float)ld(x, dt, i * cols + j) - (float)mean) * inv * (float)ld(sc, dts, j) + (bias ? (float)ld(bias, dts, j) : 0.f));
      }
      return true;
    }
    case OP_SOFTMAX: {
      int dt = r.in(); long long rows = r.ll(), cols = r.ll(); void* in = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < rows; i++) {
        double mx = -INFINITY, sum = 0;
        for (long long j = 0; j < cols; j++) mx = std::max(mx, ld(in, dt, i * cols + j));
        for (long long j = 0; j < cols; j++) sum += std::exp(ld(in, dt, i * cols + j) - mx);
        for (long long j = 0; j < cols; j++) st(out, dt, i * cols + j, std::exp(ld(in, dt, i * cols + j) - mx) / sum);
      }
      return true;
    }
    case OP_GATHER: {
      int dt = r.in(), dti = r.in(); long long outer = r.ll(), axisDim = r.ll(), inner = r.ll(), nidx = r.ll();
      void* data = r.p<void>(); void* idx = r.p<void>(); void* out = r.p<void>();
      size_t es = dtSize(dt);
      for (long long o = 0; o < outer; o++)
        for (long long i = 0; i < nidx; i++) {
          long long k = (long long)ld(idx, dti, i);
          if (k < 0) k += axisDim;
          if (k < 0 || k >= axisDim) { err = "Gather index out of range"; return false; }
          memcpy((char*)out + ((o * nidx + i) * inner) * es, (const char*)data + ((o * axisDim + k) * inner) * es, inner * es);
        }
      return true;
    }
    case OP_ROPE: {
      int dt = r.in(), dtc = r.in(), B = r.in(), H = r.in(), S = r.in(), D = r.in(), rd = r.in(), inter = r.in(), l3 = r.in();
      void* x = r.p<void>(); void* cs = r.p<void>(); void* sn = r.p<void>(); long long* pos = r.p<long long>(); void* out = r.p<void>(); long long cbs = r.ll();
      ropeRows(dt, dtc, B, H, S, D, rd, inter, l3, x, cs, sn, pos, out, cbs);
      return true;
    }
    case OP_ATTENTION: { AttnArgs a; readAttn(r, a); attention(a); return true; }
    case OP_ROPE_PACK: {
      int dt = r.in(), dtc = r.in(), B = r.in(), S = r.in(), D = r.in(), rd = r.in(), inter = r.in(), T = r.in();
      void* cs = r.p<void>(); void* sn = r.p<void>(); long long* pos = r.p<long long>(); long long cbs = r.ll(); long long* start = r.p<long long>();
      int Hq = r.in(); void* xq = r.p<void>(); void* oq = r.p<void>();
      int Hk = r.in(); void* xk = r.p<void>(); void* ok = r.p<void>(); void* ks = r.p<void>(); void* kc = r.p<void>();
      int Hv = r.in(); void* xv = r.p<void>(); void* vs = r.p<void>(); void* vc = r.p<void>();
      if (Hq) ropeRows(dt, dtc, B, Hq, S, D, rd, inter, 0, xq, cs, sn, pos, oq, cbs);
      if (Hk) {
        ropeRows(dt, dtc, B, Hk, S, D, rd, inter, 0, xk, cs, sn, pos, ok, cbs);
        if (kc && !cacheRows(dt, B, Hk, T, D, S, ks, kc, ok, *start, err)) return false;
      }
      if (Hv && vc && !cacheRows(dt, B, Hv, T, D, S, vs, vc, xv, *start, err)) return false;
      return true;
    }
    case OP_CACHE_WRITE: {
      int dt = r.in(), B = r.in(), H = r.in(), T = r.in(), D = r.in(), S = r.in();
      char* src = r.p<char>(); char* dst = r.p<char>(); char* cur = r.p<char>(); long long* start = r.p<long long>(); r.in();
      return cacheRows(dt, B, H, T, D, S, src, dst, cur, *start, err);
    }
    case OP_ARGMAX: {
      int dt = r.in(); long long rows = r.ll(), cols = r.ll(), rs = r.ll(); void* in = r.p<void>(); long long* out = r.p<long long>();
      for (long long i = 0; i < rows; i++) {
        long long best = 0; double bv = -INFINITY;
        for (long long j = 0; j < cols; j++) { double v = ld(in, dt, i * rs + j); if (v > bv) { bv = v; best = j; } }
        out[i] = best;
      }
      return true;
    }
    case OP_ADVANCE: {
      int B = r.in(); long long* ids = r.p<long long>(); long long* next = r.p<long long>(); long long* pos = r.p<long long>();
      long long* start = r.p<long long>(); long long* end = r.p<long long>(); long long* log = r.p<long long>(); long long* counter = r.p<long long>();
      for (int b = 0; b < B; b++) { ids[b] = next[b]; pos[b] += 1; log[*counter * B + b] = next[b]; }
      *start += 1; *end += 1; *counter += 1;
      return true;
    }
    case OP_MEMCPY: { char* d = r.p<char>(); char* s = r.p<char>(); long long n = r.ll(); memmove(d, s, n); return true; }
    case OP_SILU_MUL: {
      int dt = r.in(); long long n = r.ll(); void* g = r.p<void>(); void* u = r.p<void>(); void* out = r.p<void>();
      for (long long i = 0; i < n; i++) { float gv = (float)ld(g, dt, i); st(out, dt, i, gv / (1.0f + std::exp(-gv)) * (float)ld(u, dt, i)); }
      return true;
    }
  }
  err = "unknown opcode " + std::to_string(op);
  return false;
}

std::map<int, std::vector<double>> g_graphs;
std::vector<double> g_capture;
bool g_capturing = false;
int g_nextGraph = 1;

bool run(const double* prog, size_t n, std::string& err) {
  size_t i = 0;
  while (i < n) {
    int op = (int)prog[i];
    size_t nargs = (size_t)prog[i + 1];
    if (i + 2 + nargs > n) { err = "truncated program"; return false; }
    ArgReader r(prog + i + 2);
    if (!execOne(op, r, err)) return false;
    if ((size_t)r.i != nargs) { err = "opcode " + std::to_string(op) + ": expected " + std::to_string(r.i) + " args, got " + std::to_string(nargs); return false; }
    i += 2 + nargs;
  }
  return true;
}

}  // namespace

namespace dev {
const char* kind() { return "emulator"; }
bool probe(std::string&, Info& info) { info.name = "CPU emulator"; return true; }
bool init(std::string&) { return true; }
void* alloc(size_t bytes, std::string& err) {
  void* p = std::calloc(bytes ? bytes : 1, 1);
  if (!p) err = "out of host memory";
  return p;
}
void release(void* p) { std::free(p); }
bool upload(void* d, const void* s, size_t n, std::string&) { memcpy(d, s, n); return true; }
bool download(void* d, const void* s, size_t n, std::string&) { memcpy(d, s, n); return true; }
bool fill(void* d, int b, size_t n, std::string&) { memset(d, b, n); return true; }
bool exec(const double* prog, size_t n, std::string& err) {
  if (g_capturing) { g_capture.insert(g_capture.end(), prog, prog + n); return true; }
  return run(prog, n, err);
}
bool sync(std::string&) { return true; }
bool captureBegin(std::string&) { g_capturing = true; g_capture.clear(); return true; }
int captureEnd(std::string&) { g_capturing = false; int id = g_nextGraph++; g_graphs[id] = g_capture; return id; }
bool graphLaunch(int id, std::string& err) {
  auto it = g_graphs.find(id);
  if (it == g_graphs.end()) { err = "no such graph"; return false; }
  return run(it->second.data(), it->second.size(), err);
}
void graphDestroy(int id) { g_graphs.erase(id); }
double copyBandwidth(size_t, int, std::string& err) { err = "the emulator has no device bandwidth"; return -1; }
void setOption(const std::string&, double) {}
std::string profileReport() { return "{}"; }
}  // namespace dev

#include "addon.cpp"
