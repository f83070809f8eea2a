// Internal: one 256-bit vector of each element type, for the AVX2 kernels.
// Include only from files compiled with -mavx2 -mfma -mf16c.
//
// Each Lanes struct says how to load kLanes elements into the type they are
// computed in (f16/bf16 widen to 8 x f32), store them back (rounding to
// nearest even) and combine two vectors. The floating Min/Max follow the
// rule of reduce.h: the x86 min/max return b when either input is NaN, so a
// blend puts a back where a is NaN.
// Unnamed namespace for the reason given in detail/scalar_ops.h.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

inline constexpr int kRoundNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

struct F32x8Ops {
  using V = __m256;
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V min(V a, V b) {
    return _mm256_blendv_ps(_mm256_min_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  static V max(V a, V b) {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  static V broadcast(double f) { return _mm256_set1_ps(static_cast<float>(f)); }
};

struct F32Lanes : F32x8Ops {
  using T = float;
  static constexpr size_t kLanes = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
};

struct F64Lanes {
  using T = double;
  using V = __m256d;
  static constexpr size_t kLanes = 4;
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V min(V a, V b) {
    return _mm256_blendv_pd(_mm256_min_pd(a, b), a, _mm256_cmp_pd(a, a, _CMP_UNORD_Q));
  }
  static V max(V a, V b) {
    return _mm256_blendv_pd(_mm256_max_pd(a, b), a, _mm256_cmp_pd(a, a, _CMP_UNORD_Q));
  }
  static V broadcast(double f) { return _mm256_set1_pd(f); }
};

// F16C converts with IEEE rounding and keeps subnormals (MXCSR's FTZ/DAZ
// are off in a default process).
struct F16Lanes : F32x8Ops {
  using T = Half;
  static constexpr size_t kLanes = 8;
  static V load(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static void store(T* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, kRoundNearest));
  }
};

// bf16 is the top half of an f32: widening is a shift; narrowing is the
// integer round-to-nearest-even of half.h, vector by vector.
struct BF16Lanes : F32x8Ops {
  using T = BFloat16;
  static constexpr size_t kLanes = 8;
  static V load(const T* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static void store(T* p, V v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i high = _mm256_srli_epi32(x, 16);
    const __m256i odd = _mm256_and_si256(high, _mm256_set1_epi32(1));
    const __m256i rounded =
        _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i quiet_nan = _mm256_or_si256(high, _mm256_set1_epi32(half_bits::kBF16QuietBit));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256i result = _mm256_blendv_epi8(rounded, quiet_nan, nan);
    // Every lane is below 2^16, so the saturating pack is a plain narrowing.
    const __m128i packed =
        _mm_packus_epi32(_mm256_castsi256_si128(result), _mm256_extracti128_si256(result, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
};

// The bf16 -> f32 cast also quiets a signalling NaN, as
// bfloat16_bits_to_float does. Reductions skip that step: their arithmetic
// quiets NaNs anyway, and store() quiets any NaN it narrows.
struct BF16CastLanes : BF16Lanes {
  static V load(const T* p) {
    const __m256 x = BF16Lanes::load(p);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    return _mm256_or_ps(x,
                        _mm256_and_ps(nan, _mm256_castsi256_ps(_mm256_set1_epi32(half_bits::kF32QuietBit))));
  }
};

template <typename E>
struct IntLanes {
  using T = E;
  using V = __m256i;
  static constexpr size_t kLanes = 32 / sizeof(E);
  static V load(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(T* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // The bitwise reductions do not depend on the element width.
  static V band(V a, V b) { return _mm256_and_si256(a, b); }
  static V bor(V a, V b) { return _mm256_or_si256(a, b); }
  static V bxor(V a, V b) { return _mm256_xor_si256(a, b); }
};

// There is no 8-bit multiply: multiply the even and the odd bytes as 16-bit
// lanes and keep each product's low byte (the same for signed and unsigned).
inline __m256i mul_epi8(__m256i a, __m256i b) {
  const __m256i even = _mm256_mullo_epi16(a, b);
  const __m256i odd = _mm256_mullo_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
  return _mm256_or_si256(_mm256_slli_epi16(odd, 8), _mm256_and_si256(even, _mm256_set1_epi16(0xff)));
}

struct I8Lanes : IntLanes<int8_t> {
  static V add(V a, V b) { return _mm256_add_epi8(a, b); }
  static V mul(V a, V b) { return mul_epi8(a, b); }
  static V min(V a, V b) { return _mm256_min_epi8(a, b); }
  static V max(V a, V b) { return _mm256_max_epi8(a, b); }
};

struct U8Lanes : IntLanes<uint8_t> {
  static V add(V a, V b) { return _mm256_add_epi8(a, b); }
  static V mul(V a, V b) { return mul_epi8(a, b); }
  static V min(V a, V b) { return _mm256_min_epu8(a, b); }
  static V max(V a, V b) { return _mm256_max_epu8(a, b); }
};

// The low 16 bits of a product are the same for signed and unsigned inputs.
struct I16Lanes : IntLanes<int16_t> {
  static V add(V a, V b) { return _mm256_add_epi16(a, b); }
  static V mul(V a, V b) { return _mm256_mullo_epi16(a, b); }
  static V min(V a, V b) { return _mm256_min_epi16(a, b); }
  static V max(V a, V b) { return _mm256_max_epi16(a, b); }
};

struct I32Lanes : IntLanes<int32_t> {
  static V add(V a, V b) { return _mm256_add_epi32(a, b); }
  static V mul(V a, V b) { return _mm256_mullo_epi32(a, b); }
  static V min(V a, V b) { return _mm256_min_epi32(a, b); }
  static V max(V a, V b) { return _mm256_max_epi32(a, b); }
};

// AVX2 has no 64-bit multiply, min or max: build them from 32x32->64
// multiplies and a signed compare.
struct I64Lanes : IntLanes<int64_t> {
  static V add(V a, V b) { return _mm256_add_epi64(a, b); }
  static V mul(V a, V b) {
    const __m256i low = _mm256_mul_epu32(a, b);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                           _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(low, _mm256_slli_epi64(cross, 32));
  }
  static V min(V a, V b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }
  static V max(V a, V b) { return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b)); }
};

}  // namespace
}  // namespace myriad::kernels::detail
