// Instruction set shared by the CUDA kernels (kernels.cu), the CPU emulator (emu.cpp) and the TypeScript
// encoder (src/converters/cuda/opcodes.ts: keep the numbers in sync). A program is a Float64Array of
// instructions [opcode, nargs, arg0, ...]; device pointers travel as doubles (exact below 2^53).
#pragma once
#include <cstdint>
#include <cstddef>

namespace onnxl {

enum DType { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_I64 = 3, DT_I32 = 4, DT_U8 = 5 };
static inline size_t dtSize(int dt) { return dt == DT_F32 || dt == DT_I32 ? 4 : dt == DT_I64 ? 8 : dt == DT_U8 ? 1 : 2; }
static inline bool dtIsFloat(int dt) { return dt <= DT_BF16; }

enum Op {
  OP_COPY = 1,        // dtin dtout rank dims[6] istr[6] ostr[6] in out
  OP_BINARY = 2,      // bop dta dtb dto rank dims[6] astr[6] bstr[6] a b out
  OP_UNARY = 3,       // uop dtin dtout n in out alpha
  OP_WHERE = 4,       // dt rank dims[6] cstr[6] xstr[6] ystr[6] c x y out
  OP_GEMM = 5,        // dt transA transB M N K batch A sA B sB C sC alpha beta
  OP_REDUCE = 6,      // rop dtin dtout rows cols in out
  OP_RMSNORM = 7,     // dt dts rows cols eps x scale out
  OP_LAYERNORM = 8,   // dt dts rows cols eps x scale bias out
  OP_SOFTMAX = 9,     // dt rows cols in out
  OP_GATHER = 10,     // dt dtidx outer axisDim inner nidx data idx out
  OP_ROPE = 11,       // dt dtc B H S D rd interleaved layout3d x cos sin pos out cosBatchStride
  OP_ATTENTION = 12,  // see AttnArgs below (mask dtype: MT_BOOL = u8, MT_FLOAT = dt)
  OP_CACHE_WRITE = 13,// dt B H T D S src dst cur start copyAll
  OP_ARGMAX = 14,     // dt rows cols rowStride in out (int64 ids)
  OP_ADVANCE = 15,    // B ids next pos start end log counter
  OP_MEMCPY = 16,     // dst src bytes
  OP_GEMV = 17,       // dt M K nseg x na nb nscale nsum eps dts, then nseg x (N W up bias y): y_i = x @ W_i^T (+ bias_i),
                      //   W_i [N_i, K] row-major; with up: y_i = silu(x @ W_i^T) * (x @ up_i^T) (SwiGLU pair, no bias);
                      //   with na: x = rmsnorm(na (+ nb)) * nscale computed in the kernel (nsum, if set, gets na + nb)
  OP_SILU_MUL = 18,   // dt n gate up out   (out = silu(gate) * up)
  OP_ADD_RMSNORM = 20,// dt dts rows cols eps a b scale sum out: sum = a + b; out = rmsnorm(sum) * scale
  OP_ROPE_PACK = 22,  // dt dtc B S D rd inter T cos sin pos cbs start, Hq xq outq, Hk xk outk ksrc kdst, Hv xv vsrc vdst:
                      //   one launch for an attention prologue (4-D [B, H, S, D] layout): RoPE of q, RoPE of k (also
                      //   written to rows start.. of the cache kdst [B, Hk, T, D]), v rows into vdst; as CACHE_WRITE,
                      //   a cache src != dst is copied to dst first. A job with H 0 is absent, a null dst not written
  OP_SAMPLE = 21,     // dt rows cols rowStride in out state temperature topK topP (int64 ids; state: sample-common.h)
};

enum BinOp { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_LT, B_LE, B_GT, B_GE, B_AND, B_OR, B_MOD };
enum UnOp {
  U_NEG = 0, U_SQRT, U_RECIP, U_SIGMOID, U_TANH, U_COS, U_SIN, U_EXP, U_LOG, U_ERF, U_RELU, U_ABS, U_SILU,
  U_GELU, U_GELU_TANH, U_NOT, U_IDENTITY, U_RSQRT
};
enum RedOp { R_MEAN = 0, R_SUM, R_MAX };
// Attention masking: a causal rule (none, top-left j <= i, or j <= start + i with start in device memory) and
// an optional mask tensor (bool: true = attend, or float: added to the scores).
enum Causal { C_NONE = 0, C_TOP_LEFT = 1, C_OFFSET = 2 };
enum MaskType { MT_NONE = 0, MT_BOOL = 1, MT_FLOAT = 2 };

constexpr int MAXR = 6;
constexpr int MAX_GEMV_SEGS = 4;

// Attention arguments, in order.
struct AttnArgs {
  int dt; int B, Hq, Hkv, S, T, D, Dv; float scale; int causal; int mtype;
  const void *q, *k, *v; void* out;
  long long qb, qh, qs, kb, kh, kt, vb, vh, vt, ob, oh, os;  // strides in elements (last dim contiguous)
  const void* mask; long long msb, msh, mss, mst;
  const long long* start; int splits; int chunk; float* ws;
};

// Reads instruction args.
struct ArgReader {
  const double* a; int i = 0;
  explicit ArgReader(const double* p) : a(p) {}
  long long ll() { return (long long)a[i++]; }
  int in() { return (int)a[i++]; }
  double d() { return a[i++]; }
  float f() { return (float)a[i++]; }
  template <class T> T* p() { return (T*)(uintptr_t)(unsigned long long)a[i++]; }
};

static inline void readAttn(ArgReader& r, AttnArgs& x) {
  x.dt = r.in(); x.B = r.in(); x.Hq = r.in(); x.Hkv = r.in(); x.S = r.in(); x.T = r.in(); x.D = r.in(); x.Dv = r.in();
  x.scale = r.f(); x.causal = r.in(); x.mtype = r.in();
  x.q = r.p<void>(); x.k = r.p<void>(); x.v = r.p<void>(); x.out = r.p<void>();
  x.qb = r.ll(); x.qh = r.ll(); x.qs = r.ll(); x.kb = r.ll(); x.kh = r.ll(); x.kt = r.ll();
  x.vb = r.ll(); x.vh = r.ll(); x.vt = r.ll(); x.ob = r.ll(); x.oh = r.ll(); x.os = r.ll();
  x.mask = r.p<void>(); x.msb = r.ll(); x.msh = r.ll(); x.mss = r.ll(); x.mst = r.ll();
  x.start = r.p<const long long>(); x.splits = r.in(); x.chunk = r.in(); x.ws = r.p<float>();
}

}  // namespace onnxl
