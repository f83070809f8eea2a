// Internal: one element of every reduction and conversion, in device code.
// The rules are those of kernels/reduce.h and mirror detail/scalar_ops.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/element_type.h"

namespace myriad::kernels::cuda::detail {

// Storage tags for the 16-bit floats: kernels see them as raw uint16_t.
struct F16Bits {
  uint16_t bits;
};
struct BF16Bits {
  uint16_t bits;
};

template <typename T>
struct DeviceCompute {
  using type = T;
  __device__ static T widen(T v) { return v; }
  __device__ static T narrow(T v) { return v; }
};
template <>
struct DeviceCompute<F16Bits> {
  using type = float;
  __device__ static float widen(F16Bits v) { return __half2float(__ushort_as_half(v.bits)); }
  __device__ static F16Bits narrow(float v) { return F16Bits{__half_as_ushort(__float2half_rn(v))}; }
};
template <>
struct DeviceCompute<BF16Bits> {
  using type = float;
  __device__ static float widen(BF16Bits v) { return __bfloat162float(__ushort_as_bfloat16(v.bits)); }
  __device__ static BF16Bits narrow(float v) {
    return BF16Bits{__bfloat16_as_ushort(__float2bfloat16_rn(v))};
  }
};

template <typename C, ReduceKind K>
__device__ C apply(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    if constexpr (K == ReduceKind::Sum)
      return static_cast<C>(
          static_cast<U>(static_cast<W>(static_cast<U>(a)) + static_cast<W>(static_cast<U>(b))));
    if constexpr (K == ReduceKind::Prod)
      return static_cast<C>(
          static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
    if constexpr (K == ReduceKind::Min) return b < a ? b : a;
    if constexpr (K == ReduceKind::Max) return b > a ? b : a;
    if constexpr (K == ReduceKind::Band) return static_cast<C>(a & b);
    if constexpr (K == ReduceKind::Bor) return static_cast<C>(a | b);
    if constexpr (K == ReduceKind::Bxor) return static_cast<C>(a ^ b);
  } else {
    // Not is_bitwise(K): a host constexpr function, which device code may not call.
    static_assert(K != ReduceKind::Band && K != ReduceKind::Bor && K != ReduceKind::Bxor,
                  "the bitwise reductions are for integer types");
    if constexpr (K == ReduceKind::Sum) return a + b;
    if constexpr (K == ReduceKind::Prod) return a * b;
    if constexpr (K == ReduceKind::Min) return isnan(a) ? a : (a < b ? a : b);
    if constexpr (K == ReduceKind::Max) return isnan(a) ? a : (a > b ? a : b);
  }
}

// Threads per block, and a cap on blocks: beyond it each thread strides
// over several elements, which costs nothing and bounds the launch size.
inline constexpr unsigned kThreadsPerBlock = 256;
inline constexpr size_t kMaxBlocks = 8192;

inline unsigned blocks_for(size_t n) {
  const size_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

inline void check_launch(const char* what) {
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) {
    throw std::runtime_error(std::string("kernels: launching CUDA ") + what +
                             " failed: " + cudaGetErrorString(error));
  }
}

}  // namespace myriad::kernels::cuda::detail
