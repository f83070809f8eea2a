// AVX-512 reduction and scale kernels: 512-bit vectors over the body of the
// array and one masked vector for the rest. Compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq (kernels/CMakeLists.txt); called only
// after isa_supported(Isa::Avx512).
#include "kernels/detail/avx512_lanes.h"
#include "kernels/detail/kernel_table.h"
#include "kernels/detail/table_builder.h"

namespace myriad::kernels::detail {
namespace {

template <typename L>
struct LanesOf;
template <>
struct LanesOf<float> {
  using type = F32Lanes;
};
template <>
struct LanesOf<double> {
  using type = F64Lanes;
};
template <>
struct LanesOf<Half> {
  using type = F16Lanes;
};
template <>
struct LanesOf<BFloat16> {
  using type = BF16Lanes;
};
template <>
struct LanesOf<int8_t> {
  using type = I8Lanes;
};
template <>
struct LanesOf<uint8_t> {
  using type = U8Lanes;
};
template <>
struct LanesOf<int32_t> {
  using type = I32Lanes;
};
template <>
struct LanesOf<int64_t> {
  using type = I64Lanes;
};
template <>
struct LanesOf<int16_t> {
  using type = I16Lanes;
};

template <typename L, ReduceKind K>
typename L::V combine_vectors(typename L::V a, typename L::V b) {
  if constexpr (K == ReduceKind::Sum) return L::add(a, b);
  if constexpr (K == ReduceKind::Prod) return L::mul(a, b);
  if constexpr (K == ReduceKind::Min) return L::min(a, b);
  if constexpr (K == ReduceKind::Max) return L::max(a, b);
  if constexpr (K == ReduceKind::Band) return L::band(a, b);
  if constexpr (K == ReduceKind::Bor) return L::bor(a, b);
  if constexpr (K == ReduceKind::Bxor) return L::bxor(a, b);
}

template <typename T, ReduceKind K>
struct Avx512Reduce {
  static void run(void* dst, const void* a, const void* b, size_t n) {
    using L = typename LanesOf<T>::type;
    auto* d = static_cast<T*>(dst);
    const auto* x = static_cast<const T*>(a);
    const auto* y = static_cast<const T*>(b);
    size_t i = 0;
    // Both inputs of a vector are loaded before it is stored, so dst may be
    // a or b.
    for (; i + L::kLanes <= n; i += L::kLanes) {
      L::store(d + i, combine_vectors<L, K>(L::load(x + i), L::load(y + i)));
    }
    if (i < n) {
      const auto m = first_lanes<typename L::Mask>(n - i);
      L::store(d + i, combine_vectors<L, K>(L::load(x + i, m), L::load(y + i, m)), m);
    }
  }
};

template <typename T>
struct Avx512Scale {
  static void run(void* data, size_t n, double factor) {
    using L = typename LanesOf<T>::type;
    auto* d = static_cast<T*>(data);
    const typename L::V f = L::broadcast(factor);
    size_t i = 0;
    for (; i + L::kLanes <= n; i += L::kLanes) L::store(d + i, L::mul(L::load(d + i), f));
    if (i < n) {
      const auto m = first_lanes<typename L::Mask>(n - i);
      L::store(d + i, L::mul(L::load(d + i, m), f), m);
    }
  }
};

constexpr ReduceTable kAvx512ReduceTable = make_reduce_table<Avx512Reduce, Avx512Scale>();

}  // namespace

const ReduceTable* avx512_reduce_table() {
  return &kAvx512ReduceTable;
}

}  // namespace myriad::kernels::detail
