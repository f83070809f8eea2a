// CUDA reduction and scale kernels (kernels/cuda/reduce.h): one grid-stride
// element loop per (type, op), compiled for every pair and picked from a
// table, as the CPU levels are.
#include "kernels/cuda/device_ops.cuh"
#include "kernels/cuda/reduce.h"

namespace myriad::kernels::cuda {
namespace {

using detail::BF16Bits;
using detail::DeviceCompute;
using detail::F16Bits;

template <typename T, ReduceKind K>
__global__ void reduce_kernel(T* dst, const T* a, const T* b, size_t n) {
  using C = DeviceCompute<T>;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = C::narrow(detail::apply<typename C::type, K>(C::widen(a[i]), C::widen(b[i])));
  }
}

template <typename T>
__global__ void scale_kernel(T* data, size_t n, typename DeviceCompute<T>::type factor) {
  using C = DeviceCompute<T>;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    data[i] = C::narrow(C::widen(data[i]) * factor);
  }
}

using Launch = void (*)(void*, const void*, const void*, size_t, cudaStream_t);

template <typename T, ReduceKind K>
void launch_reduce(void* dst, const void* a, const void* b, size_t n, cudaStream_t stream) {
  reduce_kernel<T, K><<<detail::blocks_for(n), detail::kThreadsPerBlock, 0, stream>>>(
      static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), n);
}

template <typename T>
void launch_scale(void* data, size_t n, double factor, cudaStream_t stream) {
  using F = typename DeviceCompute<T>::type;
  scale_kernel<T><<<detail::blocks_for(n), detail::kThreadsPerBlock, 0, stream>>>(static_cast<T*>(data), n,
                                                                                  static_cast<F>(factor));
}

// The launcher of (T, K), or nullptr for a bitwise kind of a floating type
// (F16Bits and BF16Bits are not integral), which has no kernel.
template <typename T, ReduceKind K>
constexpr Launch launcher() {
  if constexpr (std::is_integral_v<T> || !is_bitwise(K)) {
    return &launch_reduce<T, K>;
  } else {
    return nullptr;
  }
}

// In ReduceKind order.
template <typename T>
constexpr Launch kRow[kReduceKindCount] = {launcher<T, ReduceKind::Sum>(),  launcher<T, ReduceKind::Prod>(),
                                           launcher<T, ReduceKind::Min>(),  launcher<T, ReduceKind::Max>(),
                                           launcher<T, ReduceKind::Band>(), launcher<T, ReduceKind::Bor>(),
                                           launcher<T, ReduceKind::Bxor>()};

// In ElementType order.
const Launch* const kReduceTable[kElementTypeCount] = {kRow<float>,    kRow<double>,  kRow<F16Bits>,
                                                       kRow<BF16Bits>, kRow<int8_t>,  kRow<uint8_t>,
                                                       kRow<int32_t>,  kRow<int64_t>, kRow<int16_t>};

}  // namespace

void reduce(ElementType type, ReduceKind kind, void* dst, const void* a, const void* b, size_t n,
            cudaStream_t stream) {
  if (static_cast<int>(type) >= kElementTypeCount || static_cast<int>(kind) >= kReduceKindCount) {
    throw std::invalid_argument("kernels: CUDA reduce: element type or reduce kind out of range");
  }
  if (!reduce_defined(type, kind)) {
    throw std::invalid_argument(std::string("kernels: CUDA reduce: ") + reduce_kind_name(kind) +
                                " is a bitwise reduction, defined for integer types, not " +
                                element_type_name(type));
  }
  if (n == 0) return;
  kReduceTable[static_cast<int>(type)][static_cast<int>(kind)](dst, a, b, n, stream);
  detail::check_launch("reduce");
}

void scale(ElementType type, void* data, size_t n, double factor, cudaStream_t stream) {
  if (!is_floating(type)) {
    throw std::invalid_argument(std::string("kernels: CUDA scale is defined for floating types, not ") +
                                (static_cast<int>(type) < kElementTypeCount ? element_type_name(type) : "?"));
  }
  if (n == 0) return;
  switch (type) {
    case ElementType::F32: launch_scale<float>(data, n, factor, stream); break;
    case ElementType::F64: launch_scale<double>(data, n, factor, stream); break;
    case ElementType::F16: launch_scale<F16Bits>(data, n, factor, stream); break;
    case ElementType::BF16: launch_scale<BF16Bits>(data, n, factor, stream); break;
    default: break;
  }
  detail::check_launch("scale");
}

}  // namespace myriad::kernels::cuda
