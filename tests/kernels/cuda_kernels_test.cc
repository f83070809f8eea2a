// CUDA reductions, scaling and casts against the CPU scalar kernels, which
// follow the same rules (kernels/cuda/reduce.h). Label `gpu`: every test
// skips with the reason when no CUDA device is usable.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cast.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/reduce.h"
#include "kernels/reduce.h"
#include "tests/kernels/kernel_test_util.h"

namespace myriad::kernels {
namespace {

constexpr size_t kGpuCounts[] = {0, 1, 7, 255, 256, 257, 1023, (size_t{1} << 20) + 3, (size_t{1} << 22) + 5};

#define ASSERT_CUDA(call) \
  ASSERT_EQ((call), cudaSuccess) << #call << ": " << cudaGetErrorString(cudaGetLastError())

// Device memory freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) {
    if (bytes > 0 && cudaMalloc(&data_, bytes) != cudaSuccess) data_ = nullptr;
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
};

class CudaKernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) GTEST_SKIP() << "no CUDA device: " << cudaGetErrorString(error);
    if (count == 0) GTEST_SKIP() << "no CUDA device: cudaGetDeviceCount found 0";
    ASSERT_CUDA(cudaStreamCreate(&stream_));
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  cudaStream_t stream_ = nullptr;
};

// Random bytes that are valid elements of every type (integers wrap, and
// any bit pattern is a float, NaNs included).
std::vector<unsigned char> random_bytes(size_t bytes, uint64_t seed) {
  std::vector<unsigned char> out(bytes);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(rng());
  return out;
}

// Compares element by element as `type`; NaN equals NaN.
void expect_same_elements(ElementType type, const std::vector<unsigned char>& got,
                          const std::vector<unsigned char>& expected, size_t n) {
  size_t mismatches = 0;
  const size_t width = element_size(type);
  for (size_t i = 0; i < n && mismatches < 5; ++i) {
    bool same = false;
    const unsigned char* g = got.data() + i * width;
    const unsigned char* e = expected.data() + i * width;
    switch (type) {
      case ElementType::F32:
        same = testing::same(*reinterpret_cast<const float*>(g), *reinterpret_cast<const float*>(e));
        break;
      case ElementType::F64:
        same = testing::same(*reinterpret_cast<const double*>(g), *reinterpret_cast<const double*>(e));
        break;
      case ElementType::F16:
        same = testing::same(*reinterpret_cast<const Half*>(g), *reinterpret_cast<const Half*>(e));
        break;
      case ElementType::BF16:
        same = testing::same(*reinterpret_cast<const BFloat16*>(g), *reinterpret_cast<const BFloat16*>(e));
        break;
      default: same = std::memcmp(g, e, width) == 0; break;
    }
    if (!same) {
      ++mismatches;
      ADD_FAILURE() << element_type_name(type) << " element " << i << " differs from the CPU result";
    }
  }
}

TEST_F(CudaKernelsTest, ReduceMatchesCpuForEveryTypeAndOp) {
  for (ElementType type : kAllElementTypes) {
    for (ReduceKind kind : kAllReduceKinds) {
      if (!reduce_defined(type, kind)) continue;  // CudaReduceArguments checks these
      for (size_t n : kGpuCounts) {
        SCOPED_TRACE(std::string(element_type_name(type)) + " " + reduce_kind_name(kind) +
                     " n=" + std::to_string(n));
        const size_t bytes = n * element_size(type);
        const auto a = random_bytes(bytes, 1 + n);
        const auto b = random_bytes(bytes, 2 + n);
        std::vector<unsigned char> expected(bytes);
        reduce_function(type, kind, Isa::Scalar)(expected.data(), a.data(), b.data(), n);
        DeviceBuffer da(bytes), db(bytes), dd(bytes);
        ASSERT_CUDA(cudaMemcpy(da.get(), a.data(), bytes, cudaMemcpyHostToDevice));
        ASSERT_CUDA(cudaMemcpy(db.get(), b.data(), bytes, cudaMemcpyHostToDevice));
        cuda::reduce(type, kind, dd.get(), da.get(), db.get(), n, stream_);  // out of place
        cuda::reduce(type, kind, da.get(), da.get(), db.get(), n, stream_);  // in place
        ASSERT_CUDA(cudaStreamSynchronize(stream_));
        std::vector<unsigned char> got(bytes);
        ASSERT_CUDA(cudaMemcpy(got.data(), dd.get(), bytes, cudaMemcpyDeviceToHost));
        expect_same_elements(type, got, expected, n);
        ASSERT_CUDA(cudaMemcpy(got.data(), da.get(), bytes, cudaMemcpyDeviceToHost));
        expect_same_elements(type, got, expected, n);
      }
    }
  }
}

// Argument errors are thrown before anything touches a device.
TEST(CudaReduceArguments, BitwiseOfFloatingTypesIsRejected) {
  for (ElementType type : {ElementType::F32, ElementType::F64, ElementType::F16, ElementType::BF16}) {
    for (ReduceKind kind : {ReduceKind::Band, ReduceKind::Bor, ReduceKind::Bxor}) {
      EXPECT_THROW(cuda::reduce(type, kind, nullptr, nullptr, nullptr, 0, nullptr), std::invalid_argument)
          << reduce_kind_name(kind) << " of " << element_type_name(type);
    }
  }
  EXPECT_THROW(cuda::reduce(static_cast<ElementType>(kElementTypeCount), ReduceKind::Sum, nullptr, nullptr,
                            nullptr, 0, nullptr),
               std::invalid_argument);
}

TEST_F(CudaKernelsTest, ScaleMatchesCpu) {
  for (ElementType type : {ElementType::F32, ElementType::F64, ElementType::F16, ElementType::BF16}) {
    for (size_t n : kGpuCounts) {
      SCOPED_TRACE(std::string(element_type_name(type)) + " n=" + std::to_string(n));
      const size_t bytes = n * element_size(type);
      auto expected = random_bytes(bytes, 3 + n);
      DeviceBuffer d(bytes);
      ASSERT_CUDA(cudaMemcpy(d.get(), expected.data(), bytes, cudaMemcpyHostToDevice));
      cuda::scale(type, d.get(), n, 1.0 / 3.0, stream_);
      scale_function(type, Isa::Scalar)(expected.data(), n, 1.0 / 3.0);
      ASSERT_CUDA(cudaStreamSynchronize(stream_));
      std::vector<unsigned char> got(bytes);
      ASSERT_CUDA(cudaMemcpy(got.data(), d.get(), bytes, cudaMemcpyDeviceToHost));
      expect_same_elements(type, got, expected, n);
    }
  }
  EXPECT_THROW(cuda::scale(ElementType::I32, nullptr, 1, 0.5, stream_), std::invalid_argument);
}

TEST_F(CudaKernelsTest, CastsMatchCpu) {
  const ElementType narrow_types[] = {ElementType::F16, ElementType::F16, ElementType::BF16,
                                      ElementType::BF16};
  for (Cast cast : kAllCasts) {
    const bool from_f32 = cast == Cast::F32ToF16 || cast == Cast::F32ToBF16;
    const ElementType narrow = narrow_types[static_cast<int>(cast)];
    const ElementType in_type = from_f32 ? ElementType::F32 : narrow;
    const ElementType out_type = from_f32 ? narrow : ElementType::F32;
    for (size_t n : kGpuCounts) {
      SCOPED_TRACE("cast " + std::to_string(static_cast<int>(cast)) + " n=" + std::to_string(n));
      const auto in = random_bytes(n * element_size(in_type), 4 + n);
      std::vector<unsigned char> expected(n * element_size(out_type));
      cast_function(cast, Isa::Scalar)(expected.data(), in.data(), n);
      DeviceBuffer din(in.size()), dout(expected.size());
      ASSERT_CUDA(cudaMemcpy(din.get(), in.data(), in.size(), cudaMemcpyHostToDevice));
      cuda::cast(cast, dout.get(), din.get(), n, stream_);
      ASSERT_CUDA(cudaStreamSynchronize(stream_));
      std::vector<unsigned char> got(expected.size());
      ASSERT_CUDA(cudaMemcpy(got.data(), dout.get(), got.size(), cudaMemcpyDeviceToHost));
      expect_same_elements(out_type, got, expected, n);
    }
  }
}

}  // namespace
}  // namespace myriad::kernels
