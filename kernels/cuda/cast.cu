// CUDA f32 <-> f16/bf16 conversions (kernels/cuda/cast.h): a grid-stride
// loop per direction over the device conversions of device_ops.cuh.
#include "kernels/cuda/cast.h"
#include "kernels/cuda/device_ops.cuh"

namespace myriad::kernels::cuda {
namespace {

using detail::BF16Bits;
using detail::DeviceCompute;
using detail::F16Bits;

// From and To are float, F16Bits or BF16Bits; one of them is float.
template <typename From, typename To>
__global__ void cast_kernel(To* dst, const From* src, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = DeviceCompute<To>::narrow(DeviceCompute<From>::widen(src[i]));
  }
}

template <typename From, typename To>
void launch_cast(void* dst, const void* src, size_t n, cudaStream_t stream) {
  cast_kernel<From, To><<<detail::blocks_for(n), detail::kThreadsPerBlock, 0, stream>>>(
      static_cast<To*>(dst), static_cast<const From*>(src), n);
}

using Launch = void (*)(void*, const void*, size_t, cudaStream_t);

// In Cast order.
constexpr Launch kCastTable[kCastCount] = {&launch_cast<float, F16Bits>, &launch_cast<F16Bits, float>,
                                           &launch_cast<float, BF16Bits>, &launch_cast<BF16Bits, float>};

}  // namespace

void cast(Cast cast, void* dst, const void* src, size_t n, cudaStream_t stream) {
  if (static_cast<int>(cast) >= kCastCount) {
    throw std::invalid_argument("kernels: CUDA cast out of range");
  }
  if (n == 0) return;
  kCastTable[static_cast<int>(cast)](dst, src, n, stream);
  detail::check_launch("cast");
}

}  // namespace myriad::kernels::cuda
