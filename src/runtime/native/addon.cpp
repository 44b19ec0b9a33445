// Node-API glue of the onnx-lower native runtime. Included at the end of kernels.cu (CUDA build) or emu.cpp
// (CPU emulator build) so that each build is one translation unit.
#include <node_api.h>
#include <cstring>
#include <string>
#include <vector>
#include "device.h"

namespace {

bool g_initialised = false;

napi_value throwError(napi_env env, const std::string& msg) {
  napi_throw_error(env, "ONNXL_NATIVE", msg.c_str());
  return nullptr;
}

bool getArgs(napi_env env, napi_callback_info info, size_t want, napi_value* out) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, out, nullptr, nullptr);
  if (argc < want) {
    napi_throw_type_error(env, nullptr, "missing arguments");
    return false;
  }
  return true;
}

double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

napi_value mkNum(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

// The bytes of a TypedArray or Buffer argument.
bool bytesOf(napi_env env, napi_value v, void** data, size_t* len) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type t;
    size_t n, off;
    napi_value ab;
    napi_get_typedarray_info(env, v, &t, &n, data, &ab, &off);
    size_t el = 1;
    switch (t) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *len = n * el;
    return true;
  }
  napi_is_buffer(env, v, &is);
  if (is) return napi_get_buffer_info(env, v, data, len) == napi_ok;
  return false;
}

void setProp(napi_env env, napi_value obj, const char* k, napi_value v) { napi_set_named_property(env, obj, k, v); }

napi_value Probe(napi_env env, napi_callback_info) {
  std::string reason;
  dev::Info info;
  bool ok = dev::probe(reason, info);
  napi_value o, s, b;
  napi_create_object(env, &o);
  napi_get_boolean(env, ok, &b);
  setProp(env, o, "available", b);
  napi_create_string_utf8(env, reason.c_str(), reason.size(), &s);
  setProp(env, o, "reason", s);
  napi_create_string_utf8(env, info.name.c_str(), info.name.size(), &s);
  setProp(env, o, "name", s);
  setProp(env, o, "major", mkNum(env, info.major));
  setProp(env, o, "minor", mkNum(env, info.minor));
  setProp(env, o, "smCount", mkNum(env, info.smCount));
  setProp(env, o, "totalMem", mkNum(env, (double)info.totalMem));
  setProp(env, o, "l2Bytes", mkNum(env, (double)info.l2Bytes));
  const char* k = dev::kind();
  napi_create_string_utf8(env, k, strlen(k), &s);
  setProp(env, o, "kind", s);
  return o;
}

napi_value Init(napi_env env, napi_callback_info) {
  std::string err;
  if (!g_initialised && !dev::init(err)) return throwError(env, err);
  g_initialised = true;
  return undef(env);
}

napi_value Alloc(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!getArgs(env, info, 1, a)) return nullptr;
  std::string err;
  void* p = dev::alloc((size_t)num(env, a[0]), err);
  if (!p) return throwError(env, err);
  return mkNum(env, (double)(uintptr_t)p);
}

napi_value Free(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!getArgs(env, info, 1, a)) return nullptr;
  dev::release((void*)(uintptr_t)num(env, a[0]));
  return undef(env);
}

// upload(ptr, typedArray[, bytes])
napi_value Upload(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!getArgs(env, info, 2, a)) return nullptr;
  void* data;
  size_t len;
  if (!bytesOf(env, a[1], &data, &len)) return throwError(env, "upload: expected a TypedArray or Buffer");
  std::string err;
  if (!dev::upload((void*)(uintptr_t)num(env, a[0]), data, len, err)) return throwError(env, err);
  return undef(env);
}

// download(ptr, typedArray): fills the whole array (synchronises the stream).
napi_value Download(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!getArgs(env, info, 2, a)) return nullptr;
  void* data;
  size_t len;
  if (!bytesOf(env, a[1], &data, &len)) return throwError(env, "download: expected a TypedArray or Buffer");
  std::string err;
  if (!dev::download(data, (const void*)(uintptr_t)num(env, a[0]), len, err)) return throwError(env, err);
  return undef(env);
}

napi_value Fill(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!getArgs(env, info, 3, a)) return nullptr;
  std::string err;
  if (!dev::fill((void*)(uintptr_t)num(env, a[0]), (int)num(env, a[1]), (size_t)num(env, a[2]), err)) return throwError(env, err);
  return undef(env);
}

napi_value Exec(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!getArgs(env, info, 1, a)) return nullptr;
  void* data;
  size_t len;
  if (!bytesOf(env, a[0], &data, &len)) return throwError(env, "exec: expected a Float64Array");
  std::string err;
  if (!dev::exec((const double*)data, len / 8, err)) return throwError(env, err);
  return undef(env);
}

napi_value Sync(napi_env env, napi_callback_info) {
  std::string err;
  if (!dev::sync(err)) return throwError(env, err);
  return undef(env);
}

napi_value CaptureBegin(napi_env env, napi_callback_info) {
  std::string err;
  if (!dev::captureBegin(err)) return throwError(env, err);
  return undef(env);
}

napi_value CaptureEnd(napi_env env, napi_callback_info) {
  std::string err;
  int id = dev::captureEnd(err);
  if (id < 0) return throwError(env, err);
  return mkNum(env, id);
}

napi_value GraphLaunch(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!getArgs(env, info, 1, a)) return nullptr;
  std::string err;
  if (!dev::graphLaunch((int)num(env, a[0]), err)) return throwError(env, err);
  return undef(env);
}

napi_value GraphDestroy(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!getArgs(env, info, 1, a)) return nullptr;
  dev::graphDestroy((int)num(env, a[0]));
  return undef(env);
}

napi_value CopyBandwidth(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!getArgs(env, info, 2, a)) return nullptr;
  std::string err;
  double bw = dev::copyBandwidth((size_t)num(env, a[0]), (int)num(env, a[1]), err);
  if (bw < 0) return throwError(env, err);
  return mkNum(env, bw);
}

napi_value SetOption(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!getArgs(env, info, 2, a)) return nullptr;
  char buf[128];
  size_t n = 0;
  napi_get_value_string_utf8(env, a[0], buf, sizeof buf, &n);
  dev::setOption(std::string(buf, n), num(env, a[1]));
  return undef(env);
}

napi_value ProfileReport(napi_env env, napi_callback_info) {
  std::string r = dev::profileReport();
  napi_value s;
  napi_create_string_utf8(env, r.c_str(), r.size(), &s);
  return s;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"probe", nullptr, Probe, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"alloc", nullptr, Alloc, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"free", nullptr, Free, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"upload", nullptr, Upload, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"download", nullptr, Download, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"fill", nullptr, Fill, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"exec", nullptr, Exec, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"sync", nullptr, Sync, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"captureBegin", nullptr, CaptureBegin, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"captureEnd", nullptr, CaptureEnd, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"graphLaunch", nullptr, GraphLaunch, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"graphDestroy", nullptr, GraphDestroy, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"copyBandwidth", nullptr, CopyBandwidth, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"setOption", nullptr, SetOption, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"profileReport", nullptr, ProfileReport, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
