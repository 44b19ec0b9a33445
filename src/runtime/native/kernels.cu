// CUDA implementation of the onnx-lower instruction set (ops.h) and the device functions of device.h.
// One translation unit: the N-API glue (addon.cpp) is included at the end. cuBLAS is loaded with dlopen at
// init, so the addon builds where only nvcc and cudart exist and loads on machines without a GPU (where
// probe() says why it cannot run).
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <dlfcn.h>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>
#include "ops.h"
#include "device.h"
#include "sample-common.h"  // before any namespace: sample.cuh / emu-sample.h are included inside one

using namespace onnxl;

// ------------------------------------------------------------------------------------------ cuBLAS (dlopen)
namespace cublas {
typedef void* Handle;
typedef int Status;
enum { OP_N = 0, OP_T = 1 };
enum { R_32F = 0, R_16F = 2, R_16BF = 14 };
enum { COMPUTE_32F = 68 };
enum { GEMM_DEFAULT = -1 };
typedef Status (*CreateFn)(Handle*);
typedef Status (*SetStreamFn)(Handle, cudaStream_t);
typedef Status (*SetWorkspaceFn)(Handle, void*, size_t);
typedef Status (*GemmStridedBatchedExFn)(Handle, int, int, int, int, int, const void*, const void*, int, int, long long,
                                         const void*, int, int, long long, const void*, void*, int, int, long long, int, int, int);
CreateFn create;
SetStreamFn setStream;
SetWorkspaceFn setWorkspace;
GemmStridedBatchedExFn gemmStridedBatchedEx;
Handle handle;
void* lib;

void* sym(const char* name) {
  void* p = dlsym(lib, name);
  if (!p) p = dlsym(lib, (std::string(name) + "_v2").c_str());
  return p;
}
bool load(std::string& err) {
  if (lib) return true;
  const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so", "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so"};
  for (const char* n : names) if ((lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) { err = "cuBLAS not found (libcublas.so.13): " + std::string(dlerror() ? dlerror() : ""); return false; }
  create = (CreateFn)sym("cublasCreate");
  setStream = (SetStreamFn)sym("cublasSetStream");
  setWorkspace = (SetWorkspaceFn)sym("cublasSetWorkspace");
  gemmStridedBatchedEx = (GemmStridedBatchedExFn)sym("cublasGemmStridedBatchedEx");
  if (!create || !setStream || !setWorkspace || !gemmStridedBatchedEx) { err = "cuBLAS lacks the expected entry points"; return false; }
  return true;
}
}  // namespace cublas

// ------------------------------------------------------------------------------------------ state
namespace {
cudaStream_t g_stream;
void* g_cublasWs;
const size_t kCublasWs = 32u << 20;
int g_smCount = 0;
int g_major = 0;
bool g_debugSync = false;
std::map<int, cudaGraphExec_t> g_graphs;
int g_nextGraph = 1;

bool ck(cudaError_t e, std::string& err, const char* what) {
  if (e == cudaSuccess) return true;
  err = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return false;
}

// ------------------------------------------------------------------------------------------ launches
// Programmatic dependent launch (sm_90+): every kernel is launched with programmatic stream serialization, so
// the next kernel of the stream may start while this one finishes. Each kernel calls pdlWait() before it reads
// what an earlier kernel wrote or writes anything (griddepcontrol.wait: the previous grid has completed and its
// memory is visible), then pdlTrigger() to let the following kernel launch. Work that reads only constant
// weights (the GEMV's first loads) goes before the wait and overlaps the previous kernel. Both are no-ops when
// the kernel was launched without the attribute (g_pdl false: sm_80, or the option turned off).
bool g_pdl = false;
bool g_attnDecode = true;  // setOption "attnDecode": the decode attention kernel where it applies
// Experiment switches (setOption "pdlFlags"): bit 0 = trigger the dependent launch right after the wait (else
// only at exit), bit 1 = the GEMV issues its first weight loads before the wait.
__device__ int d_pdlFlags = 3;
__device__ __forceinline__ void pdlWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdlTrigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (d_pdlFlags & 1) asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
template <typename... E, typename... A>
void launchK(void (*kernel)(E...), dim3 grid, dim3 block, size_t smem, A&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid; cfg.blockDim = block; cfg.dynamicSmemBytes = smem; cfg.stream = g_stream;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = at; cfg.numAttrs = g_pdl ? 1 : 0;
  cudaLaunchKernelEx(&cfg, kernel, std::forward<A>(args)...);
}

// ------------------------------------------------------------------------------------------ element access
__device__ __forceinline__ float toF(float v) { return v; }
__device__ __forceinline__ float toF(__half v) { return __half2float(v); }
__device__ __forceinline__ float toF(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> __device__ __forceinline__ T fromF(float v);
template <> __device__ __forceinline__ float fromF<float>(float v) { return v; }
template <> __device__ __forceinline__ __half fromF<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromF<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ double ldAny(const void* p, int dt, long long i) {
  switch (dt) {
    case DT_F32: return ((const float*)p)[i];
    case DT_F16: return __half2float(((const __half*)p)[i]);
    case DT_BF16: return __bfloat162float(((const __nv_bfloat16*)p)[i]);
    case DT_I64: return (double)((const long long*)p)[i];
    case DT_I32: return ((const int*)p)[i];
    default: return ((const unsigned char*)p)[i];
  }
}
__device__ void stAny(void* p, int dt, long long i, double v) {
  switch (dt) {
    case DT_F32: ((float*)p)[i] = (float)v; break;
    case DT_F16: ((__half*)p)[i] = __float2half_rn((float)v); break;
    case DT_BF16: ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn((float)v); break;
    case DT_I64: ((long long*)p)[i] = (long long)v; break;
    case DT_I32: ((int*)p)[i] = (int)v; break;
    default: ((unsigned char*)p)[i] = (unsigned char)(v != 0); break;
  }
}

struct Nd3 {
  int rank; unsigned dims[MAXR]; long long s0[MAXR], s1[MAXR], s2[MAXR];
};
__device__ __forceinline__ void offsets(const Nd3& nd, unsigned flat, long long& o0, long long& o1, long long& o2) {
  o0 = o1 = o2 = 0;
  for (int d = nd.rank - 1; d >= 0; d--) {
    unsigned i = flat % nd.dims[d];
    flat /= nd.dims[d];
    o0 += i * nd.s0[d]; o1 += i * nd.s1[d]; o2 += i * nd.s2[d];
  }
}

int blocksFor(long long n, int threads = 256) {
  long long b = (n + threads - 1) / threads;
  return (int)(b < 1 ? 1 : b > 65535LL * 32 ? 65535LL * 32 : b);
}

// ------------------------------------------------------------------------------------------ elementwise
template <int ES>
struct Bytes { typedef unsigned char T; };
template <> struct Bytes<2> { typedef unsigned short T; };
template <> struct Bytes<4> { typedef unsigned int T; };
template <> struct Bytes<8> { typedef unsigned long long T; };

template <int ES>
__global__ void copyRaw(Nd3 nd, unsigned n, const void* in, void* out) {
  pdlWait(); pdlTrigger();
  typedef typename Bytes<ES>::T T;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    long long oi, oo, unused;
    offsets(nd, i, oi, oo, unused);
    ((T*)out)[oo] = ((const T*)in)[oi];
  }
}
__global__ void copyCast(Nd3 nd, unsigned n, int dti, int dto, const void* in, void* out) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    long long oi, oo, unused;
    offsets(nd, i, oi, oo, unused);
    stAny(out, dto, oo, ldAny(in, dti, oi));
  }
}

__device__ __forceinline__ float binF(int op, float a, float b) {
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return (b == 2.f) ? a * a : powf(a, b);
    case B_MAX: return fmaxf(a, b);
    case B_MIN: return fminf(a, b);
    case B_MOD: return fmodf(a, b);
    default: return 0.f;
  }
}
__device__ __forceinline__ double binAny(int op, double a, double b, bool isInt) {
  switch (op) {
    case B_ADD: return isInt ? a + b : (double)((float)a + (float)b);
    case B_SUB: return isInt ? a - b : (double)((float)a - (float)b);
    case B_MUL: return isInt ? a * b : (double)((float)a * (float)b);
    case B_DIV: return isInt ? (b == 0 ? 0 : trunc(a / b)) : (double)((float)a / (float)b);
    case B_POW: return isInt ? pow(a, b) : (double)powf((float)a, (float)b);
    case B_MAX: return a > b ? a : b;
    case B_MIN: return a < b ? a : b;
    case B_EQ: return a == b;
    case B_LT: return a < b;
    case B_LE: return a <= b;
    case B_GT: return a > b;
    case B_GE: return a >= b;
    case B_AND: return (a != 0) && (b != 0);
    case B_OR: return (a != 0) || (b != 0);
    case B_MOD: return isInt ? a - floor(a / b) * b : fmod(a, b);
  }
  return 0;
}
template <class T>
__global__ void binarySame(int op, Nd3 nd, unsigned n, const T* a, const T* b, T* out, bool contiguous) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    long long oa, ob, unused;
    if (contiguous) { oa = ob = i; } else offsets(nd, i, oa, ob, unused);
    out[i] = fromF<T>(binF(op, toF(a[oa]), toF(b[ob])));
  }
}
__global__ void binaryAny(int op, Nd3 nd, unsigned n, int dta, int dtb, int dto, const void* a, const void* b, void* out) {
  pdlWait(); pdlTrigger();
  bool isInt = !(dta <= DT_BF16);
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    long long oa, ob, unused;
    offsets(nd, i, oa, ob, unused);
    stAny(out, dto, i, binAny(op, ldAny(a, dta, oa), ldAny(b, dtb, ob), isInt));
  }
}

__device__ __forceinline__ float unF(int op, float v) {
  switch (op) {
    case U_NEG: return -v;
    case U_SQRT: return sqrtf(v);
    case U_RECIP: return 1.f / v;
    case U_SIGMOID: return 1.f / (1.f + __expf(-v));
    case U_TANH: return tanhf(v);
    case U_COS: return cosf(v);
    case U_SIN: return sinf(v);
    case U_EXP: return expf(v);
    case U_LOG: return logf(v);
    case U_ERF: return erff(v);
    case U_RELU: return v > 0.f ? v : 0.f;
    case U_ABS: return fabsf(v);
    case U_SILU: return v / (1.f + __expf(-v));
    case U_GELU: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    case U_GELU_TANH: return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    case U_IDENTITY: return v;
    case U_RSQRT: return rsqrtf(v);
    default: return 0.f;
  }
}
template <class T>
__global__ void unarySame(int op, unsigned n, const T* in, T* out) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = fromF<T>(unF(op, toF(in[i])));
}
__global__ void unaryAny(int op, unsigned n, int dti, int dto, const void* in, void* out) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    double v = ldAny(in, dti, i);
    stAny(out, dto, i, op == U_NOT ? (double)(v == 0) : op == U_IDENTITY ? v : (double)unF(op, (float)v));
  }
}
__global__ void whereAny(Nd3 nd, unsigned n, int dt, const unsigned char* c, const void* x, const void* y, void* out) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    long long oc, ox, oy;
    offsets(nd, i, oc, ox, oy);
    stAny(out, dt, i, c[oc] ? ldAny(x, dt, ox) : ldAny(y, dt, oy));
  }
}
template <class T>
__global__ void siluMul(unsigned n, const T* g, const T* u, T* out) {
  pdlWait(); pdlTrigger();
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    float gv = toF(g[i]);
    out[i] = fromF<T>(gv / (1.f + __expf(-gv)) * toF(u[i]));
  }
}

// ------------------------------------------------------------------------------------------ reductions
__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Block-wide sum (or max) for blockDim.x a multiple of 32, at most 1024.
__device__ float blockReduce(float v, bool isMax) {
  __shared__ float part[32];
  __shared__ float result;
  v = isMax ? warpMax(v) : warpSum(v);
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) part[w] = v;
  __syncthreads();
  if (w == 0) {
    float x = lane < nw ? part[lane] : (isMax ? -INFINITY : 0.f);
    x = isMax ? warpMax(x) : warpSum(x);
    if (lane == 0) result = x;
  }
  __syncthreads();
  return result;
}

__global__ void reduceLast(int op, int dti, int dto, long long cols, const void* in, void* out) {
  pdlWait(); pdlTrigger();
  long long row = blockIdx.x;
  float acc = op == R_MAX ? -INFINITY : 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = (float)ldAny(in, dti, row * cols + j);
    acc = op == R_MAX ? fmaxf(acc, v) : acc + v;
  }
  acc = blockReduce(acc, op == R_MAX);
  if (threadIdx.x == 0) stAny(out, dto, row, op == R_MEAN ? acc / (float)cols : acc);
}

template <class T, class TS>
__global__ void rmsNorm(long long cols, float eps, const T* x, const TS* scale, T* out) {
  pdlWait(); pdlTrigger();
  const T* xr = x + blockIdx.x * cols;
  T* yr = out + blockIdx.x * cols;
  float ss = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) { float v = toF(xr[j]); ss += v * v; }
  ss = blockReduce(ss, false);
  float inv = rsqrtf(ss / (float)cols + eps);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = fromF<T>(toF(xr[j]) * inv * toF(scale[j]));
}
template <class T, class TS>
__global__ void layerNorm(long long cols, float eps, const T* x, const TS* scale, const TS* bias, T* out) {
  pdlWait(); pdlTrigger();
  const T* xr = x + blockIdx.x * cols;
  T* yr = out + blockIdx.x * cols;
  float s = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += toF(xr[j]);
  float mean = blockReduce(s, false) / (float)cols;
  float v = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) { float d = toF(xr[j]) - mean; v += d * d; }
  float inv = rsqrtf(blockReduce(v, false) / (float)cols + eps);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x)
    yr[j] = fromF<T>((toF(xr[j]) - mean) * inv * toF(scale[j]) + (bias ? toF(bias[j]) : 0.f));
}
template <class T>
__global__ void softmaxLast(long long cols, const T* in, T* out) {
  pdlWait(); pdlTrigger();
  const T* xr = in + blockIdx.x * cols;
  T* yr = out + blockIdx.x * cols;
  float m = -INFINITY;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, toF(xr[j]));
  m = blockReduce(m, true);
  float s = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += __expf(toF(xr[j]) - m);
  s = blockReduce(s, false);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = fromF<T>(__expf(toF(xr[j]) - m) / s);
}
template <class T>
__global__ void argmaxLast(long long cols, long long rowStride, const T* in, long long* out) {
  pdlWait(); pdlTrigger();
  const T* xr = in + blockIdx.x * rowStride;
  float best = -INFINITY;
  long long bi = 0x7fffffffffffffffLL;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = toF(xr[j]);
    if (v > best || (v == best && j < bi)) { best = v; bi = j; }
  }
  __shared__ float sv[1024];
  __shared__ long long si[1024];
  sv[threadIdx.x] = best; si[threadIdx.x] = bi;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      float v = sv[threadIdx.x + s]; long long i = si[threadIdx.x + s];
      if (v > sv[threadIdx.x] || (v == sv[threadIdx.x] && i < si[threadIdx.x])) { sv[threadIdx.x] = v; si[threadIdx.x] = i; }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = si[0] == 0x7fffffffffffffffLL ? 0 : si[0];
}

// Argmax of long rows in two stages: ARGMAX_PARTS blocks per row each reduce a contiguous chunk (8 loads in
// flight per thread) to (value, index) in a workspace; one block per row merges them. Ties: the smallest index.
constexpr int ARGMAX_PARTS = 64, ARGMAX_MAX_ROWS = 64;
struct ArgBest { float v; long long i; };
ArgBest* g_argmaxWs = nullptr;
__device__ __forceinline__ void argBetter(float& bv, long long& bi, float v, long long i) {
  if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
}
__device__ void blockArgBest(float& bv, long long& bi) {
  __shared__ float sv[32];
  __shared__ long long si[32];
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o); long long oi = __shfl_xor_sync(0xffffffffu, bi, o);
    argBetter(bv, bi, ov, oi);
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) { sv[w] = bv; si[w] = bi; }
  __syncthreads();
  if (w == 0) {
    bv = lane < nw ? sv[lane] : -INFINITY; bi = lane < nw ? si[lane] : 0x7fffffffffffffffLL;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o); long long oi = __shfl_xor_sync(0xffffffffu, bi, o);
      argBetter(bv, bi, ov, oi);
    }
  }
}
template <class T>
__global__ void argmaxPart(long long cols, long long rowStride, const T* in, ArgBest* ws) {
  pdlWait(); pdlTrigger();
  const T* xr = in + blockIdx.y * rowStride;
  long long chunk = (cols + gridDim.x - 1) / gridDim.x, c0 = blockIdx.x * chunk, c1 = min(cols, c0 + chunk);
  float bv = -INFINITY; long long bi = 0x7fffffffffffffffLL;
  for (long long base = c0 + threadIdx.x; base < c1; base += 8LL * blockDim.x) {
    float v[8];
#pragma unroll
    for (int u = 0; u < 8; u++) { long long i = base + (long long)u * blockDim.x; v[u] = i < c1 ? toF(xr[i]) : -INFINITY; }
#pragma unroll
    for (int u = 0; u < 8; u++) { long long i = base + (long long)u * blockDim.x; if (i < c1) argBetter(bv, bi, v[u], i); }
  }
  blockArgBest(bv, bi);
  if (threadIdx.x == 0) ws[blockIdx.y * gridDim.x + blockIdx.x] = ArgBest{bv, bi};
}
__global__ void argmaxMerge(int parts, const ArgBest* ws, long long* out) {
  pdlWait(); pdlTrigger();
  float bv = -INFINITY; long long bi = 0x7fffffffffffffffLL;
  for (int p = threadIdx.x; p < parts; p += blockDim.x) argBetter(bv, bi, ws[blockIdx.x * parts + p].v, ws[blockIdx.x * parts + p].i);
  blockArgBest(bv, bi);
  if (threadIdx.x == 0) out[blockIdx.x] = bi == 0x7fffffffffffffffLL ? 0 : bi;
}

// ------------------------------------------------------------------------------------------ indexing
template <int ES>
__global__ void gatherRows(long long outer, long long axisDim, long long inner, long long nidx, int dti, const void* data, const void* idx, void* out) {
  pdlWait(); pdlTrigger();
  typedef typename Bytes<ES>::T T;
  long long total = outer * nidx * inner;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    long long in_ = e % inner, r = e / inner, i = r % nidx, o = r / nidx;
    long long k = dti == DT_I64 ? ((const long long*)idx)[i] : ((const int*)idx)[i];
    if (k < 0) k += axisDim;
    k = k < 0 ? 0 : k >= axisDim ? axisDim - 1 : k;
    ((T*)out)[e] = ((const T*)data)[(o * axisDim + k) * inner + in_];
  }
}

template <class T>
__global__ void rope(int B, int H, int S, int D, int rd, int inter, int l3, int dtc, const T* x, const void* cs, const void* sn,
                     const long long* pos, T* out, long long cbs) {
  pdlWait(); pdlTrigger();
  int half = rd / 2;
  int tail = D - rd;
  int per = half + tail;  // work items per (b, h, s) row
  long long total = (long long)B * H * S * per;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    int w = e % per;
    long long r = e / per;
    int s = r % S; long long bh = r / S; int h = bh % H; int b = bh / H;
    long long base = l3 ? (((long long)b * S + s) * H + h) * D : (((long long)b * H + h) * S + s) * D;
    if (w >= half) { int d = rd + (w - half); out[base + d] = x[base + d]; continue; }
    int i = w;
    long long crow = pos ? pos[(long long)b * S + s] * half : b * cbs + (long long)s * half;
    float c = (float)ldAny(cs, dtc, crow + i), sv = (float)ldAny(sn, dtc, crow + i);
    int i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
    float x1 = toF(x[base + i1]), x2 = toF(x[base + i2]);
    out[base + i1] = fromF<T>(c * x1 - sv * x2);
    out[base + i2] = fromF<T>(sv * x1 + c * x2);
  }
}

template <int ES>
__global__ void cacheWrite(int B, int H, int T, int D, int S, void* dst, const void* cur, const long long* start) {
  pdlWait(); pdlTrigger();
  typedef typename Bytes<ES>::T E;
  long long st = *start;
  long long total = (long long)B * H * S * D;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    int d = e % D; long long r = e / D; int s = r % S; long long bh = r / S;
    long long t = st + s;
    if (t < 0 || t >= T) continue;  // the host checks start + seq <= max_seq_len before it runs
    ((E*)dst)[(bh * T + t) * D + d] = ((const E*)cur)[e];
  }
}

// One launch for an attention prologue (OP_ROPE_PACK): RoPE of q and of k, k's rotated rows also into its
// in-place cache, v's rows into its cache. One flat index space over the three jobs, 4-D [B, H, S, D] layout.
struct RopePack {
  int B, S, D, rd, inter, T, dtc; const void *cs, *sn; const long long* pos; long long cbs; const long long* start;
  int Hq; const void* xq; void* oq; int Hk; const void* xk; void* ok; void* kc; int Hv; const void* xv; void* vc;
};
template <class T>
__global__ void ropePack(RopePack p) {
  pdlWait(); pdlTrigger();
  const int half = p.rd / 2, per = half + (p.D - p.rd);
  const long long nq = (long long)p.B * p.Hq * p.S * per, nk = (long long)p.B * p.Hk * p.S * per, nv = p.vc ? (long long)p.B * p.Hv * p.S * p.D : 0;
  const long long st = p.start ? *p.start : 0;
  const bool inRange = st >= 0 && st + p.S <= p.T;  // the host checks start + seq <= max_seq_len before it runs
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < nq + nk + nv; e += (long long)gridDim.x * blockDim.x) {
    if (e >= nq + nk) {
      long long f = e - nq - nk;
      int d = f % p.D; long long r = f / p.D; int s = r % p.S; long long bh = r / p.S;
      if (inRange) ((T*)p.vc)[(bh * p.T + st + s) * p.D + d] = ((const T*)p.xv)[f];
      continue;
    }
    const bool isK = e >= nq;
    const long long f = isK ? e - nq : e;
    const int H = isK ? p.Hk : p.Hq;
    const T* x = (const T*)(isK ? p.xk : p.xq);
    T* out = (T*)(isK ? p.ok : p.oq);
    T* cache = isK && inRange ? (T*)p.kc : nullptr;
    int w = f % per; long long r = f / per;
    int s = r % p.S; long long bh = r / p.S; int b = bh / H;
    long long base = (bh * p.S + s) * p.D, cbase = (bh * p.T + st + s) * p.D;
    if (w >= half) {
      int d = p.rd + (w - half);
      out[base + d] = x[base + d];
      if (cache) cache[cbase + d] = x[base + d];
      continue;
    }
    long long crow = p.pos ? p.pos[(long long)b * p.S + s] * half : b * p.cbs + (long long)s * half;
    float c = (float)ldAny(p.cs, p.dtc, crow + w), sv = (float)ldAny(p.sn, p.dtc, crow + w);
    int i1 = p.inter ? 2 * w : w, i2 = p.inter ? 2 * w + 1 : w + half;
    float x1 = toF(x[base + i1]), x2 = toF(x[base + i2]);
    T y1 = fromF<T>(c * x1 - sv * x2), y2 = fromF<T>(sv * x1 + c * x2);
    out[base + i1] = y1; out[base + i2] = y2;
    if (cache) { cache[cbase + i1] = y1; cache[cbase + i2] = y2; }
  }
}

__global__ void advance(int B, long long* ids, const long long* next, long long* pos, long long* start, long long* end, long long* log, long long* counter) {
  pdlWait(); pdlTrigger();
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  long long c = *counter;
  for (int b = 0; b < B; b++) { ids[b] = next[b]; pos[b] += 1; log[c * B + b] = next[b]; }
  *start += 1; *end += 1; *counter = c + 1;
}

// ------------------------------------------------------------------------------------------ GEMV (M <= 4)
// y_i[m, n] = sum_k x[m, k] W_i[n, k] (+ bias_i[n]) for up to 4 weight matrices sharing x (q/k/v: one launch).
// W_i row-major [N_i, K] (the backend stores GEMV weights transposed from ONNX's [K, N]; tied LM heads are
// [N, K] already), K % (16 / sizeof(T)) == 0. With `up` set, the segment is a SwiGLU MLP's gate/up pair:
// y[m, n] = silu(x . W[n]) * (x . up[n]). A block is 8 warps; `wpr` warps share one row (each a K range, summed
// in shared memory), so a block covers 8 / wpr rows. Each lane issues U 16-byte weight loads (streamed past L1)
// before it uses them; the first batch is loaded before pdlWait(), overlapping the previous kernel.
struct GemvSeg { const void* W; const void* up; const void* bias; void* y; int N; int blockStart; };
// Optional RMSNorm prologue (a fused ADD_RMSNORM / RMSNORM that only this GEMV reads): x = rmsnorm(a (+ b)) *
// scale, computed by every block into shared memory (block 0 also writes the residual sum a + b when asked).
struct GemvNorm { const void* a; const void* b; const void* scale; void* sum; float eps; int dts; };
struct GemvSegs { GemvSeg s[MAX_GEMV_SEGS]; int n; int wpr; GemvNorm norm; };

__device__ __forceinline__ uint4 ldStream(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
template <class T>
__device__ __forceinline__ float dot16(const uint4& a, const uint4& b) {
  const T* x = (const T*)&a;
  const T* w = (const T*)&b;
  float s = 0.f;
#pragma unroll
  for (int e = 0; e < (int)(16 / sizeof(T)); e++) s += toF(x[e]) * toF(w[e]);
  return s;
}

constexpr int GEMV_THREADS = 256, GEMV_WARPS = GEMV_THREADS / 32, GEMV_U = 4;
// Largest normalised input a block keeps in shared memory (M * K elements; src/runtime/plan/fuse-norm-gemv.ts).
constexpr int GEMV_NORM_SMEM = 47 * 1024;  // with the kernel's static shared memory, under the 48 KB needing no opt-in

template <class T, int M>
__global__ void __launch_bounds__(GEMV_THREADS) gemvKernel(const T* x, GemvSegs segs, int K) {
  constexpr int VEC = 16 / sizeof(T);
  extern __shared__ __align__(16) unsigned char gemvSmem[];
  __shared__ float red[GEMV_WARPS][2][M];
  int si = 0;
#pragma unroll
  for (int i = 1; i < MAX_GEMV_SEGS; i++) if (i < segs.n && (int)blockIdx.x >= segs.s[i].blockStart) si = i;
  const GemvSeg& sg = segs.s[si];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpr = segs.wpr;
  const int n = (blockIdx.x - sg.blockStart) * (GEMV_WARPS / wpr) + warp / wpr, part = warp % wpr;
  const bool valid = n < sg.N, swiglu = sg.up != nullptr;
  const int KV = K / VEC, chunk = (KV + wpr - 1) / wpr;
  const int kb = part * chunk, ke = min(KV, kb + chunk);
  const uint4* wr = (const uint4*)sg.W + (size_t)(valid ? n : 0) * KV;
  const uint4* ur = swiglu ? (const uint4*)sg.up + (size_t)(valid ? n : 0) * KV : wr;
  uint4 w[GEMV_U], u[GEMV_U];
  auto load = [&](int base) {
#pragma unroll
    for (int j = 0; j < GEMV_U; j++) {
      int i = base + j * 32 + lane;
      bool in = valid && i < ke;
      w[j] = in ? ldStream(wr + i) : make_uint4(0, 0, 0, 0);
      u[j] = in && swiglu ? ldStream(ur + i) : make_uint4(0, 0, 0, 0);
    }
  };
  // The first weight loads do not depend on the previous kernel: issue them before the wait.
  const bool prefetch = d_pdlFlags & 2;
  if (prefetch) load(kb);
  pdlWait(); pdlTrigger();
  if (!prefetch) load(kb);
  const T* xs = x;
  if (segs.norm.a) {
    T* nx = (T*)gemvSmem;
    const GemvNorm& nm = segs.norm;
    for (int m = 0; m < M; m++) {
      const T* ar = (const T*)nm.a + (size_t)m * K;
      const T* br = nm.b ? (const T*)nm.b + (size_t)m * K : nullptr;
      float ss = 0.f;
      for (int k = threadIdx.x; k < K; k += GEMV_THREADS) {
        T r = br ? fromF<T>(toF(ar[k]) + toF(br[k])) : ar[k];
        nx[(size_t)m * K + k] = r;
        float v = toF(r);
        ss += v * v;
      }
      ss = blockReduce(ss, false);
      const float inv = rsqrtf(ss / (float)K + nm.eps);
      for (int k = threadIdx.x; k < K; k += GEMV_THREADS) {
        T r = nx[(size_t)m * K + k];
        if (nm.sum && blockIdx.x == 0) ((T*)nm.sum)[(size_t)m * K + k] = r;
        float sc = nm.dts == DT_F32 ? ((const float*)nm.scale)[k] : toF(((const T*)nm.scale)[k]);
        nx[(size_t)m * K + k] = fromF<T>(toF(r) * inv * sc);
      }
    }
    __syncthreads();
    xs = nx;
  }
  float acc[M], acc2[M];
#pragma unroll
  for (int m = 0; m < M; m++) acc[m] = acc2[m] = 0.f;
  for (int base = kb; base < ke;) {
#pragma unroll
    for (int j = 0; j < GEMV_U; j++) {
      int i = base + j * 32 + lane;
      if (!valid || i >= ke) break;
#pragma unroll
      for (int m = 0; m < M; m++) {
        uint4 xv = *((const uint4*)(xs + (size_t)m * K) + i);
        acc[m] += dot16<T>(xv, w[j]);
        if (swiglu) acc2[m] += dot16<T>(xv, u[j]);
      }
    }
    base += 32 * GEMV_U;
    if (base < ke) load(base);
  }
#pragma unroll
  for (int m = 0; m < M; m++) { acc[m] = warpSum(acc[m]); if (swiglu) acc2[m] = warpSum(acc2[m]); }
  if (wpr > 1) {
    if (lane == 0)
#pragma unroll
      for (int m = 0; m < M; m++) { red[warp][0][m] = acc[m]; red[warp][1][m] = acc2[m]; }
    __syncthreads();
    if (part != 0) return;
#pragma unroll
    for (int m = 0; m < M; m++) {
      float a = 0.f, b = 0.f;
      for (int j = 0; j < wpr; j++) { a += red[warp + j][0][m]; b += red[warp + j][1][m]; }
      acc[m] = a; acc2[m] = b;
    }
  }
  if (lane != 0 || !valid) return;
  T* y = (T*)sg.y;
  const T* bias = (const T*)sg.bias;
#pragma unroll
  for (int m = 0; m < M; m++) {
    float v = acc[m];
    if (swiglu) v = v / (1.f + __expf(-v)) * acc2[m];
    else if (bias) v += toF(bias[n]);
    y[(size_t)m * sg.N + n] = fromF<T>(v);
  }
}

// sum = a + b (the residual stream) and out = rmsnorm(sum) * scale, one block per row.
template <class T, class TS>
__global__ void addRmsNorm(long long cols, float eps, const T* a, const T* b, const TS* scale, T* sum, T* out) {
  pdlWait(); pdlTrigger();
  size_t base = (size_t)blockIdx.x * cols;
  float ss = 0.f;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    T r = fromF<T>(toF(a[base + j]) + toF(b[base + j]));
    sum[base + j] = r;
    float v = toF(r);
    ss += v * v;
  }
  ss = blockReduce(ss, false);
  float inv = rsqrtf(ss / (float)cols + eps);
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) out[base + j] = fromF<T>(toF(sum[base + j]) * inv * toF(scale[j]));
}

// ------------------------------------------------------------------------------------------ attention
// One block: one (batch, kv head, split of the keys) and 16 query rows of that kv head's group, where row r
// is (s = r / G, q head = kvHead * G + r % G): GQA heads that share K/V share each K/V tile in shared memory.
// 4 warps x 4 rows; a tile is 32 keys (lane = key for the scores, lane = output dims for P.V); online softmax.
// With splits > 1 (flash-decoding), each block writes (max, sum, unnormalised output) to ws and
// attnCombine merges the splits.
constexpr int ATT_ROWS_PER_WARP = 4, ATT_WARPS = 4, ATT_ROWS = ATT_ROWS_PER_WARP * ATT_WARPS, ATT_KT = 32;

template <class T, int NV>
__global__ void __launch_bounds__(128) attnKernel(AttnArgs a) {
  pdlWait(); pdlTrigger();
  extern __shared__ float smem[];
  const int D = a.D, Dv = a.Dv, G = a.Hq / a.Hkv, rowsTotal = G * a.S;
  float* Kt = smem;                       // [32][D + 1]
  float* Vt = Kt + ATT_KT * (D + 1);      // [32][Dv]
  float* Qs = Vt + ATT_KT * Dv;           // [16][D]
  const int b = blockIdx.z, kvh = blockIdx.y % a.Hkv, split = blockIdx.y / a.Hkv;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int row0 = blockIdx.x * ATT_ROWS;
  const long long start = a.causal == C_OFFSET ? *a.start : 0;
  long long kvlen = a.causal == C_OFFSET ? min((long long)a.T, start + a.S) : (long long)a.T;
  const T* q = (const T*)a.q;
  const T* kp = (const T*)a.k + b * a.kb + kvh * a.kh;
  const T* vp = (const T*)a.v + b * a.vb + kvh * a.vh;
  // Scaled queries into shared memory.
  for (int e = threadIdx.x; e < ATT_ROWS * D; e += blockDim.x) {
    int r = e / D, d = e % D, row = row0 + r;
    float v = 0.f;
    if (row < rowsTotal) {
      int s = row / G, hq = kvh * G + row % G;
      v = toF(q[b * a.qb + hq * a.qh + s * a.qs + d]) * a.scale;
    }
    Qs[e] = v;
  }
  // Key range of this block: its split, bounded by the causal limit of its last row.
  long long kb = (long long)split * a.chunk, ke = min(kvlen, kb + a.chunk);
  int lastRow = min(rowsTotal - 1, row0 + ATT_ROWS - 1);
  long long sMax = lastRow / G;
  if (a.causal == C_TOP_LEFT) ke = min(ke, sMax + 1);
  if (a.causal == C_OFFSET) ke = min(ke, start + sMax + 1);
  float m[ATT_ROWS_PER_WARP], l[ATT_ROWS_PER_WARP], o[ATT_ROWS_PER_WARP][NV];
#pragma unroll
  for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
    m[i] = -INFINITY; l[i] = 0.f;
#pragma unroll
    for (int v = 0; v < NV; v++) o[i][v] = 0.f;
  }
  for (long long j0 = kb; j0 < ke; j0 += ATT_KT) {
    __syncthreads();
    for (int e = threadIdx.x; e < ATT_KT * D; e += blockDim.x) {
      int jj = e / D, d = e % D;
      long long j = j0 + jj;
      Kt[jj * (D + 1) + d] = j < ke ? toF(kp[j * a.kt + d]) : 0.f;
    }
    for (int e = threadIdx.x; e < ATT_KT * Dv; e += blockDim.x) {
      int jj = e / Dv, d = e % Dv;
      long long j = j0 + jj;
      Vt[e] = j < ke ? toF(vp[j * a.vt + d]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
      int r = warp * ATT_ROWS_PER_WARP + i, row = row0 + r;
      if (row >= rowsTotal) continue;  // warp-uniform
      int s = row / G, hq = kvh * G + row % G;
      long long j = j0 + lane;
      bool ok = j < ke;
      if (a.causal == C_TOP_LEFT) ok = ok && j <= s;
      if (a.causal == C_OFFSET) ok = ok && j <= start + s;
      float extra = 0.f;
      if (ok && a.mtype != MT_NONE) {
        long long mo = b * a.msb + hq * a.msh + s * a.mss + j * a.mst;
        if (a.mtype == MT_BOOL) ok = ((const unsigned char*)a.mask)[mo] != 0;
        else extra = toF(((const T*)a.mask)[mo]);
      }
      float sc = -INFINITY;
      if (ok) {
        const float* qr = Qs + r * D;
        const float* kr = Kt + lane * (D + 1);
        float dot = 0.f;
        for (int d = 0; d < D; d++) dot += qr[d] * kr[d];
        sc = dot + extra;
      }
      float mNew = fmaxf(m[i], warpMax(sc));
      if (mNew == -INFINITY) continue;
      float p = sc == -INFINITY ? 0.f : __expf(sc - mNew);
      float corr = m[i] == -INFINITY ? 0.f : __expf(m[i] - mNew);
      l[i] = l[i] * corr + warpSum(p);
      m[i] = mNew;
#pragma unroll
      for (int v = 0; v < NV; v++) o[i][v] *= corr;
      for (int jj = 0; jj < ATT_KT; jj++) {
        float pj = __shfl_sync(0xffffffffu, p, jj);
        if (pj == 0.f) continue;
        const float* vr = Vt + jj * Dv;
#pragma unroll
        for (int v = 0; v < NV; v++) {
          int d = lane + 32 * v;
          if (d < Dv) o[i][v] += pj * vr[d];
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
    int row = row0 + warp * ATT_ROWS_PER_WARP + i;
    if (row >= rowsTotal) continue;
    int s = row / G, hq = kvh * G + row % G;
    if (a.splits == 1) {
      T* out = (T*)a.out + b * a.ob + hq * a.oh + s * a.os;
      float inv = l[i] > 0.f ? 1.f / l[i] : 0.f;
#pragma unroll
      for (int v = 0; v < NV; v++) {
        int d = lane + 32 * v;
        if (d < Dv) out[d] = fromF<T>(o[i][v] * inv);
      }
    } else {
      float* w = a.ws + ((((long long)b * a.Hq + hq) * a.S + s) * a.splits + split) * (Dv + 2);
      if (lane == 0) { w[0] = m[i]; w[1] = l[i]; }
#pragma unroll
      for (int v = 0; v < NV; v++) {
        int d = lane + 32 * v;
        if (d < Dv) w[2 + d] = o[i][v];
      }
    }
  }
}

// Merges the per-split partial softmax states of one query row (each split: max, sum, unnormalised output[Dv]) into
// output dim d. Loads bypass L1 (__ldcg): in attnDecode's in-kernel merge, other blocks wrote them moments ago.
__device__ __forceinline__ float mergeSplits(const float* w, int splits, int Dv, int d) {
  float M = -INFINITY;
  for (int k = 0; k < splits; k++) M = fmaxf(M, __ldcg(&w[k * (Dv + 2)]));
  float L = 0.f, O = 0.f;
  if (M != -INFINITY)
    for (int k = 0; k < splits; k++) {
      const float* p = w + k * (Dv + 2);
      float mk = __ldcg(&p[0]);
      if (mk == -INFINITY) continue;
      float f = __expf(mk - M);
      L += __ldcg(&p[1]) * f;
      O += __ldcg(&p[2 + d]) * f;
    }
  return L > 0.f ? O / L : 0.f;
}

template <class T>
__global__ void attnCombine(AttnArgs a) {
  pdlWait(); pdlTrigger();
  long long row = blockIdx.x;  // (b * Hq + hq) * S + s
  int s = row % a.S; long long bh = row / a.S; int hq = bh % a.Hq; int b = bh / a.Hq;
  const float* w = a.ws + row * a.splits * (a.Dv + 2);
  T* out = (T*)a.out + b * a.ob + hq * a.oh + s * a.os;
  for (int d = threadIdx.x; d < a.Dv; d += blockDim.x) out[d] = fromF<T>(mergeSplits(w, a.splits, a.Dv, d));
}

// Decode attention (few query rows per kv head: G * S <= 8, no mask tensor, D = Dv in {32, 64, 128}): one block per
// (kv head, key split, batch), 8 warps; lane = key. Each lane loads its whole K row at once (16-byte loads, all in
// flight), scores it against every query row held in shared memory, and the warp keeps an online softmax per
// row; P.V reads V rows coalesced (lane = output dims), fully unrolled over the 32 keys of a tile so the loads
// are issued ahead. The 8 warps' partial softmax states are merged in shared memory; with splits > 1 the block
// writes (max, sum, unnormalised output) for attnCombine, like attnKernel.
constexpr int DEC_WARPS = 8, DEC_MAXR = 8;

template <class T, int D>
__global__ void __launch_bounds__(DEC_WARPS * 32) attnDecode(AttnArgs a, unsigned* counters) {
  pdlWait(); pdlTrigger();
  constexpr int VEC = 16 / sizeof(T), NL = D / VEC, DPL = D / 32;
  __shared__ float qs[DEC_MAXR][D];
  __shared__ float wm[DEC_WARPS][DEC_MAXR], wl[DEC_WARPS][DEC_MAXR];
  __shared__ float wo[DEC_WARPS][DEC_MAXR][D];
  const int G = a.Hq / a.Hkv, rows = G * a.S;
  const int kvh = blockIdx.x, split = blockIdx.y, b = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long start = a.causal == C_OFFSET ? *a.start : 0;
  long long ke = a.causal == C_OFFSET ? min((long long)a.T, start + a.S) : (long long)a.T;
  if (a.causal == C_TOP_LEFT) ke = min(ke, (long long)a.S);
  const long long kb = (long long)split * a.chunk;
  ke = min(ke, kb + a.chunk);
  const T* q = (const T*)a.q;
  for (int e = threadIdx.x; e < DEC_MAXR * D; e += blockDim.x) {
    int r = e / D, d = e % D;
    float v = 0.f;
    if (r < rows) v = toF(q[b * a.qb + (kvh * G + r % G) * a.qh + (r / G) * a.qs + d]) * a.scale;
    qs[r][d] = v;
  }
  __syncthreads();
  const T* kp = (const T*)a.k + b * a.kb + kvh * a.kh;
  const T* vp = (const T*)a.v + b * a.vb + kvh * a.vh;
  float m[DEC_MAXR], l[DEC_MAXR], o[DEC_MAXR][DPL];
#pragma unroll
  for (int r = 0; r < DEC_MAXR; r++) {
    m[r] = -INFINITY; l[r] = 0.f;
#pragma unroll
    for (int e = 0; e < DPL; e++) o[r][e] = 0.f;
  }
  for (long long j0 = kb + warp * 32; j0 < ke; j0 += DEC_WARPS * 32) {
    const long long j = j0 + lane;
    const bool live = j < ke;
    uint4 kr[NL];
#pragma unroll
    for (int u = 0; u < NL; u++) kr[u] = live ? __ldg((const uint4*)(kp + j * a.kt) + u) : make_uint4(0, 0, 0, 0);
    float p[DEC_MAXR];
#pragma unroll
    for (int r = 0; r < DEC_MAXR; r++) {
      if (r >= rows) break;  // block-uniform
      const int s = r / G;
      bool ok = live && (a.causal != C_OFFSET || j <= start + s) && (a.causal != C_TOP_LEFT || j <= s);
      float dot = 0.f;
#pragma unroll
      for (int u = 0; u < NL; u++) {
        const T* kv = (const T*)&kr[u];
#pragma unroll
        for (int e = 0; e < VEC; e++) dot += qs[r][u * VEC + e] * toF(kv[e]);
      }
      float sc = ok ? dot : -INFINITY;
      float mNew = fmaxf(m[r], warpMax(sc));
      if (mNew == -INFINITY) { p[r] = 0.f; continue; }
      float pr = ok ? __expf(sc - mNew) : 0.f;
      float corr = m[r] == -INFINITY ? 0.f : __expf(m[r] - mNew);
      l[r] = l[r] * corr + warpSum(pr);
      m[r] = mNew;
#pragma unroll
      for (int e = 0; e < DPL; e++) o[r][e] *= corr;
      p[r] = pr;
    }
    // P.V over the tile's keys: lane owns output dims [lane * DPL, +DPL).
    const int nk = (int)min((long long)32, ke - j0);
#pragma unroll 8
    for (int jj = 0; jj < 32; jj++) {
      if (jj >= nk) break;
      float vv[DPL];
      const T* vr = vp + (j0 + jj) * a.vt + lane * DPL;
#pragma unroll
      for (int e = 0; e < DPL; e++) vv[e] = toF(vr[e]);
#pragma unroll
      for (int r = 0; r < DEC_MAXR; r++) {
        if (r >= rows) break;
        float pj = __shfl_sync(0xffffffffu, p[r], jj);
#pragma unroll
        for (int e = 0; e < DPL; e++) o[r][e] += pj * vv[e];
      }
    }
  }
  // Merge the warps.
#pragma unroll
  for (int r = 0; r < DEC_MAXR; r++) {
    if (r >= rows) break;
    if (lane == 0) { wm[warp][r] = m[r]; wl[warp][r] = l[r]; }
#pragma unroll
    for (int e = 0; e < DPL; e++) wo[warp][r][lane * DPL + e] = o[r][e];
  }
  __syncthreads();
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, d = e % D, s = r / G, hq = kvh * G + r % G;
    float M = -INFINITY;
    for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, wm[w][r]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY)
      for (int w = 0; w < DEC_WARPS; w++) {
        if (wm[w][r] == -INFINITY) continue;
        float f = __expf(wm[w][r] - M);
        L += wl[w][r] * f;
        O += wo[w][r][d] * f;
      }
    if (a.splits == 1) {
      ((T*)a.out)[b * a.ob + hq * a.oh + s * a.os + d] = fromF<T>(L > 0.f ? O / L : 0.f);
    } else {
      float* w = a.ws + ((((long long)b * a.Hq + hq) * a.S + s) * a.splits + split) * (D + 2);
      if (d == 0) { w[0] = M; w[1] = L; }
      w[2 + d] = O;
    }
  }
  if (a.splits == 1 || !counters) return;
  // The last split block of this (batch, kv head) to finish merges the splits (no separate combine launch).
  __shared__ bool isLast;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) isLast = atomicAdd(&counters[b * a.Hkv + kvh], 1u) == (unsigned)a.splits - 1;
  __syncthreads();
  if (!isLast) return;
  __threadfence();
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, d = e % D, s = r / G, hq = kvh * G + r % G;
    const float* w = a.ws + (((long long)b * a.Hq + hq) * a.S + s) * a.splits * (D + 2);
    ((T*)a.out)[b * a.ob + hq * a.oh + s * a.os + d] = fromF<T>(mergeSplits(w, a.splits, D, d));
  }
  if (threadIdx.x == 0) counters[b * a.Hkv + kvh] = 0;
}

constexpr int ATTN_COUNTERS = 4096;
unsigned* g_attnCounters = nullptr;  // zeroed at init; each merge resets its own

template <class T>
bool launchAttnDecode(const AttnArgs& a) {
  dim3 grid(a.Hkv, a.splits, a.B);
  unsigned* cnt = a.splits > 1 && g_attnCounters && (long long)a.B * a.Hkv <= ATTN_COUNTERS ? g_attnCounters : nullptr;
  if (a.D == 32) launchK(attnDecode<T, 32>, grid, DEC_WARPS * 32, 0, a, cnt);
  else if (a.D == 64) launchK(attnDecode<T, 64>, grid, DEC_WARPS * 32, 0, a, cnt);
  else launchK(attnDecode<T, 128>, grid, DEC_WARPS * 32, 0, a, cnt);
  if (a.splits > 1 && !cnt) launchK(attnCombine<T>, a.B * a.Hq * a.S, 128, 0, a);
  return true;
}

size_t attnSmem(int D, int Dv) { return (size_t)(ATT_KT * (D + 1) + ATT_KT * Dv + ATT_ROWS * D) * sizeof(float); }

template <class T, int NV>
bool launchAttnNV(const AttnArgs& a, std::string& err) {
  size_t sm = attnSmem(a.D, a.Dv);
  static bool raised = false;
  if (!raised) {
    if (!ck(cudaFuncSetAttribute(attnKernel<T, NV>, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024), err, "attention smem")) {
      // fall through: small head dims do not need it
      cudaGetLastError();
    }
    raised = true;
  }
  int G = a.Hq / a.Hkv;
  dim3 grid((G * a.S + ATT_ROWS - 1) / ATT_ROWS, a.Hkv * a.splits, a.B);
  launchK(attnKernel<T, NV>, grid, ATT_WARPS * 32, sm, a);
  if (a.splits > 1) launchK(attnCombine<T>, a.B * a.Hq * a.S, 128, 0, a);
  return true;
}
template <class T>
bool launchAttn(const AttnArgs& a, std::string& err) {
  // The decode kernel's 16-byte K loads need 16-byte aligned rows.
  const bool aligned = ((uintptr_t)a.k % 16 == 0) && (a.kt * (long long)sizeof(T)) % 16 == 0 && (a.kb * (long long)sizeof(T)) % 16 == 0 && (a.kh * (long long)sizeof(T)) % 16 == 0;
  if (g_attnDecode && a.mtype == MT_NONE && a.D == a.Dv && (a.D == 32 || a.D == 64 || a.D == 128) && (a.Hq / a.Hkv) * a.S <= DEC_MAXR && aligned)
    return launchAttnDecode<T>(a);
  int nv = (a.Dv + 31) / 32;
  if (a.D > 256 || a.Dv > 256) { err = "attention: head size above 256 is not supported"; return false; }
  if (nv <= 1) return launchAttnNV<T, 1>(a, err);
  if (nv <= 2) return launchAttnNV<T, 2>(a, err);
  if (nv <= 4) return launchAttnNV<T, 4>(a, err);
  return launchAttnNV<T, 8>(a, err);
}

// ------------------------------------------------------------------------------------------ dispatch
void readNd3(ArgReader& r, Nd3& nd, int nstr) {
  nd.rank = r.in();
  for (int i = 0; i < MAXR; i++) nd.dims[i] = (unsigned)r.ll();
  long long* s[3] = {nd.s0, nd.s1, nd.s2};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < MAXR; i++) s[k][i] = k < nstr ? r.ll() : 0;
}
unsigned countOf(const Nd3& nd) {
  unsigned long long n = 1;
  for (int i = 0; i < nd.rank; i++) n *= nd.dims[i];
  return (unsigned)n;
}
bool contiguousStrides(const Nd3& nd, const long long* s) {
  long long want = 1;
  for (int d = nd.rank - 1; d >= 0; d--) {
    if (nd.dims[d] != 1 && s[d] != want) return false;
    want *= nd.dims[d];
  }
  return true;
}

bool gemm(int dt, int ta, int tb, long long M, long long N, long long K, long long batch, const void* A, long long sA, const void* B,
          long long sB, void* C, long long sC, float alpha, float beta, std::string& err) {
  int ct = dt == DT_F32 ? cublas::R_32F : dt == DT_F16 ? cublas::R_16F : cublas::R_16BF;
  // Row-major C[M,N] = A[M,K] B[K,N] is column-major C^T = B^T A^T.
  int opB = tb ? cublas::OP_T : cublas::OP_N, opA = ta ? cublas::OP_T : cublas::OP_N;
  int ldb = tb ? (int)K : (int)N, lda = ta ? (int)M : (int)K;
  cublas::Status st = cublas::gemmStridedBatchedEx(cublas::handle, opB, opA, (int)N, (int)M, (int)K, &alpha, B, ct, ldb, sB, A, ct, lda, sA,
                                                   &beta, C, ct, (int)N, sC, (int)batch, cublas::COMPUTE_32F, cublas::GEMM_DEFAULT);
  if (st != 0) { err = "cublasGemmStridedBatchedEx failed with status " + std::to_string(st); return false; }
  return true;
}

// Warps per row: each warp takes about 256 16-byte loads of a row (8 per lane), at most a whole block (8).
int gemvWarpsPerRow(long long K, int vec) {
  long long kv = K / vec;
  int w = 1;
  while (w < GEMV_WARPS && kv > 256LL * w) w *= 2;
  return w;
}

template <class T>
bool gemvRun(long long M, long long K, const void* x, GemvSegs segs, std::string& err) {
  constexpr int VEC = 16 / sizeof(T);
  if (K % VEC) { err = "gemv: K must be a multiple of " + std::to_string(VEC); return false; }
  segs.wpr = gemvWarpsPerRow(K, VEC);
  const int rowsPerBlock = GEMV_WARPS / segs.wpr;
  int blocks = 0;
  for (int i = 0; i < segs.n; i++) {
    segs.s[i].blockStart = blocks;
    blocks += (segs.s[i].N + rowsPerBlock - 1) / rowsPerBlock;
  }
  if (!blocks) return true;
  const T* xp = (const T*)x;
  size_t smem = segs.norm.a ? (size_t)M * K * sizeof(T) : 0;
  if (smem > GEMV_NORM_SMEM) { err = "gemv: the normalised input (" + std::to_string(smem) + " bytes) exceeds shared memory"; return false; }
  switch (M) {
    case 1: launchK(gemvKernel<T, 1>, blocks, GEMV_THREADS, smem, xp, segs, (int)K); break;
    case 2: launchK(gemvKernel<T, 2>, blocks, GEMV_THREADS, smem, xp, segs, (int)K); break;
    case 3: launchK(gemvKernel<T, 3>, blocks, GEMV_THREADS, smem, xp, segs, (int)K); break;
    case 4: launchK(gemvKernel<T, 4>, blocks, GEMV_THREADS, smem, xp, segs, (int)K); break;
    default: err = "gemv: M above 4"; return false;
  }
  return true;
}

#define LAUNCH_FLOAT_T(dt, KERNEL_CALL)                                   \
  do {                                                                    \
    if ((dt) == DT_F32) { typedef float T; KERNEL_CALL; }                 \
    else if ((dt) == DT_F16) { typedef __half T; KERNEL_CALL; }           \
    else if ((dt) == DT_BF16) { typedef __nv_bfloat16 T; KERNEL_CALL; }   \
    else { err = "expected a float dtype"; return false; }                \
  } while (0)

int normThreads(long long cols) {
  int t = 32;
  while (t < 1024 && t < cols / 4) t *= 2;
  return t;
}

#include "sample.cuh"

bool execOne(int op, ArgReader& r, std::string& err) {
  switch (op) {
    case OP_SAMPLE: return launchSample(r, err);
    case OP_COPY: {
      int dti = r.in(), dto = r.in();
      Nd3 nd; readNd3(r, nd, 2);
      void* in = r.p<void>(); void* out = r.p<void>();
      unsigned n = countOf(nd);
      if (n == 0) return true;
      if (dti == dto && contiguousStrides(nd, nd.s0) && contiguousStrides(nd, nd.s1))
        return ck(cudaMemcpyAsync(out, in, (size_t)n * dtSize(dti), cudaMemcpyDeviceToDevice, g_stream), err, "copy");
      if (dti == dto) {
        switch (dtSize(dti)) {
          case 1: launchK(copyRaw<1>, blocksFor(n), 256, 0, nd, n, in, out); break;
          case 2: launchK(copyRaw<2>, blocksFor(n), 256, 0, nd, n, in, out); break;
          case 4: launchK(copyRaw<4>, blocksFor(n), 256, 0, nd, n, in, out); break;
          default: launchK(copyRaw<8>, blocksFor(n), 256, 0, nd, n, in, out); break;
        }
      } else {
        launchK(copyCast, blocksFor(n), 256, 0, nd, n, dti, dto, in, out);
      }
      return true;
    }
    case OP_BINARY: {
      int bop = r.in(), dta = r.in(), dtb = r.in(), dto = r.in();
      Nd3 nd; readNd3(r, nd, 2);
      void* a = r.p<void>(); void* b = r.p<void>(); void* out = r.p<void>();
      unsigned n = countOf(nd);
      if (n == 0) return true;
      bool same = dta == dtb && dta == dto && dta <= DT_BF16 && bop <= B_MIN;
      if (same) {
        bool contiguous = contiguousStrides(nd, nd.s0) && contiguousStrides(nd, nd.s1);
        LAUNCH_FLOAT_T(dta, (launchK(binarySame<T>, blocksFor(n), 256, 0, bop, nd, n, (const T*)a, (const T*)b, (T*)out, contiguous)));
      } else {
        launchK(binaryAny, blocksFor(n), 256, 0, bop, nd, n, dta, dtb, dto, a, b, out);
      }
      return true;
    }
    case OP_UNARY: {
      int uop = r.in(), dti = r.in(), dto = r.in(); long long n = r.ll(); void* in = r.p<void>(); void* out = r.p<void>(); r.d();
      if (n == 0) return true;
      if (dti == dto && dti <= DT_BF16 && uop != U_NOT) {
        LAUNCH_FLOAT_T(dti, (launchK(unarySame<T>, blocksFor(n), 256, 0, uop, (unsigned)n, (const T*)in, (T*)out)));
      } else {
        launchK(unaryAny, blocksFor(n), 256, 0, uop, (unsigned)n, dti, dto, in, out);
      }
      return true;
    }
    case OP_WHERE: {
      int dt = r.in();
      Nd3 nd; readNd3(r, nd, 3);
      void* c = r.p<void>(); void* x = r.p<void>(); void* y = r.p<void>(); void* out = r.p<void>();
      unsigned n = countOf(nd);
      if (n) launchK(whereAny, blocksFor(n), 256, 0, nd, n, dt, (const unsigned char*)c, x, y, out);
      return true;
    }
    case OP_GEMM: {
      int dt = r.in(), ta = r.in(), tb = r.in(); long long M = r.ll(), N = r.ll(), K = r.ll(), batch = r.ll();
      void* A = r.p<void>(); long long sA = r.ll(); void* B = r.p<void>(); long long sB = r.ll(); void* C = r.p<void>(); long long sC = r.ll();
      float alpha = r.f(), beta = r.f();
      if (M == 0 || N == 0) return true;
      return gemm(dt, ta, tb, M, N, K, batch, A, sA, B, sB, C, sC, alpha, beta, err);
    }
    case OP_GEMV: {
      int dt = r.in(); long long M = r.ll(), K = r.ll(); int nseg = r.in();
      void* x = r.p<void>();
      GemvSegs segs{};
      segs.norm.a = r.p<void>(); segs.norm.b = r.p<void>(); segs.norm.scale = r.p<void>(); segs.norm.sum = r.p<void>();
      segs.norm.eps = r.f(); segs.norm.dts = r.in();
      if (nseg < 1 || nseg > MAX_GEMV_SEGS) { err = "gemv: 1 to 4 segments"; return false; }
      segs.n = nseg;
      for (int i = 0; i < nseg; i++) {
        segs.s[i].N = (int)r.ll(); segs.s[i].W = r.p<void>(); segs.s[i].up = r.p<void>(); segs.s[i].bias = r.p<void>(); segs.s[i].y = r.p<void>();
      }
      if (dt == DT_F16) return gemvRun<__half>(M, K, x, segs, err);
      if (dt == DT_BF16) return gemvRun<__nv_bfloat16>(M, K, x, segs, err);
      return gemvRun<float>(M, K, x, segs, err);
    }
    case OP_ADD_RMSNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f();
      void* a = r.p<void>(); void* b = r.p<void>(); void* sc = r.p<void>(); void* sum = r.p<void>(); void* out = r.p<void>();
      if (!rows) return true;
      if (dts == dt) { LAUNCH_FLOAT_T(dt, (launchK(addRmsNorm<T, T>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)a, (const T*)b, (const T*)sc, (T*)sum, (T*)out))); }
      else if (dts == DT_F32) { LAUNCH_FLOAT_T(dt, (launchK(addRmsNorm<T, float>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)a, (const T*)b, (const float*)sc, (T*)sum, (T*)out))); }
      else { err = "add+RMSNorm: scale dtype must match the input or be float32"; return false; }
      return true;
    }
    case OP_REDUCE: {
      int rop = r.in(), dti = r.in(), dto = r.in(); long long rows = r.ll(), cols = r.ll(); void* in = r.p<void>(); void* out = r.p<void>();
      if (rows) launchK(reduceLast, (unsigned)rows, normThreads(cols), 0, rop, dti, dto, cols, in, out);
      return true;
    }
    case OP_RMSNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f(); void* x = r.p<void>(); void* sc = r.p<void>(); void* out = r.p<void>();
      if (!rows) return true;
      if (dts == dt) { LAUNCH_FLOAT_T(dt, (launchK(rmsNorm<T, T>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)x, (const T*)sc, (T*)out))); }
      else if (dts == DT_F32) { LAUNCH_FLOAT_T(dt, (launchK(rmsNorm<T, float>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)x, (const float*)sc, (T*)out))); }
      else { err = "RMSNormalization: scale dtype must match the input or be float32"; return false; }
      return true;
    }
    case OP_LAYERNORM: {
      int dt = r.in(), dts = r.in(); long long rows = r.ll(), cols = r.ll(); float eps = r.f(); void* x = r.p<void>(); void* sc = r.p<void>(); void* bias = r.p<void>(); void* out = r.p<void>();
      if (!rows) return true;
      if (dts == dt) { LAUNCH_FLOAT_T(dt, (launchK(layerNorm<T, T>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)x, (const T*)sc, (const T*)bias, (T*)out))); }
      else if (dts == DT_F32) { LAUNCH_FLOAT_T(dt, (launchK(layerNorm<T, float>, (unsigned)rows, normThreads(cols), 0, cols, eps, (const T*)x, (const float*)sc, (const float*)bias, (T*)out))); }
      else { err = "LayerNormalization: scale dtype must match the input or be float32"; return false; }
      return true;
    }
    case OP_SOFTMAX: {
      int dt = r.in(); long long rows = r.ll(), cols = r.ll(); void* in = r.p<void>(); void* out = r.p<void>();
      if (rows) LAUNCH_FLOAT_T(dt, (launchK(softmaxLast<T>, (unsigned)rows, normThreads(cols), 0, cols, (const T*)in, (T*)out)));
      return true;
    }
    case OP_GATHER: {
      int dt = r.in(), dti = r.in(); long long outer = r.ll(), axisDim = r.ll(), inner = r.ll(), nidx = r.ll();
      void* data = r.p<void>(); void* idx = r.p<void>(); void* out = r.p<void>();
      long long total = outer * nidx * inner;
      if (!total) return true;
      switch (dtSize(dt)) {
        case 1: launchK(gatherRows<1>, blocksFor(total), 256, 0, outer, axisDim, inner, nidx, dti, data, idx, out); break;
        case 2: launchK(gatherRows<2>, blocksFor(total), 256, 0, outer, axisDim, inner, nidx, dti, data, idx, out); break;
        case 4: launchK(gatherRows<4>, blocksFor(total), 256, 0, outer, axisDim, inner, nidx, dti, data, idx, out); break;
        default: launchK(gatherRows<8>, blocksFor(total), 256, 0, outer, axisDim, inner, nidx, dti, data, idx, out); break;
      }
      return true;
    }
    case OP_ROPE: {
      int dt = r.in(), dtc = r.in(), B = r.in(), H = r.in(), S = r.in(), D = r.in(), rd = r.in(), inter = r.in(), l3 = r.in();
      void* x = r.p<void>(); void* cs = r.p<void>(); void* sn = r.p<void>(); long long* pos = r.p<long long>(); void* out = r.p<void>(); long long cbs = r.ll();
      long long total = (long long)B * H * S * (rd / 2 + D - rd);
      if (total) LAUNCH_FLOAT_T(dt, (launchK(rope<T>, blocksFor(total), 256, 0, B, H, S, D, rd, inter, l3, dtc, (const T*)x, cs, sn, pos, (T*)out, cbs)));
      return true;
    }
    case OP_ROPE_PACK: {
      RopePack p;
      int dt = r.in(); p.dtc = r.in(); p.B = r.in(); p.S = r.in(); p.D = r.in(); p.rd = r.in(); p.inter = r.in(); p.T = r.in();
      p.cs = r.p<void>(); p.sn = r.p<void>(); p.pos = r.p<const long long>(); p.cbs = r.ll(); p.start = r.p<const long long>();
      p.Hq = r.in(); p.xq = r.p<void>(); p.oq = r.p<void>();
      p.Hk = r.in(); p.xk = r.p<void>(); p.ok = r.p<void>(); void* ks = r.p<void>(); p.kc = r.p<void>();
      p.Hv = r.in(); p.xv = r.p<void>(); void* vs = r.p<void>(); p.vc = r.p<void>();
      size_t es = dtSize(dt);
      if (p.kc && ks != p.kc && !ck(cudaMemcpyAsync(p.kc, ks, (size_t)p.B * p.Hk * p.T * p.D * es, cudaMemcpyDeviceToDevice, g_stream), err, "cache copy")) return false;
      if (p.vc && vs != p.vc && !ck(cudaMemcpyAsync(p.vc, vs, (size_t)p.B * p.Hv * p.T * p.D * es, cudaMemcpyDeviceToDevice, g_stream), err, "cache copy")) return false;
      long long per = p.rd / 2 + p.D - p.rd;
      long long total = (long long)p.B * p.S * ((p.Hq + p.Hk) * per + (p.vc ? (long long)p.Hv * p.D : 0));
      if (total) LAUNCH_FLOAT_T(dt, (launchK(ropePack<T>, blocksFor(total), 256, 0, p)));
      return true;
    }
    case OP_ATTENTION: {
      AttnArgs a; readAttn(r, a);
      if (a.B == 0 || a.S == 0) return true;
      if (a.dt == DT_F32) return launchAttn<float>(a, err);
      if (a.dt == DT_F16) return launchAttn<__half>(a, err);
      if (a.dt == DT_BF16) return launchAttn<__nv_bfloat16>(a, err);
      err = "attention: unsupported dtype";
      return false;
    }
    case OP_CACHE_WRITE: {
      int dt = r.in(), B = r.in(), H = r.in(), T = r.in(), D = r.in(), S = r.in();
      void* src = r.p<void>(); void* dst = r.p<void>(); void* cur = r.p<void>(); long long* start = r.p<long long>(); r.in();
      size_t es = dtSize(dt);
      if (src != dst && !ck(cudaMemcpyAsync(dst, src, (size_t)B * H * T * D * es, cudaMemcpyDeviceToDevice, g_stream), err, "cache copy")) return false;
      long long total = (long long)B * H * S * D;
      if (!total) return true;
      if (es == 2) launchK(cacheWrite<2>, blocksFor(total), 256, 0, B, H, T, D, S, dst, cur, start);
      else launchK(cacheWrite<4>, blocksFor(total), 256, 0, B, H, T, D, S, dst, cur, start);
      return true;
    }
    case OP_ARGMAX: {
      int dt = r.in(); long long rows = r.ll(), cols = r.ll(), rs = r.ll(); void* in = r.p<void>(); long long* out = r.p<long long>();
      if (!rows) return true;
      if (g_argmaxWs && rows <= ARGMAX_MAX_ROWS && cols >= 16384) {
        int parts = (int)std::min<long long>(ARGMAX_PARTS, (cols + 2047) / 2048);
        LAUNCH_FLOAT_T(dt, (launchK(argmaxPart<T>, dim3(parts, (unsigned)rows), 256, 0, cols, rs, (const T*)in, g_argmaxWs)));
        launchK(argmaxMerge, (unsigned)rows, 64, 0, parts, (const ArgBest*)g_argmaxWs, out);
      } else {
        LAUNCH_FLOAT_T(dt, (launchK(argmaxLast<T>, (unsigned)rows, 1024, 0, cols, rs, (const T*)in, out)));
      }
      return true;
    }
    case OP_ADVANCE: {
      int B = r.in(); long long* ids = r.p<long long>(); long long* next = r.p<long long>(); long long* pos = r.p<long long>();
      long long* start = r.p<long long>(); long long* end = r.p<long long>(); long long* log = r.p<long long>(); long long* counter = r.p<long long>();
      launchK(advance, 1, 32, 0, B, ids, next, pos, start, end, log, counter);
      return true;
    }
    case OP_MEMCPY: {
      void* d = r.p<void>(); void* s = r.p<void>(); long long n = r.ll();
      return n == 0 || ck(cudaMemcpyAsync(d, s, (size_t)n, cudaMemcpyDeviceToDevice, g_stream), err, "memcpy");
    }
    case OP_SILU_MUL: {
      int dt = r.in(); long long n = r.ll(); void* g = r.p<void>(); void* u = r.p<void>(); void* out = r.p<void>();
      if (n) LAUNCH_FLOAT_T(dt, (launchK(siluMul<T>, blocksFor(n), 256, 0, (unsigned)n, (const T*)g, (const T*)u, (T*)out)));
      return true;
    }
  }
  err = "unknown opcode " + std::to_string(op);
  return false;
}

}  // namespace

// ------------------------------------------------------------------------------------------ device.h
namespace dev {
const char* kind() { return "cuda"; }

bool probe(std::string& reason, Info& info) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    reason = std::string("no usable CUDA driver or device (") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")";
    cudaGetLastError();
    return false;
  }
  if (n == 0) { reason = "no CUDA device"; return false; }
  cudaDeviceProp p;
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) { reason = "cannot read the device properties"; return false; }
  info.name = p.name; info.major = p.major; info.minor = p.minor; info.smCount = p.multiProcessorCount;
  info.totalMem = p.totalGlobalMem; info.l2Bytes = p.l2CacheSize;
  if (p.major < 8) { reason = "compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) + " is below 8.0"; return false; }
  std::string err;
  if (!cublas::load(err)) { reason = err; return false; }
  return true;
}

bool init(std::string& err) {
  Info info;
  if (!probe(err, info)) return false;
  g_smCount = info.smCount;
  g_major = info.major;
  g_pdl = info.major >= 9;
  if (!ck(cudaSetDevice(0), err, "cudaSetDevice")) return false;
  if (!ck(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), err, "cudaStreamCreate")) return false;
  if (cublas::create(&cublas::handle) != 0) { err = "cublasCreate failed"; return false; }
  cublas::setStream(cublas::handle, g_stream);
  if (!ck(cudaMalloc(&g_cublasWs, kCublasWs), err, "cudaMalloc (cuBLAS workspace)")) return false;
  cublas::setWorkspace(cublas::handle, g_cublasWs, kCublasWs);
  if (!ck(cudaMalloc(&g_argmaxWs, sizeof(ArgBest) * ARGMAX_PARTS * ARGMAX_MAX_ROWS), err, "cudaMalloc (argmax workspace)")) return false;
  if (!ck(cudaMalloc(&g_attnCounters, sizeof(unsigned) * ATTN_COUNTERS), err, "cudaMalloc (attention counters)")) return false;
  if (!ck(cudaMemset(g_attnCounters, 0, sizeof(unsigned) * ATTN_COUNTERS), err, "cudaMemset (attention counters)")) return false;
  return true;
}

void* alloc(size_t bytes, std::string& err) {
  void* p = nullptr;
  if (!ck(cudaMalloc(&p, bytes ? bytes : 256), err, "cudaMalloc")) return nullptr;
  return p;
}
void release(void* p) { cudaFree(p); }
bool upload(void* d, const void* s, size_t n, std::string& err) {
  return ck(cudaMemcpyAsync(d, s, n, cudaMemcpyHostToDevice, g_stream), err, "upload") && ck(cudaStreamSynchronize(g_stream), err, "upload sync");
}
bool download(void* d, const void* s, size_t n, std::string& err) {
  return ck(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToHost, g_stream), err, "download") && ck(cudaStreamSynchronize(g_stream), err, "download sync");
}
bool fill(void* d, int b, size_t n, std::string& err) { return ck(cudaMemsetAsync(d, b, n, g_stream), err, "memset"); }

// Profile (setOption "profile" 1: on and cleared): outside graph capture, every instruction is bracketed by
// events; the elapsed time between them is its GPU time (launch gaps excluded). Keyed by opcode and shape.
bool g_profile = false;
struct ProfEntry { double ms = 0; long long n = 0; };
std::map<std::string, ProfEntry> g_prof;
std::vector<cudaEvent_t> g_events;

std::string profKey(int op, const double* a) {
  std::string k = "op" + std::to_string(op);
  auto n = [&](int i) { return std::to_string((long long)a[i]); };
  switch (op) {
    case OP_GEMV: {
      k = std::string(a[5] != 0 ? "GEMV+NORM" : "GEMV") + " M=" + n(1) + " K=" + n(2) + " N=";
      int segs = (int)a[3];
      for (int i = 0; i < segs; i++) k += (i ? "+" : "") + n(11 + i * 5) + (a[11 + i * 5 + 2] != 0 ? "(swiglu)" : "");
      return k;
    }
    case OP_GEMM: return "GEMM M=" + n(3) + " N=" + n(4) + " K=" + n(5) + " batch=" + n(6);
    case OP_ATTENTION: return "ATTENTION S=" + n(4) + " T=" + n(5) + " splits=" + n(33);
    case OP_ROPE_PACK: return "ROPE_PACK S=" + n(3);
    case OP_ADD_RMSNORM: return "ADD_RMSNORM rows=" + n(2);
    case OP_RMSNORM: return "RMSNORM rows=" + n(2);
    case OP_ARGMAX: return "ARGMAX rows=" + n(1) + " cols=" + n(2);
    case OP_ADVANCE: return "ADVANCE";
    case OP_GATHER: return "GATHER";
    case OP_CACHE_WRITE: return "CACHE_WRITE S=" + n(5);
    case OP_ROPE: return "ROPE S=" + n(4);
    default: return k;
  }
}

bool exec(const double* prog, size_t n, std::string& err) {
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  if (g_profile) cudaStreamIsCapturing(g_stream, &cap);
  const bool prof = g_profile && cap == cudaStreamCaptureStatusNone;
  std::vector<std::pair<std::string, size_t>> marks;
  size_t i = 0;
  while (i < n) {
    int op = (int)prog[i];
    size_t nargs = (size_t)prog[i + 1];
    if (i + 2 + nargs > n) { err = "truncated program"; return false; }
    ArgReader r(prog + i + 2);
    if (prof) {
      size_t e = marks.size() * 2;
      while (g_events.size() < e + 2) { cudaEvent_t ev; cudaEventCreate(&ev); g_events.push_back(ev); }
      marks.push_back({profKey(op, prog + i + 2), e});
      cudaEventRecord(g_events[e], g_stream);
    }
    if (!execOne(op, r, err)) return false;
    if (prof) cudaEventRecord(g_events[marks.back().second + 1], g_stream);
    if ((size_t)r.i != nargs) { err = "opcode " + std::to_string(op) + ": read " + std::to_string(r.i) + " args, program has " + std::to_string(nargs); return false; }
    if (!ck(cudaGetLastError(), err, ("launch of opcode " + std::to_string(op)).c_str())) return false;
    if (g_debugSync && !ck(cudaStreamSynchronize(g_stream), err, ("opcode " + std::to_string(op)).c_str())) return false;
    i += 2 + nargs;
  }
  if (prof) {
    if (!ck(cudaStreamSynchronize(g_stream), err, "profile sync")) return false;
    for (auto& m : marks) {
      float ms = 0;
      cudaEventElapsedTime(&ms, g_events[m.second], g_events[m.second + 1]);
      ProfEntry& p = g_prof[m.first];
      p.ms += ms; p.n += 1;
    }
  }
  return true;
}
std::string profileReport() {
  std::string s = "{";
  for (auto& kv : g_prof) {
    if (s.size() > 1) s += ",";
    s += "\"" + kv.first + "\":{\"ms\":" + std::to_string(kv.second.ms) + ",\"n\":" + std::to_string(kv.second.n) + "}";
  }
  return s + "}";
}
bool sync(std::string& err) { return ck(cudaStreamSynchronize(g_stream), err, "cudaStreamSynchronize"); }
bool captureBegin(std::string& err) { return ck(cudaStreamBeginCapture(g_stream, cudaStreamCaptureModeRelaxed), err, "cudaStreamBeginCapture"); }
int captureEnd(std::string& err) {
  cudaGraph_t graph;
  if (!ck(cudaStreamEndCapture(g_stream, &graph), err, "cudaStreamEndCapture")) return -1;
  cudaGraphExec_t exec;
  bool ok = ck(cudaGraphInstantiate(&exec, graph, 0), err, "cudaGraphInstantiate");
  cudaGraphDestroy(graph);
  if (!ok) return -1;
  int id = g_nextGraph++;
  g_graphs[id] = exec;
  return id;
}
bool graphLaunch(int id, std::string& err) {
  auto it = g_graphs.find(id);
  if (it == g_graphs.end()) { err = "no such graph"; return false; }
  return ck(cudaGraphLaunch(it->second, g_stream), err, "cudaGraphLaunch");
}
void graphDestroy(int id) {
  auto it = g_graphs.find(id);
  if (it != g_graphs.end()) { cudaGraphExecDestroy(it->second); g_graphs.erase(it); }
}
double copyBandwidth(size_t bytes, int iters, std::string& err) {
  void *a = nullptr, *b = nullptr;
  if (!ck(cudaMalloc(&a, bytes), err, "cudaMalloc") || !ck(cudaMalloc(&b, bytes), err, "cudaMalloc")) { cudaFree(a); return -1; }
  cudaMemsetAsync(a, 1, bytes, g_stream);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0); cudaEventCreate(&e1);
  for (int i = 0; i < 3; i++) cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, g_stream);
  cudaEventRecord(e0, g_stream);
  for (int i = 0; i < iters; i++) cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice, g_stream);
  cudaEventRecord(e1, g_stream);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0); cudaEventDestroy(e1);
  cudaFree(a); cudaFree(b);
  if (!ck(cudaGetLastError(), err, "copy bandwidth")) return -1;
  return 2.0 * bytes * iters / (ms / 1e3);
}
void setOption(const std::string& name, double value) {
  if (name == "debugSync") g_debugSync = value != 0;
  if (name == "pdl") g_pdl = value != 0 && g_major >= 9;
  if (name == "attnDecode") g_attnDecode = value != 0;
  if (name == "pdlFlags") { int f = (int)value; cudaMemcpyToSymbol(d_pdlFlags, &f, sizeof f); }
  if (name == "profile") { g_profile = value != 0; g_prof.clear(); }
}
}  // namespace dev

#include "addon.cpp"
