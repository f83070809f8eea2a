// Half and BFloat16 conversions: exhaustive over every 16-bit pattern,
// every rounding tie between neighbouring values, and a sweep of float bit
// patterns against a reference that rounds in double arithmetic.
#include "kernels/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace myriad::kernels {
namespace {

constexpr uint32_t kPatterns16 = 1u << 16;

// Constant-evaluable: the conversions are usable in constexpr code.
static_assert(float_to_half_bits(1.0f) == 0x3c00);
static_assert(float_to_half_bits(-2.0f) == 0xc000);
static_assert(float_to_half_bits(65504.0f) == 0x7bff);
static_assert(half_bits_to_float(0x0001) == 0x1p-24f);
static_assert(float_to_bfloat16_bits(1.0f) == 0x3f80);
static_assert(bfloat16_bits_to_float(0xc040) == -3.0f);

uint32_t bits_of(float f) {
  return std::bit_cast<uint32_t>(f);
}

// The value of a binary16 pattern from its definition.
double half_value(uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(mantissa, -24);
  } else if (exponent == 0x1f) {
    magnitude =
        mantissa == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  } else {
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

// Round a float to a format with `mantissa_bits` stored bits, smallest
// normal exponent `min_exponent` and largest finite value `max_finite`, to
// nearest even, in double arithmetic (exact: every step is representable).
double reference_round(float f, int mantissa_bits, int min_exponent, double max_finite) {
  if (std::isnan(f) || std::isinf(f) || f == 0.0f) return f;
  const double magnitude = std::fabs(static_cast<double>(f));
  int exponent = std::ilogb(magnitude);
  if (exponent < min_exponent) exponent = min_exponent;
  const double ulp = std::ldexp(1.0, exponent - mantissa_bits);
  double rounded = std::nearbyint(magnitude / ulp) * ulp;  // default mode: ties to even
  if (rounded > max_finite) rounded = std::numeric_limits<double>::infinity();
  return std::copysign(rounded, static_cast<double>(f));
}

TEST(Half, EveryPatternWidensToItsValue) {
  for (uint32_t bits = 0; bits < kPatterns16; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = half_bits_to_float(h);
    const double expected = half_value(h);
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << bits;
      ASSERT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;
    } else {
      ASSERT_EQ(static_cast<double>(f), expected) << std::hex << bits;
      ASSERT_EQ(std::signbit(f), (bits & 0x8000) != 0) << std::hex << bits;
    }
  }
}

TEST(Half, EveryPatternRoundTrips) {
  for (uint32_t bits = 0; bits < kPatterns16; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
    // A NaN comes back quiet, with its sign and payload.
    const uint16_t expected = nan ? static_cast<uint16_t>(h | 0x0200) : h;
    ASSERT_EQ(float_to_half_bits(half_bits_to_float(h)), expected) << std::hex << bits;
    ASSERT_EQ(Half(static_cast<float>(Half::from_bits(h))).bits, expected) << std::hex << bits;
  }
}

TEST(Half, TiesBetweenNeighboursRoundToEven) {
  // For every pair of neighbouring finite halves: the midpoint goes to the
  // even one, and one float ulp either side goes to the nearer one.
  for (uint16_t low = 0; low < 0x7bff; ++low) {
    const auto high = static_cast<uint16_t>(low + 1);
    const float midpoint = static_cast<float>((half_value(low) + half_value(high)) / 2);
    const uint16_t even = (low & 1) ? high : low;
    ASSERT_EQ(float_to_half_bits(midpoint), even) << std::hex << low;
    ASSERT_EQ(float_to_half_bits(std::nextafter(midpoint, 0.0f)), low) << std::hex << low;
    ASSERT_EQ(float_to_half_bits(std::nextafter(midpoint, 1e9f)), high) << std::hex << low;
    ASSERT_EQ(float_to_half_bits(-midpoint), even | 0x8000) << std::hex << low;
  }
}

TEST(Half, OverflowUnderflowAndSpecials) {
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // the tie goes to infinity (even)
  EXPECT_EQ(float_to_half_bits(-1e30f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(float_to_half_bits(0x1p-25f), 0x0000);  // tie between 0 and 2^-24
  EXPECT_EQ(float_to_half_bits(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half_bits(-0x1p-26f), 0x8000);                       // signed zero
  EXPECT_EQ(float_to_half_bits(0x1p-14f), 0x0400);                        // smallest normal
  EXPECT_EQ(float_to_half_bits(std::nextafter(0x1p-14f, 0.0f)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_half_bits(std::bit_cast<float>(0x7f800001u)), 0x7e00);  // sNaN -> quiet
  EXPECT_EQ(float_to_half_bits(std::bit_cast<float>(0xffc00000u)), 0xfe00);
  EXPECT_EQ(bits_of(half_bits_to_float(0x7c01)), 0x7fc02000u);  // quieted, payload kept
}

TEST(Half, FloatSweepMatchesReference) {
  constexpr uint64_t kStride = 1021;  // prime: visits every exponent and many mantissas
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += kStride) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    const float got = half_bits_to_float(float_to_half_bits(f));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
      continue;
    }
    const double expected = reference_round(f, 10, -14, 65504.0);
    ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(expected))) << std::hex << bits << " " << f;
  }
}

TEST(BFloat16, EveryPatternRoundTrips) {
  for (uint32_t bits = 0; bits < kPatterns16; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = bfloat16_bits_to_float(h);
    const bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0;
    if (!nan) {
      ASSERT_EQ(bits_of(f), bits << 16) << std::hex << bits;  // widening is exact
    }
    const uint16_t expected = nan ? static_cast<uint16_t>(h | 0x0040) : h;
    ASSERT_EQ(float_to_bfloat16_bits(f), expected) << std::hex << bits;
  }
}

TEST(BFloat16, TiesBetweenNeighboursRoundToEven) {
  for (uint32_t low = 0; low < 0x7f7f; ++low) {
    // Between neighbours the float patterns are consecutive, so the midpoint
    // is the low pattern with the first dropped bit set.
    const float midpoint = std::bit_cast<float>((low << 16) | 0x8000u);
    const uint32_t even = (low & 1) ? low + 1 : low;
    ASSERT_EQ(float_to_bfloat16_bits(midpoint), even) << std::hex << low;
    ASSERT_EQ(float_to_bfloat16_bits(std::bit_cast<float>((low << 16) | 0x7fffu)), low) << std::hex << low;
    ASSERT_EQ(float_to_bfloat16_bits(std::bit_cast<float>((low << 16) | 0x8001u)), low + 1)
        << std::hex << low;
    ASSERT_EQ(float_to_bfloat16_bits(-midpoint), even | 0x8000) << std::hex << low;
  }
}

TEST(BFloat16, OverflowSubnormalsAndSpecials) {
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to infinity
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(float_to_bfloat16_bits(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie to even
  EXPECT_EQ(float_to_bfloat16_bits(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // sNaN -> quiet NaN
  EXPECT_EQ(float_to_bfloat16_bits(std::bit_cast<float>(0xff800001u)), 0xffc0);
}

TEST(BFloat16, FloatSweepMatchesReference) {
  constexpr uint64_t kStride = 1021;
  const double max_finite = std::ldexp(255.0, 120);  // (2 - 2^-7) * 2^127
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += kStride) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    const float got = bfloat16_bits_to_float(float_to_bfloat16_bits(f));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
      continue;
    }
    const double expected = reference_round(f, 7, -126, max_finite);
    ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(expected))) << std::hex << bits << " " << f;
  }
}

TEST(HalfTypes, AreRawSixteenBitWords) {
  static_assert(std::is_trivially_copyable_v<Half> && std::is_standard_layout_v<Half>);
  static_assert(std::is_trivially_copyable_v<BFloat16> && std::is_standard_layout_v<BFloat16>);
  EXPECT_EQ(Half(1.5f).bits, 0x3e00);
  EXPECT_EQ(static_cast<float>(BFloat16(1.5f)), 1.5f);
  EXPECT_EQ(Half::from_bits(0x3c00), Half(1.0f));
}

}  // namespace
}  // namespace myriad::kernels
