// AVX-512 f32 <-> f16/bf16 conversions: 16 elements are loaded in one format
// and stored in the other (detail/avx512_lanes.h), the rest by one masked
// vector. Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq.
#include "kernels/detail/avx512_lanes.h"
#include "kernels/detail/kernel_table.h"

namespace myriad::kernels::detail {
namespace {

template <typename From, typename To>
void convert(void* dst, const void* src, size_t n) {
  static_assert(From::kLanes == To::kLanes);
  const auto* in = static_cast<const typename From::T*>(src);
  auto* out = static_cast<typename To::T*>(dst);
  size_t i = 0;
  for (; i + From::kLanes <= n; i += From::kLanes) To::store(out + i, From::load(in + i));
  if (i < n) {
    const auto m = first_lanes<typename From::Mask>(n - i);
    To::store(out + i, From::load(in + i, m), m);
  }
}

constexpr CastTable kAvx512CastTable{{&convert<F32Lanes, F16Lanes>, &convert<F16Lanes, F32Lanes>,
                                      &convert<F32Lanes, BF16Lanes>, &convert<BF16CastLanes, F32Lanes>}};

}  // namespace

const CastTable* avx512_cast_table() {
  return &kAvx512CastTable;
}

}  // namespace myriad::kernels::detail
