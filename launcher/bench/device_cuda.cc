// The CUDA plugin of `myriad bench` (libmyriad_bench_cuda.so,
// device_plugin.h): the one file of `myriad bench` that includes CUDA's
// headers and calls the CUDA runtime and cuBLAS (built only when the build
// has CUDA, loaded only when a benchmark touches a GPU).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "launcher/bench/device_plugin.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

void check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) raise(ErrorCode::Unavailable, "{} failed: {}", what, cudaGetErrorString(rc));
}

void check(cublasStatus_t rc, const char* what) {
  if (rc != CUBLAS_STATUS_SUCCESS)
    raise(ErrorCode::Unavailable, "{} failed: cuBLAS status {}", what, static_cast<int>(rc));
}

// Times `iterations` launches of `fn` between two events; seconds per launch.
template <typename Fn>
double time_on_stream(int iterations, Fn fn) {
  cudaEvent_t start = nullptr;
  cudaEvent_t stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  check(cudaEventRecord(start), "cudaEventRecord");
  for (int i = 0; i < iterations; ++i) fn();
  check(cudaEventRecord(stop), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  constexpr double kSecondsPerMs = 1e-3;
  return ms * kSecondsPerMs / std::max(iterations, 1);
}

// Device memory, freed with the object.
class CudaMemory {
 public:
  explicit CudaMemory(size_t bytes) : bytes_(bytes) {
    check(cudaMalloc(&data_, std::max<size_t>(bytes, 1)), "cudaMalloc");
  }
  ~CudaMemory() { cudaFree(data_); }
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class CudaDevice final : public DeviceApi {
 public:
  int device_count() override {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
    return count;
  }

  std::string device_name(int index) override {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
    return prop.name;
  }

  void set_device(int index) override { check(cudaSetDevice(index), "cudaSetDevice"); }

  void* allocate(size_t bytes) override {
    void* data = nullptr;
    check(cudaMalloc(&data, std::max<size_t>(bytes, 1)), "cudaMalloc");
    return data;
  }

  void release(void* data) noexcept override { cudaFree(data); }

  void upload(void* device, const void* host, size_t bytes) override {
    check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }

  void download(void* host, const void* device, size_t bytes) override {
    check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy from device");
  }

  double device_copy_gbs(int index, size_t bytes, int iterations) override {
    set_device(index);
    CudaMemory a(bytes);
    CudaMemory b(bytes);
    check(cudaMemset(a.data(), 1, bytes), "cudaMemset");
    std::vector<double> samples;
    for (int i = 0; i < iterations; ++i) {
      samples.push_back(
          time_on_stream(1, [&] { cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice); }));
    }
    std::sort(samples.begin(), samples.end());
    constexpr double kBytesPerGB = 1e9;
    return static_cast<double>(bytes) / samples[samples.size() / 2] / kBytesPerGB;
  }

  double gemm_tflops(const std::string& dtype, size_t n, int warmup, int iterations) override {
    cudaDataType_t type = CUDA_R_32F;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    size_t element = 4;
    if (dtype == "tf32") {
      compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    } else if (dtype == "fp16") {
      type = CUDA_R_16F;
      element = 2;
    } else if (dtype == "bf16") {
      type = CUDA_R_16BF;
      element = 2;
    } else if (dtype != "fp32") {
      raise(ErrorCode::InvalidArgument, "gemm dtype '{}': accepted values are fp32, tf32, fp16, bf16", dtype);
    }
    CudaMemory a(n * n * element);
    CudaMemory b(n * n * element);
    CudaMemory c(n * n * element);
    check(cudaMemset(a.data(), 0, a.bytes()), "cudaMemset");
    check(cudaMemset(b.data(), 0, b.bytes()), "cudaMemset");
    cublasHandle_t handle = nullptr;
    check(cublasCreate(&handle), "cublasCreate");
    const float alpha = 1.0f;
    const float beta = 0.0f;
    int dim = static_cast<int>(n);
    auto gemm = [&] {
      check(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, dim, dim, dim, &alpha, a.data(), type, dim,
                         b.data(), type, dim, &beta, c.data(), type, dim, compute, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx");
    };
    for (int i = 0; i < warmup; ++i) gemm();
    double seconds = time_on_stream(iterations, gemm);
    cublasDestroy(handle);
    constexpr double kFlopsPerTflop = 1e12;
    double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    return flops / seconds / kFlopsPerTflop;
  }
};

}  // namespace
}  // namespace myriad::bench

// The plugin's entry point (device_plugin.h).
extern "C" __attribute__((visibility("default"))) myriad::bench::DeviceApi* myriad_bench_device_plugin(
    uint32_t abi) {
  if (abi != myriad::bench::kDevicePluginAbi) return nullptr;
  static myriad::bench::CudaDevice device;
  return &device;
}
