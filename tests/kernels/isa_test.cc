// ISA detection and the MYRIAD_KERNELS_ISA override.
#include "kernels/isa.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace myriad::kernels {
namespace {

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : kAllIsas) EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  EXPECT_EQ(parse_isa("AVX2"), std::nullopt);  // names are exact
  EXPECT_EQ(parse_isa(""), std::nullopt);
}

TEST(Isa, LevelsAreNested) {
  EXPECT_TRUE(isa_supported(Isa::Scalar));
  if (isa_supported(Isa::Avx512)) {
    EXPECT_TRUE(isa_supported(Isa::Avx2));
  }
  EXPECT_TRUE(isa_supported(best_isa()));
  EXPECT_TRUE(isa_supported(active_isa()));
}

TEST(Isa, UnsetOrEmptyMeansBest) {
  EXPECT_EQ(resolve_isa(nullptr), best_isa());
  EXPECT_EQ(resolve_isa(""), best_isa());
}

TEST(Isa, RequestIsLoweredToWhatTheCpuHas) {
  EXPECT_EQ(resolve_isa("scalar"), Isa::Scalar);
  EXPECT_EQ(resolve_isa("avx2"), isa_supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar);
  EXPECT_EQ(resolve_isa("avx512"), best_isa());
}

TEST(Isa, UnknownNameThrowsNamingTheVariable) {
  try {
    resolve_isa("sse9");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("MYRIAD_KERNELS_ISA"), std::string::npos) << message;
    EXPECT_NE(message.find("sse9"), std::string::npos) << message;
    EXPECT_NE(message.find("avx512"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace myriad::kernels
