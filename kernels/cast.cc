// Picks a cast kernel from the table of the requested level.
#include "kernels/cast.h"

#include <stdexcept>
#include <string>

#include "kernels/detail/kernel_table.h"

namespace myriad::kernels {

CastFn cast_function(Cast cast, Isa isa) {
  if (static_cast<int>(cast) >= kCastCount) {
    throw std::invalid_argument("kernels: cast " + std::to_string(static_cast<int>(cast)) +
                                " is out of range");
  }
  if (!isa_supported(isa)) return nullptr;
  const detail::CastTable* table = nullptr;
  switch (isa) {
    case Isa::Scalar: table = detail::scalar_cast_table(); break;
    case Isa::Avx2: table = detail::avx2_cast_table(); break;
    case Isa::Avx512: table = detail::avx512_cast_table(); break;
  }
  return table == nullptr ? nullptr : table->cast[static_cast<int>(cast)];
}

CastFn cast_function(Cast cast) {
  return cast_function(cast, active_isa());
}

void cast_f32_to_f16(const float* src, Half* dst, size_t n) {
  cast_function(Cast::F32ToF16)(dst, src, n);
}
void cast_f16_to_f32(const Half* src, float* dst, size_t n) {
  cast_function(Cast::F16ToF32)(dst, src, n);
}
void cast_f32_to_bf16(const float* src, BFloat16* dst, size_t n) {
  cast_function(Cast::F32ToBF16)(dst, src, n);
}
void cast_bf16_to_f32(const BFloat16* src, float* dst, size_t n) {
  cast_function(Cast::BF16ToF32)(dst, src, n);
}

}  // namespace myriad::kernels
