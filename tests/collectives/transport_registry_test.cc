#include "collectives/native/transport_registry.h"

#include <gtest/gtest.h>

namespace myriad {
namespace {

TEST(TransportRegistryTest, BuiltInTransportsAreRegistered) {
  const std::vector<std::string> names = transport_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "shm"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "tcp"), names.end());
  TransportOptions options;
  options.run_id = "registrytest";
  options.comm_id = "c0";
  EXPECT_EQ(make_transport("shm", options)->name(), "shm");
  EXPECT_EQ(make_transport("tcp", options)->name(), "tcp");
}

TEST(TransportRegistryTest, UnknownNameListsTheKnownOnes) {
  try {
    make_transport("carrier-pigeon", TransportOptions{});
    FAIL() << "made an unknown transport";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(error.what()).find("shm, tcp"), std::string::npos) << error.what();
  }
}

TEST(TransportRegistryTest, DuplicateNameIsAnError) {
  EXPECT_THROW(
      register_transport("tcp", [](const TransportOptions&) { return std::unique_ptr<Transport>(); }), Error);
}

}  // namespace
}  // namespace myriad
