// Internal: one 512-bit vector of each element type, for the AVX-512
// kernels. Include only from files compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512dq.
//
// As detail/avx2_lanes.h, plus masked loads and stores: the last
// n % kLanes elements are handled by one masked vector (masked-off lanes are
// neither read nor written, so they cannot fault), which keeps the vector
// path the only path. Unnamed namespace for the reason given in
// detail/scalar_ops.h.
#pragma once

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (a variable
// initialised with itself), which -Wmaybe-uninitialized reports inside the
// header wherever they are inlined (GCC bug 105593, fixed in 12.3/13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

#include "kernels/half.h"

namespace myriad::kernels::detail {
namespace {

inline constexpr int kRoundNearest512 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// The first `count` lanes (count < 64).
template <typename Mask>
Mask first_lanes(size_t count) {
  return static_cast<Mask>((uint64_t{1} << count) - 1);
}

struct F32x16Ops {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr size_t kLanes = 16;
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // x86 min/max return b when either input is NaN: put a back where a is NaN.
  static V min(V a, V b) {
    return _mm512_mask_mov_ps(_mm512_min_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
  }
  static V max(V a, V b) {
    return _mm512_mask_mov_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
  }
  static V broadcast(double f) { return _mm512_set1_ps(static_cast<float>(f)); }
};

struct F32Lanes : F32x16Ops {
  using T = float;
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
};

struct F64Lanes {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr size_t kLanes = 8;
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V min(V a, V b) {
    return _mm512_mask_mov_pd(_mm512_min_pd(a, b), _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q), a);
  }
  static V max(V a, V b) {
    return _mm512_mask_mov_pd(_mm512_max_pd(a, b), _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q), a);
  }
  static V broadcast(double f) { return _mm512_set1_pd(f); }
};

struct F16Lanes : F32x16Ops {
  using T = Half;
  static V widen(__m256i h) { return _mm512_cvtph_ps(h); }
  static __m256i narrow(V v) { return _mm512_cvtps_ph(v, kRoundNearest512); }
  static V load(const T* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static void store(T* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow(v)); }
  static V load(const T* p, Mask m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
  static void store(T* p, V v, Mask m) { _mm256_mask_storeu_epi16(p, m, narrow(v)); }
};

// bf16 narrowing uses the integer rounding of half.h, not VCVTNEPS2BF16:
// that instruction flushes subnormal inputs and outputs to zero, and the
// kernels promise subnormals (and the same bits at every level).
struct BF16Lanes : F32x16Ops {
  using T = BFloat16;
  static V widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m256i narrow(V v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i high = _mm512_srli_epi32(x, 16);
    const __m512i odd = _mm512_and_si512(high, _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), odd), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i result =
        _mm512_mask_or_epi32(rounded, nan, high, _mm512_set1_epi32(half_bits::kBF16QuietBit));
    return _mm512_cvtepi32_epi16(result);  // every lane is below 2^16
  }
  static V load(const T* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static void store(T* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow(v)); }
  static V load(const T* p, Mask m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
  static void store(T* p, V v, Mask m) { _mm256_mask_storeu_epi16(p, m, narrow(v)); }
};

// The bf16 -> f32 cast also quiets a signalling NaN, as
// bfloat16_bits_to_float does. Reductions skip that step: their arithmetic
// quiets NaNs anyway, and narrow() quiets any NaN it stores.
struct BF16CastLanes : BF16Lanes {
  static V quiet(V x) {
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_castsi512_ps(
        _mm512_mask_or_epi32(_mm512_castps_si512(x), nan, _mm512_castps_si512(x),
                             _mm512_set1_epi32(static_cast<int>(half_bits::kF32QuietBit))));
  }
  static V load(const T* p) { return quiet(BF16Lanes::load(p)); }
  static V load(const T* p, Mask m) { return quiet(BF16Lanes::load(p, m)); }
};

// Byte-wide multiply from 16-bit multiplies of the even and odd bytes.
inline __m512i mul_epi8(__m512i a, __m512i b) {
  const __m512i even = _mm512_mullo_epi16(a, b);
  const __m512i odd = _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
  return _mm512_or_si512(_mm512_slli_epi16(odd, 8), _mm512_and_si512(even, _mm512_set1_epi16(0xff)));
}

// The bitwise reductions do not depend on the element width (AVX-512 F).
struct BitwiseOps512 {
  static __m512i band(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
  static __m512i bor(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }
  static __m512i bxor(__m512i a, __m512i b) { return _mm512_xor_si512(a, b); }
};

template <typename E>
struct ByteLanes : BitwiseOps512 {
  using T = E;
  using V = __m512i;
  using Mask = __mmask64;
  static constexpr size_t kLanes = 64;
  static V load(const T* p) { return _mm512_loadu_si512(p); }
  static void store(T* p, V v) { _mm512_storeu_si512(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_epi8(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_epi8(p, m, v); }
  static V add(V a, V b) { return _mm512_add_epi8(a, b); }
  static V mul(V a, V b) { return mul_epi8(a, b); }
};

struct I8Lanes : ByteLanes<int8_t> {
  static V min(V a, V b) { return _mm512_min_epi8(a, b); }
  static V max(V a, V b) { return _mm512_max_epi8(a, b); }
};

struct U8Lanes : ByteLanes<uint8_t> {
  static V min(V a, V b) { return _mm512_min_epu8(a, b); }
  static V max(V a, V b) { return _mm512_max_epu8(a, b); }
};

// 16-bit lanes are AVX-512 BW, as the byte lanes are.
struct I16Lanes : BitwiseOps512 {
  using T = int16_t;
  using V = __m512i;
  using Mask = __mmask32;
  static constexpr size_t kLanes = 32;
  static V load(const T* p) { return _mm512_loadu_si512(p); }
  static void store(T* p, V v) { _mm512_storeu_si512(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_epi16(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_epi16(p, m, v); }
  static V add(V a, V b) { return _mm512_add_epi16(a, b); }
  static V mul(V a, V b) { return _mm512_mullo_epi16(a, b); }
  static V min(V a, V b) { return _mm512_min_epi16(a, b); }
  static V max(V a, V b) { return _mm512_max_epi16(a, b); }
};

struct I32Lanes : BitwiseOps512 {
  using T = int32_t;
  using V = __m512i;
  using Mask = __mmask16;
  static constexpr size_t kLanes = 16;
  static V load(const T* p) { return _mm512_loadu_si512(p); }
  static void store(T* p, V v) { _mm512_storeu_si512(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_epi32(p, m, v); }
  static V add(V a, V b) { return _mm512_add_epi32(a, b); }
  static V mul(V a, V b) { return _mm512_mullo_epi32(a, b); }
  static V min(V a, V b) { return _mm512_min_epi32(a, b); }
  static V max(V a, V b) { return _mm512_max_epi32(a, b); }
};

struct I64Lanes : BitwiseOps512 {
  using T = int64_t;
  using V = __m512i;
  using Mask = __mmask8;
  static constexpr size_t kLanes = 8;
  static V load(const T* p) { return _mm512_loadu_si512(p); }
  static void store(T* p, V v) { _mm512_storeu_si512(p, v); }
  static V load(const T* p, Mask m) { return _mm512_maskz_loadu_epi64(m, p); }
  static void store(T* p, V v, Mask m) { _mm512_mask_storeu_epi64(p, m, v); }
  static V add(V a, V b) { return _mm512_add_epi64(a, b); }
  static V mul(V a, V b) { return _mm512_mullo_epi64(a, b); }  // AVX-512 DQ
  static V min(V a, V b) { return _mm512_min_epi64(a, b); }
  static V max(V a, V b) { return _mm512_max_epi64(a, b); }
};

}  // namespace
}  // namespace myriad::kernels::detail
