// Power loss at every step of a save by three forked ranks. Each rank saves
// through its own FaultFileSystem over the same directory; the instances
// number their operations from one counter in shared memory, so the ranks'
// logs merge into the order the operations happened in. The parent then
// sweeps every crash point of the merged log, as power_loss_test.cc does
// for one rank, and checks that every fsync of every rank is needed.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <iostream>

#include "checkpoint/file_io.h"
#include "runtime/logging.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/checkpoint/fault_file_system.h"
#include "tests/checkpoint/power_loss.h"

namespace myriad::test {
namespace {

constexpr int kRanks = 3;
constexpr int kRankLogFailed = 40;

TEST(PowerLossWorld, EveryCrashPointOfAThreeRankSaveLeavesThePreviousOrTheNewCheckpoint) {
  set_log_level("warn");  // the sweep loads hundreds of times
  TempDir tmp;
  const std::string disk = tmp.path() + "/disk";
  const std::string dir = disk + "/ck";
  const std::string logs = tmp.path() + "/logs";
  checkpoint::make_dir(disk);
  checkpoint::make_dir(logs);
  const std::vector<TensorSpec> specs = mixed_specs();
  WorldResult first = save_steps(dir, kRanks, specs, {1}, {.snapshot_dir = ""});
  ASSERT_TRUE(first.all_succeeded()) << first.describe();
  const FileTree durable = capture_tree(disk);

  // Mapped before the fork: every rank's process shares this page.
  void* page = ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  auto* clock = new (page) std::atomic<uint64_t>(0);
  WorldResult second = run_world(Layout::one_node(kRanks), [&](Rank& r) {
    auto fault = std::make_shared<FaultFileSystem>(disk, static_cast<uint32_t>(r.rank), clock);
    try {
      checkpoint::Checkpointer ck(r.comm, {.run_id = "powerloss", .snapshot_dir = "", .file_system = fault});
      OwnedState owned(specs, r.rank, r.size, 2, true);
      ck.save(owned.state(), dir, 2).wait();
    } catch (const Error& e) {
      r.report(fmt::format("save of step 2 failed: {}", e.what()));
      return kRankSaveFailed;
    }
    try {
      write_log(fmt::format("{}/rank-{}.log", logs, r.rank), fault->log());
    } catch (const Error& e) {
      r.report(fmt::format("writing the operation log failed: {}", e.what()));
      return kRankLogFailed;
    }
    return kRankOk;
  });
  ::munmap(page, sizeof(std::atomic<uint64_t>));
  ASSERT_TRUE(second.all_succeeded()) << second.describe();

  std::vector<FileOp> log;
  std::vector<int> rank_syncs(kRanks, 0);
  for (int rank = 0; rank < kRanks; ++rank) {
    for (FileOp& o : read_log(fmt::format("{}/rank-{}.log", logs, rank))) {
      if (o.is_sync()) ++rank_syncs[rank];
      log.push_back(std::move(o));
    }
  }
  std::sort(log.begin(), log.end(), [](const FileOp& a, const FileOp& b) { return a.seq < b.seq; });
  // Every rank fsyncs its data file; rank 0 also commits.
  for (int rank = 1; rank < kRanks; ++rank) EXPECT_EQ(rank_syncs[rank], 1) << "rank " << rank;
  EXPECT_EQ(rank_syncs[0], 6);

  PowerLoss replay(durable);
  for (const FileOp& o : log) replay.apply(o);
  ASSERT_EQ(replay.visible().difference(capture_tree(disk)), "");

  const std::string crash = tmp.path() + "/crash";
  const std::optional<SavedStep> previous = SavedStep{1, specs};
  const SavedStep next{2, specs};
  auto check = [&](const FileTree& tree, bool save_done) {
    write_tree(tree, crash);
    return check_after_power_loss(crash + "/ck", previous, next, save_done);
  };
  PowerLossOutcome out = sweep_power_losses({.durable = &durable, .log = &log}, check);
  std::cout << fmt::format(
      "power loss sweep of a {}-rank save (any-subset): {} operations, {} crash points, {} "
      "crash states, {} distinct trees checked\n",
      kRanks, log.size(), out.crash_points, out.crash_states, out.distinct_trees);
  EXPECT_TRUE(out.failures.empty()) << out.failures.size() << " failing crash states, first "
                                    << (out.failures.empty() ? "" : out.failures[0]);

  for (size_t i = 0; i < log.size(); ++i) {
    if (!log[i].is_sync()) continue;
    PowerLossOutcome without = sweep_power_losses(
        {.durable = &durable, .log = &log, .disabled_syncs = {i}, .stop_at_first_failure = true}, check);
    EXPECT_FALSE(without.failures.empty())
        << "without op " << i << " (" << log[i].describe() << ") no power loss goes wrong";
  }
}

}  // namespace
}  // namespace myriad::test
