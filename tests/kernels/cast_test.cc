// f32 <-> f16/bf16 array conversions at every ISA level: bit-exact against
// the scalar conversions of half.h, over every 16-bit pattern, a million
// random float patterns, odd counts, misaligned pointers and guard elements.
#include "kernels/cast.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace myriad::kernels {
namespace {

using testing::GuardedBuffer;
using testing::kCounts;

// The reference conversion of one element, as raw bits.
uint32_t reference(Cast cast, uint32_t in) {
  switch (cast) {
    case Cast::F32ToF16: return float_to_half_bits(std::bit_cast<float>(in));
    case Cast::F16ToF32: return std::bit_cast<uint32_t>(half_bits_to_float(static_cast<uint16_t>(in)));
    case Cast::F32ToBF16: return float_to_bfloat16_bits(std::bit_cast<float>(in));
    case Cast::BF16ToF32: return std::bit_cast<uint32_t>(bfloat16_bits_to_float(static_cast<uint16_t>(in)));
  }
  return 0;
}

bool from_f32(Cast cast) {
  return cast == Cast::F32ToF16 || cast == Cast::F32ToBF16;
}

const char* cast_name(Cast cast) {
  constexpr const char* kNames[] = {"f32_to_f16", "f16_to_f32", "f32_to_bf16", "bf16_to_f32"};
  return kNames[static_cast<int>(cast)];
}

// Runs `cast` at `isa` on the given input patterns (32-bit for f32 sources,
// low 16 bits otherwise) at an odd offset and checks every output's bits.
void check_cast(Cast cast, Isa isa, const std::vector<uint32_t>& inputs, size_t offset) {
  const size_t n = inputs.size();
  const CastFn fn = cast_function(cast, isa);
  ASSERT_NE(fn, nullptr);
  size_t mismatches = 0;
  if (from_f32(cast)) {
    GuardedBuffer<uint32_t> src(n, offset);
    GuardedBuffer<uint16_t> dst(n, offset + 1);
    src.fill(inputs);
    fn(dst.data(), src.data(), n);
    for (size_t i = 0; i < n && mismatches < 5; ++i) {
      if (dst.data()[i] != reference(cast, inputs[i])) {
        ++mismatches;
        ADD_FAILURE() << "element " << i << ": input 0x" << std::hex << inputs[i] << " gave 0x"
                      << dst.data()[i] << ", expected 0x" << reference(cast, inputs[i]);
      }
    }
    EXPECT_TRUE(dst.guards_intact() && src.guards_intact());
  } else {
    std::vector<uint16_t> narrow(n);
    for (size_t i = 0; i < n; ++i) narrow[i] = static_cast<uint16_t>(inputs[i]);
    GuardedBuffer<uint16_t> src(n, offset);
    GuardedBuffer<uint32_t> dst(n, offset + 1);
    src.fill(narrow);
    fn(dst.data(), src.data(), n);
    for (size_t i = 0; i < n && mismatches < 5; ++i) {
      if (dst.data()[i] != reference(cast, narrow[i])) {
        ++mismatches;
        ADD_FAILURE() << "element " << i << ": input 0x" << std::hex << narrow[i] << " gave 0x"
                      << dst.data()[i] << ", expected 0x" << reference(cast, narrow[i]);
      }
    }
    EXPECT_TRUE(dst.guards_intact() && src.guards_intact());
  }
}

using CastParam = std::tuple<Cast, Isa>;
class CastTest : public ::testing::TestWithParam<CastParam> {
 protected:
  void SetUp() override {
    if (!isa_supported(std::get<1>(GetParam()))) {
      GTEST_SKIP() << "this CPU lacks " << isa_name(std::get<1>(GetParam()));
    }
  }
};

TEST_P(CastTest, EveryHalfPatternOrManyFloatPatterns) {
  const auto [cast, isa] = GetParam();
  std::vector<uint32_t> inputs;
  if (from_f32(cast)) {
    // Random bit patterns reach every exponent, NaN payloads and subnormals;
    // the ties and the overflow edges are added by hand.
    std::mt19937 rng(7);
    inputs.resize(1 << 20);
    for (uint32_t& v : inputs) v = static_cast<uint32_t>(rng());
    for (uint32_t edge : {0x477ff000u, 0x477fefffu, 0x33000000u, 0x33000001u, 0x38800000u, 0x387fffffu,
                          0x7f7fffffu, 0x7f7f8000u, 0x00018000u, 0x7f800001u, 0xff800000u, 0x80000000u}) {
      inputs.push_back(edge);
    }
  } else {
    for (uint32_t bits = 0; bits < (1u << 16); ++bits) inputs.push_back(bits);
  }
  check_cast(cast, isa, inputs, 0);
  check_cast(cast, isa, inputs, 3);
}

TEST_P(CastTest, OddCounts) {
  const auto [cast, isa] = GetParam();
  std::mt19937 rng(11);
  for (size_t n : kCounts) {
    SCOPED_TRACE("n=" + std::to_string(n));
    std::vector<uint32_t> inputs(n);
    for (uint32_t& v : inputs) v = static_cast<uint32_t>(rng());
    check_cast(cast, isa, inputs, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCastsIsas, CastTest,
                         ::testing::Combine(::testing::ValuesIn(kAllCasts), ::testing::ValuesIn(kAllIsas)),
                         [](const ::testing::TestParamInfo<CastParam>& info) {
                           return std::string(cast_name(std::get<0>(info.param))) + "_" +
                                  isa_name(std::get<1>(info.param));
                         });

TEST(CastTyped, WrappersUseTheActiveLevel) {
  const std::vector<float> values = {1.0f, -2.5f, 65504.0f, 1e-8f};
  std::vector<Half> halves(values.size());
  std::vector<BFloat16> brains(values.size());
  std::vector<float> back(values.size());
  cast_f32_to_f16(values.data(), halves.data(), values.size());
  EXPECT_EQ(halves[0].bits, 0x3c00);
  EXPECT_EQ(halves[2].bits, 0x7bff);
  cast_f16_to_f32(halves.data(), back.data(), values.size());
  EXPECT_EQ(back[1], -2.5f);
  cast_f32_to_bf16(values.data(), brains.data(), values.size());
  cast_bf16_to_f32(brains.data(), back.data(), values.size());
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], -2.5f);
  EXPECT_EQ(cast_function(Cast::F32ToF16), cast_function(Cast::F32ToF16, active_isa()));
  EXPECT_THROW(cast_function(static_cast<Cast>(kCastCount)), std::invalid_argument);
}

}  // namespace
}  // namespace myriad::kernels
