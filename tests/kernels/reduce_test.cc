// Reductions and scaling: every element type x op x ISA level against a
// reference computed here, for odd and large counts, misaligned pointers,
// in-place and out-of-place, with guard elements around the output.
#include "kernels/reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

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
    const auto ua = static_cast<uint64_t>(a);
    const auto ub = static_cast<uint64_t>(b);
    switch (kind) {
      case ReduceKind::Sum: return static_cast<T>(ua + ub);
      case ReduceKind::Prod: return static_cast<T>(ua * ub);
      case ReduceKind::Min: return a < b ? a : b;
      case ReduceKind::Max: return a > b ? a : b;
    }
  } else {
    const bool any_nan = std::isnan(a) || std::isnan(b);
    switch (kind) {
      case ReduceKind::Sum: return a + b;
      case ReduceKind::Prod: return a * b;
      case ReduceKind::Min: return any_nan ? std::numeric_limits<T>::quiet_NaN() : (a < b ? a : b);
      case ReduceKind::Max: return any_nan ? std::numeric_limits<T>::quiet_NaN() : (a > b ? a : b);
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
  const auto [type, kind, isa] = GetParam();
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
  const auto [type, isa] = GetParam();
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

TEST(Scale, IntegerTypesHaveNone) {
  for (ElementType type : {ElementType::I8, ElementType::U8, ElementType::I32, ElementType::I64}) {
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
