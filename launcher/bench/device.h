// CUDA device memory and copies for the GPU benchmarks (nccl collectives,
// device copy bandwidth, GEMM). Implemented in device.cc over the plugin
// libmyriad_bench_cuda.so (device_cuda.cc, the only file of `myriad bench`
// that includes CUDA's headers), loaded on first use. Without the plugin (a
// build without CUDA, or CUDA's libraries missing here) device_count() is 0
// and every other call is Error(Unavailable) naming the reason.
//
// Thread-safety: as the CUDA runtime's; a DeviceBuffer is owned by one thread.
#pragma once

#include <cstddef>
#include <string>

namespace myriad::bench {

// CUDA devices this process can use; 0 without a driver or GPU.
int device_count();
// "NVIDIA H100 80GB HBM3"-style name of device `index`.
std::string device_name(int index);
// Makes `index` the calling thread's current device.
void set_device(int index);

// Device memory, freed with the object.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  void upload(const void* host, size_t bytes);
  void download(void* host, size_t bytes) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Device-to-device copy bandwidth of device `index`, GB/s (read + write
// counted once, as a copy's size over its time), median of `iterations`.
double device_copy_gbs(int index, size_t bytes, int iterations);

// Dense GEMM (C = A x B, square n) throughput in TFLOP/s, 2n^3 flops per
// call, on the current device. dtype: "fp32", "tf32", "fp16", "bf16".
double gemm_tflops(const std::string& dtype, size_t n, int warmup, int iterations);

}  // namespace myriad::bench
