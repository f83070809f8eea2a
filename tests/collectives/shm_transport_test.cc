// What only the shm transport promises: names unlinked as soon as connect()
// returns, stale segments of dead jobs replaced, wrong addresses refused.
#include <gtest/gtest.h>

#include "collectives/native/shm_segment.h"
#include "tests/collectives/transport_test_util.h"

namespace myriad::testing {
namespace {

TEST(ShmTransportTest, NamesAreUnlinkedOnceConnected) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  const std::vector<int> statuses = run_ranks(4, [&](int rank) {
    auto t = connect_all("shm", board.get(), rank, 4, run_id);
    board.get()->barrier(4);
    // Every rank has connected: nothing of this run is left to leak.
    const std::vector<std::string> left = shm_leftovers(run_id);
    REQUIRE(left.empty(), "left: {}", fmt::join(left, ", "));
    board.get()->barrier(4);
  });
  for (int status : statuses) EXPECT_TRUE(exited_ok(status)) << status;
  EXPECT_TRUE(shm_leftovers(run_id).empty());
}

TEST(ShmTransportTest, StaleSegmentOfADeadJobIsReplaced) {
  const std::string run_id = unique_run_id();
  // A leftover of a crash before unlinking: same name, no live owner.
  const std::string name = shm_segment_name(run_id, "c0", 0);
  const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  SharedBoard board;
  const std::vector<int> statuses = run_ranks(2, [&](int rank) {
    auto t = connect_all("shm", board.get(), rank, 2, run_id);
    board.get()->barrier(2);
  });
  for (int status : statuses) EXPECT_TRUE(exited_ok(status)) << status;
  EXPECT_TRUE(shm_leftovers(run_id).empty());
}

TEST(ShmTransportTest, ConnectTimesOutNamingTheMissingPeer) {
  const std::string run_id = unique_run_id();
  TransportOptions options = options_for(0, 2, run_id);
  ShmTransport t(options);
  const std::vector<std::string> addresses{t.address(), shm_segment_name(run_id, "c0", 1) + "#1"};
  try {
    t.connect({1}, addresses, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
    FAIL() << "connected to a peer that does not exist";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::Timeout);
    EXPECT_NE(std::string(error.what()).find("[1]"), std::string::npos) << error.what();
  }
  t.close();
  EXPECT_TRUE(shm_leftovers(run_id).empty());
}

TEST(ShmTransportTest, RejectsIdsThatMakeNoName) {
  EXPECT_THROW(ShmTransport(options_for(0, 1, "a/b")), Error);
  EXPECT_THROW(ShmTransport(options_for(0, 1, "")), Error);
}

}  // namespace
}  // namespace myriad::testing
