// The memory tier's pieces without processes: who is whose buddy, how a
// rank's snapshot files are recycled within `keep`, what memory_usage counts.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "checkpoint/format.h"
#include "checkpoint/memory_tier.h"
#include "checkpoint/replication.h"
#include "tests/harness/process.h"

namespace myriad::checkpoint {
namespace {

namespace fs = std::filesystem;

ino_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST(BuddyPlanTest, BuddyIsTheSameLocalRankOnTheNextNode) {
  const std::vector<std::string> nodes{"a", "a", "b", "b", "c", "c"};
  const std::vector<bool> on(6, true);
  for (int r = 0; r < 6; ++r) {
    BuddyPlan p = plan_buddies(nodes, on, r);
    EXPECT_EQ(p.send_to, (r + 2) % 6) << r;
    EXPECT_EQ(p.receive_from, std::vector<int>{(r + 4) % 6}) << r;
  }
}

TEST(BuddyPlanTest, NoBuddyOnOneNodeOrWithoutATier) {
  EXPECT_EQ(plan_buddies({"a", "a", "a"}, {true, true, true}, 1).send_to, -1);
  EXPECT_TRUE(plan_buddies({"a", "a", "a"}, {true, true, true}, 1).receive_from.empty());
  // Rank 2 (node b) has no tier: rank 0 has nobody to send to, rank 2 sends nothing.
  const std::vector<std::string> nodes{"a", "a", "b", "b"};
  EXPECT_EQ(plan_buddies(nodes, {true, true, false, true}, 0).send_to, -1);
  EXPECT_EQ(plan_buddies(nodes, {true, true, false, true}, 2).send_to, -1);
  EXPECT_EQ(plan_buddies(nodes, {true, true, false, true}, 1).send_to, 3);
}

TEST(BuddyPlanTest, UnevenNodesStillSendAcrossNodes) {
  // 3 ranks on a, 1 on b: 0 -> 3, 3 -> 0; ranks 1 and 2 would land on a.
  const std::vector<std::string> nodes{"a", "a", "a", "b"};
  const std::vector<bool> on(4, true);
  EXPECT_EQ(plan_buddies(nodes, on, 0).send_to, 3);
  EXPECT_EQ(plan_buddies(nodes, on, 1).send_to, -1);
  EXPECT_EQ(plan_buddies(nodes, on, 3).send_to, 0);
  EXPECT_EQ(plan_buddies(nodes, on, 0).receive_from, std::vector<int>{3});
  EXPECT_EQ(plan_buddies(nodes, on, 3).receive_from, std::vector<int>{0});
}

TEST(MemoryTierUnitTest, ReusesTheOldestFileBeyondKeepAndItsMapping) {
  test::TempDir dir;
  MemoryTier tier(dir.path(), 2, 1);
  const std::string name = rank_file_name(1);
  auto path = [&](uint64_t step) { return memory_step_dir(dir.path(), step) + "/" + name; };
  for (uint64_t step = 1; step <= 2; ++step) {
    SnapshotBuffer b = tier.snapshot_buffer(step, 10000);
    std::memset(b.data(), static_cast<int>(step), b.size());
    tier.write_manifest(step, "{}");
    tier.adopt(std::move(b));
  }
  const ino_t first = inode_of(path(1));
  SnapshotBuffer third = tier.snapshot_buffer(3, 5000);
  EXPECT_EQ(third.size(), 5000u);
  EXPECT_EQ(third.data()[0], 1);  // step 1's pages, still mapped
  EXPECT_EQ(inode_of(path(3)), first);
  EXPECT_FALSE(fs::exists(memory_step_dir(dir.path(), 1)));  // emptied, removed with its manifest
  EXPECT_EQ(fs::file_size(path(3)), 5000u);
  EXPECT_EQ(memory_steps(dir.path()), std::vector<uint64_t>{2});  // step 3 has no manifest yet
  const MemoryUsage usage = memory_usage(dir.path());
  EXPECT_EQ(usage.steps, 2);
  EXPECT_EQ(usage.bytes, 10000u + 5000u + 2u);  // two files and step 2's manifest
}

TEST(MemoryTierUnitTest, ReplicasArePublishedWholeAndKeptWithinKeep) {
  test::TempDir dir;
  MemoryTier tier(dir.path(), 1, 0);
  for (uint64_t step = 1; step <= 3; ++step) {
    SnapshotBuffer b = tier.replica_buffer(step, 4, 100);
    EXPECT_FALSE(fs::exists(replica_step_dir(dir.path(), step) + "/" + rank_file_name(4)));
    tier.publish_replica(step, 4, std::move(b));
    EXPECT_TRUE(fs::exists(replica_step_dir(dir.path(), step) + "/" + rank_file_name(4)));
  }
  EXPECT_EQ(memory_usage(dir.path()).replica_steps, 1);
  EXPECT_EQ(memory_usage(dir.path()).bytes, 100u);
  EXPECT_EQ(memory_usage(dir.path() + "/missing").bytes, 0u);
}

}  // namespace
}  // namespace myriad::checkpoint
