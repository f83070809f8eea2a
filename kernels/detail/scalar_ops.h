// Internal: one element of every reduction, scale and cast, in plain C++.
// The scalar kernels are loops over these, and the AVX2 kernels use them for
// the last n % lanes elements, which is why vector and scalar results agree
// bit for bit (see reduce.h for the rules).
//
// Everything is in an unnamed namespace on purpose: the AVX source files are
// compiled with -mavx2/-mavx512f, and a template instantiated there with
// external linkage could be the copy the linker keeps for the scalar code
// too, faulting on older CPUs. Internal linkage gives each file its own copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/element_type.h"
#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

// The type arithmetic is done in: float for the 16-bit floats.
template <typename T>
struct Compute {
  using type = T;
  static T widen(T v) { return v; }
  static T narrow(T v) { return v; }
};
template <>
struct Compute<Half> {
  using type = float;
  static float widen(Half v) { return half_bits_to_float(v.bits); }
  static Half narrow(float v) { return Half::from_bits(float_to_half_bits(v)); }
};
template <>
struct Compute<BFloat16> {
  using type = float;
  static float widen(BFloat16 v) { return bfloat16_bits_to_float(v.bits); }
  static BFloat16 narrow(float v) { return BFloat16::from_bits(float_to_bfloat16_bits(v)); }
};

template <typename C, ReduceKind K>
C apply(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    // Unsigned arithmetic wraps by definition; the conversion back to a
    // signed type is modular since C++20.
    using U = std::make_unsigned_t<C>;
    if constexpr (K == ReduceKind::Sum)
      return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    if constexpr (K == ReduceKind::Prod) {
      // Multiply at least in unsigned int: u8 * u8 would otherwise promote
      // to (signed) int, which is fine for 8 bits but not a habit to keep.
      using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
      return static_cast<C>(
          static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
    }
    if constexpr (K == ReduceKind::Min) return b < a ? b : a;
    if constexpr (K == ReduceKind::Max) return b > a ? b : a;
    // Small types promote to int and back: the bits are kept either way.
    if constexpr (K == ReduceKind::Band) return static_cast<C>(a & b);
    if constexpr (K == ReduceKind::Bor) return static_cast<C>(a | b);
    if constexpr (K == ReduceKind::Bxor) return static_cast<C>(a ^ b);
  } else {
    static_assert(!is_bitwise(K), "the bitwise reductions are for integer types");
    if constexpr (K == ReduceKind::Sum) return a + b;
    if constexpr (K == ReduceKind::Prod) return a * b;
    // The NaN test and operand order match the x86 min/max instructions
    // followed by "take a where a is NaN" (see reduce.h).
    if constexpr (K == ReduceKind::Min) return __builtin_isnan(a) ? a : (a < b ? a : b);
    if constexpr (K == ReduceKind::Max) return __builtin_isnan(a) ? a : (a > b ? a : b);
  }
}

template <typename T, ReduceKind K>
T combine(T a, T b) {
  using C = Compute<T>;
  return C::narrow(apply<typename C::type, K>(C::widen(a), C::widen(b)));
}

template <typename T>
T scale_one(T v, double factor) {
  using C = Compute<T>;
  using F = typename C::type;
  return C::narrow(C::widen(v) * static_cast<F>(factor));
}

template <typename T, ReduceKind K>
void reduce_tail(T* dst, const T* a, const T* b, size_t begin, size_t n) {
  for (size_t i = begin; i < n; ++i) dst[i] = combine<T, K>(a[i], b[i]);
}

template <typename T>
void scale_tail(T* data, size_t begin, size_t n, double factor) {
  for (size_t i = begin; i < n; ++i) data[i] = scale_one(data[i], factor);
}

}  // namespace
}  // namespace myriad::kernels::detail
