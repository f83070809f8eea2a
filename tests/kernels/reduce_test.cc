// Reductions and scaling: every element type x op x ISA level against a
// reference computed here, for odd and large counts, misaligned pointers,
// in-place and out-of-place, with guard elements around the output; i16 and
// the bitwise ops also against hand-computed values; the bitwise ops of the
// floating types are rejected.
#include "kernels/reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace myriad::kernels {
namespace {

using testing::GuardedBuffer;
using testing::kCounts;
using testing::random_values;
using testing::same;

template <typename F>
void with_type(ElementType type, F&& f) {
  switch (type) {
    case ElementType::F32: return f(std::type_identity<float>{});
    case ElementType::F64: return f(std::type_identity<double>{});
    case ElementType::F16: return f(std::type_identity<Half>{});
    case ElementType::BF16: return f(std::type_identity<BFloat16>{});
    case ElementType::I8: return f(std::type_identity<int8_t>{});
    case ElementType::U8: return f(std::type_identity<uint8_t>{});
    case ElementType::I32: return f(std::type_identity<int32_t>{});
    case ElementType::I64: return f(std::type_identity<int64_t>{});
    case ElementType::I16: return f(std::type_identity<int16_t>{});
  }
  FAIL() << "unknown element type";
}

// The rules of reduce.h, written independently of the kernels.
template <typename T>
T reference(ReduceKind kind, T a, T b) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    return T(reference<float>(kind, static_cast<float>(a), static_cast<float>(b)));
  } else if constexpr (std::is_integral_v<T>) {
    // Modular arithmetic in 64 bits, truncated: the wrap-around result.
    // Sign-extended first: two's complement wrap-around in 64 bits.
    const auto ua = static_cast<uint64_t>(static_cast<int64_t>(a));
    const auto ub = static_cast<uint64_t>(static_cast<int64_t>(b));
    switch (kind) {
      case ReduceKind::Sum: return static_cast<T>(ua + ub);
      case ReduceKind::Prod: return static_cast<T>(ua * ub);
      case ReduceKind::Min: return a < b ? a : b;
      case ReduceKind::Max: return a > b ? a : b;
      case ReduceKind::Band: return static_cast<T>(ua & ub);
      case ReduceKind::Bor: return static_cast<T>(ua | ub);
      case ReduceKind::Bxor: return static_cast<T>(ua ^ ub);
    }
  } else {
    const bool any_nan = std::isnan(a) || std::isnan(b);
    switch (kind) {
      case ReduceKind::Sum: return a + b;
      case ReduceKind::Prod: return a * b;
      case ReduceKind::Min: return any_nan ? std::numeric_limits<T>::quiet_NaN() : (a < b ? a : b);
      case ReduceKind::Max: return any_nan ? std::numeric_limits<T>::quiet_NaN() : (a > b ? a : b);
      case ReduceKind::Band:
      case ReduceKind::Bor:
      case ReduceKind::Bxor: break;  // no floating form: rejected (BitwiseOfFloatingTypesIsRejected)
    }
  }
  return T{};
}

// Where each operand lives for one call: the three buffers' offsets (in
// elements past a 64-byte boundary) and whether dst is a or b.
struct Layout {
  const char* name;
  size_t dst_offset;
  size_t a_offset;
  size_t b_offset;
  enum { kOutOfPlace, kDstIsA, kDstIsB } aliasing;
};
constexpr Layout kLayouts[] = {
    {"out-of-place aligned", 0, 0, 0, Layout::kOutOfPlace},
    {"out-of-place misaligned", 1, 2, 3, Layout::kOutOfPlace},
    {"in-place dst=a", 1, 1, 3, Layout::kDstIsA},
    {"in-place dst=b", 3, 0, 3, Layout::kDstIsB},
};

template <typename T>
void check_reduce(ReduceKind kind, Isa isa) {
  const ReduceFn fn = reduce_function(kElementTypeOf<T>, kind, isa);
  ASSERT_NE(fn, nullptr);
  for (size_t n : kCounts) {
    const std::vector<T> a = random_values<T>(n, 1000 + n);
    const std::vector<T> b = random_values<T>(n, 2000 + n);
    std::vector<T> expected(n);
    for (size_t i = 0; i < n; ++i) expected[i] = reference(kind, a[i], b[i]);
    for (const Layout& layout : kLayouts) {
      SCOPED_TRACE(std::string(layout.name) + ", n=" + std::to_string(n));
      GuardedBuffer<T> dst(n, layout.dst_offset);
      GuardedBuffer<T> a_buffer(n, layout.a_offset);
      GuardedBuffer<T> b_buffer(n, layout.b_offset);
      T* a_ptr = a_buffer.data();
      T* b_ptr = b_buffer.data();
      if (layout.aliasing == Layout::kDstIsA) a_ptr = dst.data();
      if (layout.aliasing == Layout::kDstIsB) b_ptr = dst.data();
      // Fill the aliased buffer last so it holds its operand.
      a_buffer.fill(a);
      b_buffer.fill(b);
      if (layout.aliasing == Layout::kDstIsA) dst.fill(a);
      if (layout.aliasing == Layout::kDstIsB) dst.fill(b);
      fn(dst.data(), a_ptr, b_ptr, n);
      size_t mismatches = 0;
      for (size_t i = 0; i < n && mismatches < 5; ++i) {
        if (!same(dst.data()[i], expected[i])) {
          ++mismatches;
          ADD_FAILURE() << "element " << i << ": " << testing::describe(a[i]) << " " << reduce_kind_name(kind)
                        << " " << testing::describe(b[i]) << " gave " << testing::describe(dst.data()[i])
                        << ", expected " << testing::describe(expected[i]);
        }
      }
      EXPECT_TRUE(dst.guards_intact()) << "wrote outside dst[0, n)";
      EXPECT_TRUE(a_buffer.guards_intact() && b_buffer.guards_intact()) << "wrote outside an input";
    }
  }
}

using ReduceParam = std::tuple<ElementType, ReduceKind, Isa>;

class ReduceTest : public ::testing::TestWithParam<ReduceParam> {};

TEST_P(ReduceTest, MatchesReference) {
  // Not a structured binding: the lambda below captures them (clang-tidy's clang 14 cannot).
  const auto type = std::get<0>(GetParam());
  const auto kind = std::get<1>(GetParam());
  const auto isa = std::get<2>(GetParam());
  if (!reduce_defined(type, kind)) {
    // Rejected at every level, whether or not the CPU has it.
    EXPECT_THROW(reduce_function(type, kind, isa), std::invalid_argument);
    return;
  }
  if (!isa_supported(isa)) GTEST_SKIP() << "this CPU lacks " << isa_name(isa);
  with_type(type, [&](auto tag) { check_reduce<typename decltype(tag)::type>(kind, isa); });
}

INSTANTIATE_TEST_SUITE_P(AllTypesOpsIsas, ReduceTest,
                         ::testing::Combine(::testing::ValuesIn(kAllElementTypes),
                                            ::testing::ValuesIn(kAllReduceKinds),
                                            ::testing::ValuesIn(kAllIsas)),
                         [](const ::testing::TestParamInfo<ReduceParam>& info) {
                           return std::string(element_type_name(std::get<0>(info.param))) + "_" +
                                  reduce_kind_name(std::get<1>(info.param)) + "_" +
                                  isa_name(std::get<2>(info.param));
                         });

template <typename T>
T reference_scale(T v, double factor) {
  if constexpr (std::is_same_v<T, double>) {
    return v * factor;
  } else if constexpr (std::is_same_v<T, float>) {
    return v * static_cast<float>(factor);
  } else {
    return T(static_cast<float>(v) * static_cast<float>(factor));
  }
}

template <typename T>
void check_scale(Isa isa) {
  const ScaleFn fn = scale_function(kElementTypeOf<T>, isa);
  ASSERT_NE(fn, nullptr);
  // 1/3 and 1/7 are inexact (rounding matters); 1/8 is exact.
  for (double factor : {1.0 / 3.0, 1.0 / 7.0, 0.125}) {
    for (size_t n : kCounts) {
      SCOPED_TRACE("factor " + std::to_string(factor) + ", n=" + std::to_string(n));
      const std::vector<T> values = random_values<T>(n, 3000 + n);
      GuardedBuffer<T> data(n, 1);
      data.fill(values);
      fn(data.data(), n, factor);
      size_t mismatches = 0;
      for (size_t i = 0; i < n && mismatches < 5; ++i) {
        const T expected = reference_scale(values[i], factor);
        if (!same(data.data()[i], expected)) {
          ++mismatches;
          ADD_FAILURE() << "element " << i << ": " << testing::describe(values[i]) << " gave "
                        << testing::describe(data.data()[i]) << ", expected " << testing::describe(expected);
        }
      }
      EXPECT_TRUE(data.guards_intact());
    }
  }
}

using ScaleParam = std::tuple<ElementType, Isa>;
class ScaleTest : public ::testing::TestWithParam<ScaleParam> {};

TEST_P(ScaleTest, MatchesReference) {
  const auto type = std::get<0>(GetParam());
  const auto isa = std::get<1>(GetParam());
  if (!isa_supported(isa)) GTEST_SKIP() << "this CPU lacks " << isa_name(isa);
  with_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (testing::kIsFloat<T>) check_scale<T>(isa);
  });
}

INSTANTIATE_TEST_SUITE_P(FloatingTypes, ScaleTest,
                         ::testing::Combine(::testing::Values(ElementType::F32, ElementType::F64,
                                                              ElementType::F16, ElementType::BF16),
                                            ::testing::ValuesIn(kAllIsas)),
                         [](const ::testing::TestParamInfo<ScaleParam>& info) {
                           return std::string(element_type_name(std::get<0>(info.param))) + "_" +
                                  isa_name(std::get<1>(info.param));
                         });

TEST(ReduceDispatch, DefaultLookupUsesTheActiveLevel) {
  for (ElementType type : kAllElementTypes) {
    for (ReduceKind kind : kAllReduceKinds) {
      if (!reduce_defined(type, kind)) continue;
      EXPECT_NE(reduce_function(type, kind), nullptr);
      EXPECT_EQ(reduce_function(type, kind), reduce_function(type, kind, active_isa()));
    }
    EXPECT_EQ(scale_function(type), scale_function(type, active_isa()));
  }
}

TEST(ReduceDispatch, UnsupportedLevelGivesNull) {
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) continue;
    EXPECT_EQ(reduce_function(ElementType::F32, ReduceKind::Sum, isa), nullptr);
    EXPECT_EQ(scale_function(ElementType::F32, isa), nullptr);
  }
}

TEST(ReduceDispatch, OutOfRangeEnumsThrow) {
  EXPECT_THROW(reduce_function(static_cast<ElementType>(kElementTypeCount), ReduceKind::Sum),
               std::invalid_argument);
  EXPECT_THROW(reduce_function(ElementType::F32, static_cast<ReduceKind>(kReduceKindCount)),
               std::invalid_argument);
  EXPECT_THROW(scale_function(static_cast<ElementType>(kElementTypeCount)), std::invalid_argument);
}

TEST(ReduceDispatch, BitwiseOfFloatingTypesIsRejected) {
  int rejected = 0;
  for (ElementType type : kAllElementTypes) {
    for (ReduceKind kind : {ReduceKind::Band, ReduceKind::Bor, ReduceKind::Bxor}) {
      EXPECT_TRUE(is_bitwise(kind));
      EXPECT_EQ(reduce_defined(type, kind), !is_floating(type));
      if (!is_floating(type)) continue;
      for (Isa isa : kAllIsas) {
        try {
          reduce_function(type, kind, isa);
          ADD_FAILURE() << reduce_kind_name(kind) << " of " << element_type_name(type) << " was accepted at "
                        << isa_name(isa);
        } catch (const std::invalid_argument& e) {
          // The message names the reduction and the type.
          EXPECT_NE(std::string(e.what()).find(reduce_kind_name(kind)), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find(element_type_name(type)), std::string::npos) << e.what();
          ++rejected;
        }
      }
      EXPECT_THROW(reduce_function(type, kind), std::invalid_argument);
    }
  }
  EXPECT_EQ(rejected, 4 * 3 * static_cast<int>(std::size(kAllIsas)));
  float x = 1.0f;
  EXPECT_THROW(reduce(ElementType::F32, ReduceKind::Bxor, &x, &x, &x, 1), std::invalid_argument);
  for (ReduceKind kind : {ReduceKind::Sum, ReduceKind::Prod, ReduceKind::Min, ReduceKind::Max}) {
    EXPECT_FALSE(is_bitwise(kind));
  }
}

TEST(ReduceEnums, NamesAndSizes) {
  EXPECT_EQ(std::size(kAllElementTypes), static_cast<size_t>(kElementTypeCount));
  EXPECT_EQ(std::size(kAllReduceKinds), static_cast<size_t>(kReduceKindCount));
  // Appended at the end: the existing values keep their numbers.
  EXPECT_EQ(static_cast<int>(ElementType::I64), 7);
  EXPECT_EQ(static_cast<int>(ElementType::I16), 8);
  EXPECT_EQ(static_cast<int>(ReduceKind::Max), 3);
  EXPECT_EQ(static_cast<int>(ReduceKind::Band), 4);
  EXPECT_EQ(static_cast<int>(ReduceKind::Bxor), 6);
  EXPECT_STREQ(element_type_name(ElementType::I16), "i16");
  EXPECT_EQ(element_size(ElementType::I16), 2u);
  EXPECT_FALSE(is_floating(ElementType::I16));
  EXPECT_STREQ(reduce_kind_name(ReduceKind::Band), "band");
  EXPECT_STREQ(reduce_kind_name(ReduceKind::Bor), "bor");
  EXPECT_STREQ(reduce_kind_name(ReduceKind::Bxor), "bxor");
}

// a op b for a short pattern with hand-computed results (two's complement,
// wrapping), repeated to an odd length that fills several vectors of every
// level and leaves a tail; out of place and in place, at every level.
template <typename T>
void expect_exact(ReduceKind kind, const std::vector<T>& a, const std::vector<T>& b,
                  const std::vector<T>& want) {
  constexpr size_t kRepeats = 19;  // e.g. 133 i16 elements: 4 AVX-512 vectors of 32 and a tail of 5
  std::vector<T> x;
  std::vector<T> y;
  std::vector<T> expected;
  for (size_t r = 0; r < kRepeats; ++r) {
    x.insert(x.end(), a.begin(), a.end());
    y.insert(y.end(), b.begin(), b.end());
    expected.insert(expected.end(), want.begin(), want.end());
  }
  if (x.size() % 2 == 0) {
    x.pop_back();
    y.pop_back();
    expected.pop_back();
  }
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    SCOPED_TRACE(std::string(element_type_name(kElementTypeOf<T>)) + " " + reduce_kind_name(kind) + " " +
                 isa_name(isa) + " n=" + std::to_string(x.size()));
    const ReduceFn fn = reduce_function(kElementTypeOf<T>, kind, isa);
    std::vector<T> out(x.size());
    fn(out.data(), x.data(), y.data(), x.size());
    EXPECT_EQ(out, expected);
    std::vector<T> acc = x;
    fn(acc.data(), acc.data(), y.data(), acc.size());
    EXPECT_EQ(acc, expected);
  }
}

TEST(ReduceExact, Int16WithNegativeValuesAndWrapAround) {
  const std::vector<int16_t> a = {-32768, -1, 300, -300, 32767, 0x5555, -2};
  const std::vector<int16_t> b = {-1, -1, 200, 7, 1, 0x0ff0, -32768};
  expect_exact<int16_t>(ReduceKind::Sum, a, b, {32767, -2, 500, -293, -32768, 25925, 32766});
  expect_exact<int16_t>(ReduceKind::Prod, a, b, {-32768, 1, -5536, -2100, 32767, -1360, 0});
  expect_exact<int16_t>(ReduceKind::Min, a, b, {-32768, -1, 200, -300, 1, 4080, -32768});
  expect_exact<int16_t>(ReduceKind::Max, a, b, {-1, -1, 300, 7, 32767, 21845, -2});
  expect_exact<int16_t>(ReduceKind::Band, a, b, {-32768, -1, 8, 4, 1, 1360, -32768});
  expect_exact<int16_t>(ReduceKind::Bor, a, b, {-1, -1, 492, -297, 32767, 24565, -2});
  expect_exact<int16_t>(ReduceKind::Bxor, a, b, {32767, 0, 484, -301, 32766, 23205, 32766});
}

TEST(ReduceExact, BitwiseOfEveryIntegerType) {
  const std::vector<int8_t> a8 = {-128, -1, 0x55, -86};
  const std::vector<int8_t> b8 = {-1, 0x0f, -1, 0x3c};
  expect_exact<int8_t>(ReduceKind::Band, a8, b8, {-128, 15, 85, 40});
  expect_exact<int8_t>(ReduceKind::Bor, a8, b8, {-1, -1, -1, -66});
  expect_exact<int8_t>(ReduceKind::Bxor, a8, b8, {127, -16, -86, -106});
  const std::vector<uint8_t> au = {0xff, 0xaa, 0x0f, 0x80};
  const std::vector<uint8_t> bu = {0x0f, 0x55, 0xf0, 0x81};
  expect_exact<uint8_t>(ReduceKind::Band, au, bu, {15, 0, 0, 128});
  expect_exact<uint8_t>(ReduceKind::Bor, au, bu, {255, 255, 255, 129});
  expect_exact<uint8_t>(ReduceKind::Bxor, au, bu, {240, 255, 255, 1});
  const std::vector<int32_t> a32 = {-1, INT32_MIN, 0x0f0f0f0f, -123456789};
  const std::vector<int32_t> b32 = {0x0f0f0f0f, -1, 0x70f0f0f0, 987654321};
  expect_exact<int32_t>(ReduceKind::Band, a32, b32, {252645135, INT32_MIN, 0, 948183201});
  expect_exact<int32_t>(ReduceKind::Bor, a32, b32, {-1, -1, 2147483647, -83985669});
  expect_exact<int32_t>(ReduceKind::Bxor, a32, b32, {-252645136, 2147483647, 2147483647, -1032168870});
  const std::vector<int64_t> a64 = {-1, INT64_MIN, 0x0123456789abcdef, -1234567890123456789};
  const std::vector<int64_t> b64 = {0x0f0f0f0f0f0f0f0f, -1, -0x0123456789abcdf0, 987654321987654321};
  expect_exact<int64_t>(ReduceKind::Band, a64, b64, {1085102592571150095, INT64_MIN, 0, 906571573636633249});
  expect_exact<int64_t>(ReduceKind::Bor, a64, b64, {-1, -1, -1, -1153485141772435717});
  expect_exact<int64_t>(ReduceKind::Bxor, a64, b64,
                        {-1085102592571150096, 9223372036854775807, -1, -2060056715409068966});
}

TEST(Scale, IntegerTypesHaveNone) {
  for (ElementType type :
       {ElementType::I8, ElementType::U8, ElementType::I16, ElementType::I32, ElementType::I64}) {
    for (Isa isa : kAllIsas) EXPECT_EQ(scale_function(type, isa), nullptr);
    int64_t value = 6;
    EXPECT_THROW(scale(type, &value, 1, 0.5), std::invalid_argument);
  }
}

TEST(ReduceTyped, InPlaceAndOutOfPlaceWrappers) {
  std::vector<float> acc = {1, 2, 3, -0.0f};
  const std::vector<float> src = {10, 20, 30, 0.0f};
  reduce(ReduceKind::Sum, acc.data(), src.data(), acc.size());
  EXPECT_EQ(acc, (std::vector<float>{11, 22, 33, 0}));
  std::vector<int8_t> out(3);
  const std::vector<int8_t> a = {127, -128, 5};
  const std::vector<int8_t> b = {1, -1, 5};
  reduce(ReduceKind::Sum, out.data(), a.data(), b.data(), out.size());
  EXPECT_EQ(out, (std::vector<int8_t>{-128, 127, 10}));  // wraps
}

TEST(ReduceTyped, AverageIsSumThenScale) {
  // Three ranks' contributions of bf16 gradients: sum, then * 1/3.
  std::vector<BFloat16> acc = {BFloat16(1.0f), BFloat16(-6.0f)};
  const std::vector<BFloat16> second = {BFloat16(2.0f), BFloat16(0.0f)};
  const std::vector<BFloat16> third = {BFloat16(3.0f), BFloat16(3.0f)};
  reduce(ReduceKind::Sum, acc.data(), second.data(), acc.size());
  reduce(ReduceKind::Sum, acc.data(), third.data(), acc.size());
  scale(acc.data(), acc.size(), 1.0 / 3.0);
  EXPECT_EQ(static_cast<float>(acc[0]), 2.0f);
  EXPECT_EQ(static_cast<float>(acc[1]), -1.0f);
}

TEST(ReduceTyped, MinMaxPropagateNaNAndKeepSecondZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    SCOPED_TRACE(isa_name(isa));
    const std::vector<float> a = {nan, 1.0f, 0.0f, -0.0f};
    const std::vector<float> b = {1.0f, nan, -0.0f, 0.0f};
    std::vector<float> out(a.size());
    reduce_function(ElementType::F32, ReduceKind::Min, isa)(out.data(), a.data(), b.data(), a.size());
    EXPECT_TRUE(std::isnan(out[0]));
    EXPECT_TRUE(std::isnan(out[1]));
    EXPECT_TRUE(std::signbit(out[2]));   // b = -0
    EXPECT_FALSE(std::signbit(out[3]));  // b = +0
    reduce_function(ElementType::F32, ReduceKind::Max, isa)(out.data(), a.data(), b.data(), a.size());
    EXPECT_TRUE(std::isnan(out[0]));
    EXPECT_TRUE(std::isnan(out[1]));
  }
}

}  // namespace
}  // namespace myriad::kernels
