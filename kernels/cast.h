// Array conversions between f32 and the 16-bit floating types, for mixed-
// precision collectives (reduce in f32, send f16/bf16, or the reverse).
//
// Narrowing rounds to nearest even, keeps infinities, produces subnormals
// (never flushes) and turns a NaN into a quiet NaN of the same sign; widening
// is exact except that signalling NaNs become quiet (kernels/half.h). Every
// ISA level gives the same bits.
//
// Memory: src and dst must not overlap. No alignment beyond the element's
// own; n == 0 touches nothing. Stateless and thread-safe.
#pragma once

#include <cstddef>

#include "kernels/half.h"
#include "kernels/isa.h"

namespace myriad::kernels {

enum class Cast : uint8_t { F32ToF16, F16ToF32, F32ToBF16, BF16ToF32 };
inline constexpr int kCastCount = 4;
inline constexpr Cast kAllCasts[] = {Cast::F32ToF16, Cast::F16ToF32, Cast::F32ToBF16, Cast::BF16ToF32};

// dst[i] = convert(src[i]), i < n.
using CastFn = void (*)(void* dst, const void* src, size_t n);

// The kernel at the active level (never null) or at a given level (nullptr
// when isa_supported(isa) is false).
CastFn cast_function(Cast cast);
CastFn cast_function(Cast cast, Isa isa);

void cast_f32_to_f16(const float* src, Half* dst, size_t n);
void cast_f16_to_f32(const Half* src, float* dst, size_t n);
void cast_f32_to_bf16(const float* src, BFloat16* dst, size_t n);
void cast_bf16_to_f32(const BFloat16* src, float* dst, size_t n);

}  // namespace myriad::kernels
