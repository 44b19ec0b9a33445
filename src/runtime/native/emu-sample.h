// OP_SAMPLE in the CPU emulator: the definition of sample-common.h done the straightforward way (a stable sort
// by descending key per row), with the same fixed-point weights and the same RNG as the CUDA kernel (sample.cuh),
// so both draw the same tokens up to expf rounding differences. Included by emu.cpp inside its anonymous
// namespace (uses ld).
// emu.cpp includes <algorithm>, <numeric> and sample-common.h at its top.
#pragma once

// OP_SAMPLE: dt rows cols rowStride in out state temperature topK topP
bool emuSample(ArgReader& r, std::string& err) {
  using namespace onnxl::sample;
  int dt = r.in();
  long long rows = r.ll(), cols = r.ll(), rs = r.ll();
  void* in = r.p<void>();
  long long* out = r.p<long long>();
  uint64_t* state = r.p<uint64_t>();
  float t = r.f();
  long long topK = r.ll();
  double topP = r.d();
  if (!dtIsFloat(dt)) { err = "expected a float dtype"; return false; }
  if (cols >= MAX_VOCAB) { err = "sample: vocabulary of " + std::to_string(cols) + " is not below 2^23"; return false; }
  const uint64_t seed = state[0], step = state[1];
  std::vector<float> x(cols);
  std::vector<uint32_t> key(cols);
  std::vector<long long> order(cols);
  std::vector<uint64_t> w(cols);
  std::vector<char> member(cols);
  for (long long row = 0; row < rows; row++) {
    float m = -INFINITY;
    long long am = 0;
    bool any = false;
    for (long long j = 0; j < cols; j++) {
      x[j] = (float)ld(in, dt, row * rs + j);
      key[j] = keyOf(x[j]);
      if (x[j] > m) { m = x[j]; am = j; any = true; }
    }
    if (!any) am = 0;
    if (!(t > 0.f) || topK == 1 || !std::isfinite(m) || cols <= 1) { out[row] = am; continue; }
    std::iota(order.begin(), order.end(), 0LL);
    std::stable_sort(order.begin(), order.end(), [&](long long a, long long b) { return key[a] > key[b]; });
    long long kept = topK > 1 && topK < cols ? topK : cols;
    uint64_t z = 0;
    for (long long q = 0; q < kept; q++) { w[order[q]] = weightOf(x[order[q]], m, t); z += w[order[q]]; }
    if (topP < 1.0) {
      uint64_t tgt = massTarget(topP, z), cum = 0;
      for (long long q = 0; q < kept; q++) {
        cum += w[order[q]];
        if (cum >= tgt) { kept = q + 1; break; }
      }
    }
    std::fill(member.begin(), member.end(), 0);
    uint64_t zk = 0;
    for (long long q = 0; q < kept; q++) { member[order[q]] = 1; zk += w[order[q]]; }
    uint64_t rr = mulHi(hash3(seed, step, (uint64_t)row), zk), cum = 0;
    long long token = am;
    for (long long j = 0; j < cols; j++) {
      if (!member[j]) continue;
      cum += w[j];
      if (cum > rr) { token = j; break; }
    }
    out[row] = token;
  }
  state[1] = step + 1;
  state[2] = 0;
  return true;
}
