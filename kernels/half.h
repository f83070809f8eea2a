// Half (IEEE 754 binary16) and BFloat16 (the upper half of a binary32): the
// 16-bit storage types that reductions and casts read and write.
//
// Both are plain 16-bit words (trivially copyable, standard layout, the size
// of uint16_t) so that arrays of them can be handed to the kernels as raw
// memory. Arithmetic is never done in 16 bits: values are widened to float,
// combined, and rounded back once.
//
// Conversions from float round to nearest, ties to even. Infinities keep
// their sign, subnormals are produced and read exactly (never flushed), and
// a NaN stays a NaN of the same sign: its payload is truncated to the target
// width and its quiet bit is set, which is what the x86 conversion
// instructions (F16C) do, so scalar and vector code give the same bits.
// Widening to float is exact except that a signalling NaN becomes quiet.
//
// Everything here is constexpr, pure and thread-safe.
#pragma once

#include <bit>
#include <cstdint>

// The conversions are forced inline: the SIMD source files are compiled with
// wider ISA flags, and an out-of-line copy emitted there could be the one the
// linker keeps for every caller, which would then fault on an older CPU.
#define MYRIAD_KERNELS_INLINE [[gnu::always_inline]] inline

namespace myriad::kernels {

namespace half_bits {
inline constexpr uint32_t kF32SignMask = 0x80000000u;
inline constexpr uint32_t kF32AbsMask = 0x7fffffffu;
inline constexpr uint32_t kF32Inf = 0x7f800000u;
inline constexpr uint32_t kF32QuietBit = 0x00400000u;
inline constexpr uint16_t kF16Inf = 0x7c00u;
inline constexpr uint16_t kF16QuietBit = 0x0200u;
inline constexpr uint16_t kBF16QuietBit = 0x0040u;
// Smallest float that rounds to infinity as a half: 65520 = 65504 + ulp/2
// (the tie goes to the even neighbour, which is infinity).
inline constexpr uint32_t kF32HalfOverflow = 0x477ff000u;
// Smallest float that is a normal half: 2^-14.
inline constexpr uint32_t kF32HalfMinNormal = 0x38800000u;
// Largest float that rounds to zero as a half: 2^-25, the tie between zero
// and the smallest subnormal 2^-24 (goes to even, zero).
inline constexpr uint32_t kF32HalfUnderflow = 0x33000000u;
// (127 - 15) << 23: moves a float exponent to the half bias.
inline constexpr uint32_t kExponentRebias = 0x38000000u;
inline constexpr int kMantissaShift = 13;  // 23 - 10 mantissa bits
}  // namespace half_bits

MYRIAD_KERNELS_INLINE constexpr uint16_t float_to_half_bits(float value) {
  using namespace half_bits;
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((x & kF32SignMask) >> 16);
  const uint32_t abs = x & kF32AbsMask;
  if (abs > kF32Inf) {  // NaN: keep the top of the payload, force quiet
    return static_cast<uint16_t>(sign | kF16Inf | kF16QuietBit | ((abs >> kMantissaShift) & 0x3ffu));
  }
  if (abs >= kF32HalfOverflow) return static_cast<uint16_t>(sign | kF16Inf);
  if (abs >= kF32HalfMinNormal) {
    // Adding 0xfff plus the lowest kept bit rounds to nearest even; a carry
    // out of the mantissa correctly bumps the exponent.
    const uint32_t odd = (abs >> kMantissaShift) & 1u;
    return static_cast<uint16_t>(sign | ((abs + 0xfffu + odd - kExponentRebias) >> kMantissaShift));
  }
  if (abs <= kF32HalfUnderflow) return sign;
  // Subnormal half: the result is round(value / 2^-24). With m the float's
  // mantissa including the implicit bit and e its biased exponent, that is
  // m >> (126 - e), rounded to nearest even by hand.
  const uint32_t exponent = abs >> 23;
  const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exponent;  // 14..24 in this range
  uint32_t result = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);  // 0x400 is the smallest normal: right
}

MYRIAD_KERNELS_INLINE constexpr float half_bits_to_float(uint16_t bits) {
  using namespace half_bits;
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu) {
    const uint32_t quiet = mantissa != 0 ? kF32QuietBit : 0u;
    return std::bit_cast<float>(sign | kF32Inf | quiet | (mantissa << kMantissaShift));
  }
  if (exponent == 0) {
    // Subnormal (or zero): mantissa * 2^-24 is exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent << 23) + kExponentRebias) | (mantissa << kMantissaShift));
}

MYRIAD_KERNELS_INLINE constexpr uint16_t float_to_bfloat16_bits(float value) {
  using namespace half_bits;
  const uint32_t x = std::bit_cast<uint32_t>(value);
  if ((x & kF32AbsMask) > kF32Inf) return static_cast<uint16_t>((x >> 16) | kBF16QuietBit);
  // Round to nearest even on the dropped 16 bits; overflow carries into the
  // exponent and ends at infinity, as it should.
  const uint32_t odd = (x >> 16) & 1u;
  return static_cast<uint16_t>((x + 0x7fffu + odd) >> 16);
}

MYRIAD_KERNELS_INLINE constexpr float bfloat16_bits_to_float(uint16_t bits) {
  using namespace half_bits;
  uint32_t x = static_cast<uint32_t>(bits) << 16;
  if ((x & kF32AbsMask) > kF32Inf) x |= kF32QuietBit;
  return std::bit_cast<float>(x);
}

// IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits. Max 65504.
struct Half {
  uint16_t bits = 0;

  constexpr Half() = default;
  MYRIAD_KERNELS_INLINE constexpr explicit Half(float value) : bits(float_to_half_bits(value)) {}
  static constexpr Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  MYRIAD_KERNELS_INLINE constexpr explicit operator float() const { return half_bits_to_float(bits); }
  friend constexpr bool operator==(Half, Half) = default;  // bitwise
};

// bfloat16: 1 sign, 8 exponent, 7 mantissa bits; float's range, 3 digits.
struct BFloat16 {
  uint16_t bits = 0;

  constexpr BFloat16() = default;
  MYRIAD_KERNELS_INLINE constexpr explicit BFloat16(float value) : bits(float_to_bfloat16_bits(value)) {}
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  MYRIAD_KERNELS_INLINE constexpr explicit operator float() const { return bfloat16_bits_to_float(bits); }
  friend constexpr bool operator==(BFloat16, BFloat16) = default;  // bitwise
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace myriad::kernels
