// AVX2 + F16C f32 <-> f16/bf16 conversions: a vector of 8 is loaded in one
// format and stored in the other (detail/avx2_lanes.h); the last n % 8
// elements go through kernels/half.h. Compiled with -mavx2 -mfma -mf16c.
#include <type_traits>

#include "kernels/detail/avx2_lanes.h"
#include "kernels/detail/kernel_table.h"
#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

template <typename From, typename To>
void convert(void* dst, const void* src, size_t n) {
  static_assert(From::kLanes == To::kLanes);
  const auto* in = static_cast<const typename From::T*>(src);
  auto* out = static_cast<typename To::T*>(dst);
  size_t i = 0;
  for (; i + From::kLanes <= n; i += From::kLanes) To::store(out + i, From::load(in + i));
  for (; i < n; ++i) {
    if constexpr (std::is_same_v<typename From::T, float>) {
      out[i] = typename To::T(in[i]);
    } else {
      out[i] = static_cast<float>(in[i]);
    }
  }
}

constexpr CastTable kAvx2CastTable{{&convert<F32Lanes, F16Lanes>, &convert<F16Lanes, F32Lanes>,
                                    &convert<F32Lanes, BF16Lanes>, &convert<BF16CastLanes, F32Lanes>}};

}  // namespace

const CastTable* avx2_cast_table() {
  return &kAvx2CastTable;
}

}  // namespace myriad::kernels::detail
