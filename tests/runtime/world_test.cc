#include "runtime/world.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// The variables `myriad run` gives rank `rank` of job `run_id`.
Env job_env(int rank, int size, uint16_t port, const std::string& run_id, int restart) {
  return Env::from_map({{"MYRIAD_RANK", std::to_string(rank)},
                        {"MYRIAD_WORLD_SIZE", std::to_string(size)},
                        {"MYRIAD_LOCAL_RANK", std::to_string(rank)},
                        {"MYRIAD_LOCAL_WORLD_SIZE", std::to_string(size)},
                        {"MYRIAD_NODE_ID", "n"},
                        {"MYRIAD_STORE", fmt::format("127.0.0.1:{}", port)},
                        {"MYRIAD_TOKEN", kToken},
                        {"MYRIAD_RUN_ID", run_id},
                        {"MYRIAD_RESTART_COUNT", std::to_string(restart)}});
}

// Two jobs of the same shape share one store: each sees its own ranks only.
TEST(World, JobsWithDifferentRunIdsShareAStoreWithoutMeeting) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult result = test::fork_ranks(4, [&](int process) {
    const std::string run_id = process < 2 ? "job-a" : "job-b";
    const int rank = process % 2;
    auto world = World::join(job_env(rank, 2, port, run_id, 0));
    std::vector<std::string> values = world->exchange("who", run_id);
    if (values != std::vector<std::string>{run_id, run_id}) return 1;
    world->barrier("done");
    return 0;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
  TcpStore raw(TcpStoreOptions{.port = port, .token = kToken, .connect_timeout = milliseconds(5'000)});
  EXPECT_TRUE(raw.check({"job/job-a/world/0/who/0", "job/job-b/world/0/who/1"}));
  EXPECT_FALSE(raw.check({"world/0/who/0"}));
}

// A restarted job does not keep every earlier round's keys.
TEST(World, ARestartedRoundDeletesThePreviousRoundsKeys) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  TcpStore raw(TcpStoreOptions{.port = port, .token = kToken, .connect_timeout = milliseconds(5'000)});
  for (int restart = 0; restart < 4; ++restart) {
    test::RanksResult result = test::fork_ranks(3, [&](int rank) {
      auto world = World::join(job_env(rank, 3, port, "elastic", restart));
      world->exchange("endpoint", std::to_string(rank));
      world->barrier("ready");
      return 0;
    });
    ASSERT_TRUE(result.all_succeeded()) << "restart " << restart << ": " << result.describe();
    EXPECT_TRUE(raw.check({fmt::format("job/elastic/world/{}/endpoint/2", restart)}));
    if (restart > 0) {
      EXPECT_FALSE(raw.check({fmt::format("job/elastic/world/{}/node/0", restart - 1)})) << restart;
    }
  }
  // Round 3's keys alone: 3 node keys, 3 endpoints, the barrier's 2.
  EXPECT_EQ(raw.num_keys(), 8);
}

}  // namespace
}  // namespace myriad
