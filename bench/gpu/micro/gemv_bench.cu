// GEMV micro-benchmark (batch 1..4 decode shapes): the runtime's [K, N] split-K kernel, row-major [N, K]
// warp-per-row kernels, and cuBLAS, on random fp16 weights. Prints GB/s of weight bytes read and the fraction
// of the device-to-device copy bandwidth (read + write) measured in the same process.
// Build: nvcc -O3 -arch=sm_90 -o gemv_bench gemv_bench.cu -lcublas
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#ifndef NO_CUBLAS
#include <cublas_v2.h>
#endif
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <string>
#include <functional>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("CUDA %s at %d\n", cudaGetErrorString(e), __LINE__); exit(1); } } while (0)
typedef __half T;
__device__ __forceinline__ float toF(__half v) { return __half2float(v); }
__device__ __forceinline__ float warpSum(float v) { for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o); return v; }

// ---- current runtime kernel ([K, N], 32 col lanes x 8 k lanes, split-K through a workspace)
template <int M>
__global__ void __launch_bounds__(256) gemvKN(const T* __restrict__ x, const T* __restrict__ W, T* y, int N, int K, int kChunk, float* ws, unsigned* counters) {
  constexpr int VEC = 8, COLS = 256;
  __shared__ float red[8][M][COLS];
  __shared__ bool isLast;
  int tile = blockIdx.x, tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  int col0 = tile * COLS + tx * VEC;
  int kb = blockIdx.y * kChunk, ke = min(K, kb + kChunk);
  float acc[M][VEC] = {};
  if (col0 < N) {
#pragma unroll 4
    for (int k = kb + ty; k < ke; k += 8) {
      uint4 raw = __ldg((const uint4*)(W + (size_t)k * N + col0));
      const T* w = (const T*)&raw;
#pragma unroll
      for (int m = 0; m < M; m++) { float xv = toF(x[(size_t)m * K + k]);
#pragma unroll
        for (int e = 0; e < VEC; e++) acc[m][e] += xv * toF(w[e]); }
    }
  }
  for (int m = 0; m < M; m++) for (int e = 0; e < VEC; e++) red[ty][m][tx * VEC + e] = acc[m][e];
  __syncthreads();
  size_t wsCols = (size_t)gridDim.x * COLS;
  for (int c = threadIdx.x; c < COLS; c += 256) { int col = tile * COLS + c;
    for (int m = 0; m < M; m++) { float s = 0; for (int j = 0; j < 8; j++) s += red[j][m][c]; if (col >= N) continue;
      if (gridDim.y == 1) y[(size_t)m * N + col] = __float2half(s); else ws[((size_t)blockIdx.y * M + m) * wsCols + (size_t)blockIdx.x * COLS + c] = s; } }
  if (gridDim.y == 1) return;
  __threadfence(); __syncthreads();
  if (threadIdx.x == 0) isLast = atomicAdd(&counters[blockIdx.x], 1u) == gridDim.y - 1;
  __syncthreads();
  if (!isLast) return;
  __threadfence();
  for (int c = threadIdx.x; c < COLS; c += 256) { int col = tile * COLS + c; if (col >= N) continue;
    for (int m = 0; m < M; m++) { float s = 0; for (int j = 0; j < (int)gridDim.y; j++) s += __ldcg(&ws[((size_t)j * M + m) * wsCols + (size_t)blockIdx.x * COLS + c]);
      y[(size_t)m * N + col] = __float2half(s); } }
  if (threadIdx.x == 0) counters[blockIdx.x] = 0;
}

// ---- row-major [N, K]: one warp per row (grid-stride), U 16-byte loads per lane issued before the FMAs.
template <int LD> __device__ __forceinline__ uint4 ldw(const uint4* p) {
  if (LD == 0) return __ldg(p);
  if (LD == 1) return __ldcs(p);
  uint4 r; asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p)); return r;
}
template <int M, int U, int LD, bool SWIGLU>
__global__ void __launch_bounds__(256) gemvNK(const T* __restrict__ x, const T* __restrict__ W, const T* __restrict__ W2, T* y, int N, int K) {
  constexpr int VEC = 8;
  const int lane = threadIdx.x & 31;
  const int warps = gridDim.x * (blockDim.x >> 5);
  const int KV = K / VEC;
  for (int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); n < N; n += warps) {
    const uint4* wr = (const uint4*)(W + (size_t)n * K);
    const uint4* wr2 = SWIGLU ? (const uint4*)(W2 + (size_t)n * K) : nullptr;
    float acc[M] = {}, acc2[M] = {};
    for (int base = 0; base < KV; base += 32 * U) {
      uint4 w[U], w2[SWIGLU ? U : 1];
#pragma unroll
      for (int u = 0; u < U; u++) { int i = base + u * 32 + lane; w[u] = i < KV ? ldw<LD>(wr + i) : make_uint4(0, 0, 0, 0);
        if (SWIGLU) w2[u] = i < KV ? ldw<LD>(wr2 + i) : make_uint4(0, 0, 0, 0); }
#pragma unroll
      for (int u = 0; u < U; u++) {
        int i = base + u * 32 + lane;
        if (i >= KV) break;
#pragma unroll
        for (int m = 0; m < M; m++) {
          uint4 xr = __ldg((const uint4*)(x + (size_t)m * K) + i);
          const __half2* xh = (const __half2*)&xr; const __half2* wh = (const __half2*)&w[u];
#pragma unroll
          for (int e = 0; e < 4; e++) { float2 a = __half22float2(xh[e]), b = __half22float2(wh[e]); acc[m] += a.x * b.x + a.y * b.y; }
          if (SWIGLU) { const __half2* wh2 = (const __half2*)&w2[u];
#pragma unroll
            for (int e = 0; e < 4; e++) { float2 a = __half22float2(xh[e]), b = __half22float2(wh2[e]); acc2[m] += a.x * b.x + a.y * b.y; } }
        }
      }
    }
#pragma unroll
    for (int m = 0; m < M; m++) {
      float v = warpSum(acc[m]);
      if (SWIGLU) { float u2 = warpSum(acc2[m]); v = v / (1.f + __expf(-v)) * u2; }
      if (lane == 0) y[(size_t)m * N + n] = __float2half(v);
    }
  }
}

int main(int argc, char** argv) {
  cudaDeviceProp p; CK(cudaGetDeviceProperties(&p, 0));
  printf("device %s SMs %d\n", p.name, p.multiProcessorCount);
  int sms = p.multiProcessorCount;
  size_t maxBytes = (size_t)160256 * 2048 * 2 + (1 << 20);
  T *W, *W2, *x, *y; float* ws; unsigned* cnt;
  CK(cudaMalloc(&W, maxBytes)); CK(cudaMalloc(&W2, (size_t)8192 * 4096 * 2));
  CK(cudaMalloc(&x, 4 * 16384 * 2)); CK(cudaMalloc(&y, 4 * 160256 * 2));
  CK(cudaMalloc(&ws, 64 << 20)); CK(cudaMalloc(&cnt, 1 << 20)); CK(cudaMemset(cnt, 0, 1 << 20));
  CK(cudaMemset(W, 0x21, maxBytes)); CK(cudaMemset(W2, 0x22, (size_t)8192 * 4096 * 2)); CK(cudaMemset(x, 0x1c, 4 * 16384 * 2));
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  // copy bandwidth
  { void *a, *b; size_t bytes = 1 << 30; CK(cudaMalloc(&a, bytes)); CK(cudaMalloc(&b, bytes));
    for (int i = 0; i < 3; i++) cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e0); for (int i = 0; i < 20; i++) cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice); cudaEventRecord(e1);
    cudaEventSynchronize(e1); float ms; cudaEventElapsedTime(&ms, e0, e1); printf("copy_bw %.1f GB/s\n", 2.0 * bytes * 20 / ms / 1e6); cudaFree(a); cudaFree(b); }
  // a 256 MB buffer to flush L2 between repetitions
  void* flush; size_t flushBytes = 256 << 20; CK(cudaMalloc(&flush, flushBytes));
#ifndef NO_CUBLAS
  cublasHandle_t h; cublasCreate(&h);
#endif
  auto timeIt = [&](std::function<void()> f, double bytes) {
    f(); CK(cudaDeviceSynchronize());
    float best = 1e9;
    for (int r = 0; r < 20; r++) {
      cudaMemsetAsync(flush, r, flushBytes);
      cudaEventRecord(e0); f(); cudaEventRecord(e1); cudaEventSynchronize(e1);
      float ms; cudaEventElapsedTime(&ms, e0, e1); if (ms < best) best = ms;
    }
    CK(cudaGetLastError());
    return bytes / (best / 1e3) / 1e9;  // GB/s
  };
  struct Shape { const char* name; int K, N; };
  Shape shapes[] = {{"l1b.qkv", 2048, 3072}, {"l1b.o", 2048, 2048}, {"l1b.gateup", 2048, 16384}, {"l1b.down", 8192, 2048}, {"l1b.lmhead", 2048, 128256},
                    {"q05.qkv", 896, 1152}, {"q05.down", 4864, 896}, {"q05.gateup", 896, 9728}, {"q05.lmhead", 896, 151936},
                    {"l8b.qkv", 4096, 6144}, {"l8b.gateup", 4096, 28672}, {"l8b.down", 14336, 4096}};
  for (int M = 1; M <= 2; M++)
  for (auto& s : shapes) {
    double bytes = (double)s.K * s.N * 2;
    std::vector<std::pair<std::string, double>> res;
    // current kernel: the runtime's split-K choice (enough blocks for 2 waves)
    { int tiles = (s.N + 255) / 256; int splits = 1; while (tiles * splits < sms * 4 && s.K / (splits * 2) >= 64) splits *= 2;
      int kChunk = (s.K + splits - 1) / splits; kChunk = (kChunk + 7) / 8 * 8;
      dim3 g(tiles, splits);
      res.push_back({"KN-splitK", timeIt([&] { if (M == 1) gemvKN<1><<<g, 256>>>(x, W, y, s.N, s.K, kChunk, ws, cnt); else gemvKN<2><<<g, 256>>>(x, W, y, s.N, s.K, kChunk, ws, cnt); }, bytes)}); }
#ifndef NO_CUBLAS
    // cuBLAS: y[M, N] = x[M, K] . W^T with W [N, K] (row-major) == column-major W^T...
    { __half a = __float2half(1.f), b = __float2half(0.f); float af = 1.f, bf = 0.f;
      res.push_back({"cublas-NK", timeIt([&] { cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, s.N, M, s.K, &af, W, CUDA_R_16F, s.K, x, CUDA_R_16F, s.K, &bf, y, CUDA_R_16F, s.N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT); }, bytes)});
      res.push_back({"cublas-KN", timeIt([&] { cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, s.N, M, s.K, &af, W, CUDA_R_16F, s.N, x, CUDA_R_16F, s.K, &bf, y, CUDA_R_16F, s.N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT); }, bytes)}); (void)a; (void)b; }
#endif
    // row-major variants
    auto nk = [&](const char* name, auto kern, int threads, int blocksCap) {
      int need = (s.N + threads / 32 - 1) / (threads / 32);
      int blocks = blocksCap > 0 ? std::min(need, blocksCap) : need;
      res.push_back({name, timeIt([&] { kern<<<blocks, threads>>>(x, W, nullptr, y, s.N, s.K); }, bytes)});
    };
    if (M == 1) {
      nk("NK-U4-ldg", gemvNK<1, 4, 0, false>, 256, 0);
      nk("NK-U8-ldg", gemvNK<1, 8, 0, false>, 256, 0);
      nk("NK-U8-ldcs", gemvNK<1, 8, 1, false>, 256, 0);
      nk("NK-U8-noalloc", gemvNK<1, 8, 2, false>, 256, 0);
      nk("NK-U8-ldg-128t", gemvNK<1, 8, 0, false>, 128, 0);
      nk("NK-U8-ldg-persist", gemvNK<1, 8, 0, false>, 256, sms * 8);
      nk("NK-U16-ldg", gemvNK<1, 16, 0, false>, 256, 0);
    } else {
      nk("NK-U8-ldg", gemvNK<2, 8, 0, false>, 256, 0);
      nk("NK-U4-ldg", gemvNK<2, 4, 0, false>, 256, 0);
    }
    if (M == 1 && std::string(s.name).find("gateup") != std::string::npos) {
      int Nh = s.N / 2; double b2 = bytes;
      int blocks = (Nh + 7) / 8;
      res.push_back({"NK-swiglu-U4", timeIt([&] { gemvNK<1, 4, 0, true><<<blocks, 256>>>(x, W, W2, y, Nh, s.K); }, b2)});
      res.push_back({"NK-swiglu-U8", timeIt([&] { gemvNK<1, 8, 0, true><<<blocks, 256>>>(x, W, W2, y, Nh, s.K); }, b2)});
    }
    printf("M=%d %-12s K=%5d N=%6d %6.1f MB:", M, s.name, s.K, s.N, bytes / 1e6);
    for (auto& r : res) printf("  %s %.0f", r.first.c_str(), r.second);
    printf("  (GB/s)\n");
  }
  return 0;
}
