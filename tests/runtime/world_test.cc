#include "runtime/world.h"

#include <gtest/gtest.h>

#include "runtime/error.h"
#include "runtime/tcp_store.h"
#include "tests/harness/process.h"
#include "tests/harness/store_process.h"

namespace myriad {
namespace {

using std::chrono::milliseconds;

constexpr char kToken[] = "world-test-token";

// Joins rank `rank` of `size` on `node` through the store at `port`.
std::unique_ptr<World> join(int rank, int size, const std::string& node, uint16_t port,
                            milliseconds timeout = milliseconds(20'000)) {
  BootstrapInfo info;
  info.rank = rank;
  info.world_size = size;
  info.node = node;
  info.source = "test";
  auto store = std::make_shared<TcpStore>(TcpStoreOptions{
      .port = port, .token = kToken, .timeout = timeout, .connect_timeout = milliseconds(5'000)});
  return World::join(info, store);
}

TEST(World, OfOneNeedsNoStore) {
  auto world = World::join(Env::from_map({}));
  EXPECT_EQ(world->rank(), 0);
  EXPECT_EQ(world->size(), 1);
  EXPECT_EQ(world->num_nodes(), 1);
  EXPECT_EQ(world->store().address(), "memory");
  EXPECT_EQ(world->exchange("x", "v"), std::vector<std::string>{"v"});
  world->barrier("b");
}

TEST(World, WithoutAStoreAWorldOfManyIsAnError) {
  try {
    World::join(Env::from_map({{"RANK", "1"}, {"WORLD_SIZE", "2"}}));
    FAIL() << "joined without a store";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(error.message().find("MYRIAD_STORE"), std::string::npos) << error.message();
  }
}

TEST(World, RanksLearnEveryNodeAndExchange) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  const std::vector<std::string> nodes = {"b", "b", "a", "a", "c"};
  test::RanksResult result = test::fork_ranks(5, [&](int rank) {
    auto world = join(rank, 5, nodes[rank], port);
    if (world->nodes() != nodes) return 1;
    // Nodes are numbered by their lowest rank: b=0, a=1, c=2.
    const int expected_index[] = {0, 0, 1, 1, 2};
    if (world->node_index() != expected_index[rank] || world->num_nodes() != 3) return 2;
    for (int round = 0; round < 3; ++round) {
      std::vector<std::string> values =
          world->exchange(fmt::format("round{}", round), fmt::format("{}:{}", rank, round));
      for (int r = 0; r < 5; ++r) {
        if (values[r] != fmt::format("{}:{}", r, round)) return 3;
      }
      world->barrier(fmt::format("after{}", round));
    }
    return 0;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

TEST(World, MissingRankTimesOutNamingIt) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  // Rank 2 of 3 never starts.
  test::RanksResult result = test::fork_ranks(2, [&](int rank) {
    try {
      join(rank, 3, "n", port, milliseconds(1'000));
      return 1;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Timeout) return 2;
      if (error.message().find("rank(s) 2") == std::string::npos) return 3;
      return 0;
    }
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

TEST(World, BarrierTimeoutCountsArrivals) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult result = test::fork_ranks(3, [&](int rank) {
    auto world = join(rank, 3, "n", port, milliseconds(1'500));
    if (rank == 2) return 0;  // joins, then skips the barrier
    try {
      world->barrier("lonely");
      return 1;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Timeout) return 2;
      return error.message().find("of 3 ranks arrived") == std::string::npos ? 3 : 0;
    }
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

}  // namespace
}  // namespace myriad
