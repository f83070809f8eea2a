// The contract between device.cc and libmyriad_bench_cuda.so, the plugin
// that holds every CUDA runtime and cuBLAS call of `myriad bench`
// (device_cuda.cc), so that the `myriad` command maps those libraries only
// when a benchmark touches a GPU.
//
// device.cc loads the plugin on first use (collectives/plugin.h says where
// it looks) and calls its one exported C entry point, kDevicePluginEntry,
// with kDevicePluginAbi. The entry point returns the plugin's DeviceApi
// (static storage, never freed), or nullptr when the ABI differs.
//
// DeviceApi's methods behave as device.h's functions of the same names and
// raise the same errors; thread-safety is the CUDA runtime's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace myriad::bench {

class DeviceApi {
 public:
  virtual ~DeviceApi() = default;
  virtual int device_count() = 0;
  virtual std::string device_name(int index) = 0;
  virtual void set_device(int index) = 0;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* data) noexcept = 0;
  virtual void upload(void* device, const void* host, size_t bytes) = 0;
  virtual void download(void* host, const void* device, size_t bytes) = 0;
  virtual double device_copy_gbs(int index, size_t bytes, int iterations) = 0;
  virtual double gemm_tflops(const std::string& dtype, size_t n, int warmup, int iterations) = 0;
};

// Raised when DeviceApi changes.
inline constexpr uint32_t kDevicePluginAbi = 1;
inline constexpr const char* kDevicePluginFile = "libmyriad_bench_cuda.so";
inline constexpr const char* kDevicePluginEntry = "myriad_bench_device_plugin";

extern "C" {
using DevicePluginEntry = DeviceApi* (*)(uint32_t abi);
}

}  // namespace myriad::bench
