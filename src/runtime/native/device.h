// What a device implementation (CUDA: kernels.cu, CPU emulator: emu.cpp) provides to the N-API glue.
#pragma once
#include <cstddef>
#include <string>

namespace dev {
struct Info {
  std::string name;
  int major = 0, minor = 0, smCount = 0;
  size_t totalMem = 0, l2Bytes = 0;
};
// True when a device can run; otherwise `reason` says why (no driver, no device, no cuBLAS).
bool probe(std::string& reason, Info& info);
bool init(std::string& err);
void* alloc(size_t bytes, std::string& err);
void release(void* p);
bool upload(void* dst, const void* src, size_t bytes, std::string& err);
bool download(void* dst, const void* src, size_t bytes, std::string& err);
bool fill(void* dst, int byte, size_t bytes, std::string& err);
bool exec(const double* prog, size_t n, std::string& err);
bool sync(std::string& err);
bool captureBegin(std::string& err);
int captureEnd(std::string& err);  // graph id, -1 on error
bool graphLaunch(int id, std::string& err);
void graphDestroy(int id);
// Device-to-device copy bandwidth (bytes read + written per second), measured with events.
double copyBandwidth(size_t bytes, int iters, std::string& err);
void setOption(const std::string& name, double value);
// Per-instruction GPU time collected while the "profile" option is on, as JSON {key: {ms, n}}.
std::string profileReport();
const char* kind();
}  // namespace dev
