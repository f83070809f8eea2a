// Failure handling of `myriad run`: the first failed rank's exit code,
// signals, SIGTERM to the launcher, --timeout, and nothing left behind
// (processes, grandchildren, shared-memory segments, temp files).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

constexpr std::chrono::milliseconds kPidFileTimeout{20'000};

// Every pid must be known (non-zero) and dead.
void expect_all_dead(const std::vector<pid_t>& pids, const std::string& context) {
  for (size_t rank = 0; rank < pids.size(); ++rank) {
    EXPECT_NE(pids[rank], 0) << "rank " << rank << " wrote no pid; " << context;
    EXPECT_FALSE(process_alive(pids[rank]))
        << "rank " << rank << " (pid " << pids[rank] << ") survived; " << context;
  }
}

bool pid_files_written(const std::string& dir, int n) {
  for (pid_t pid : read_pids(dir, "pid-", n)) {
    if (pid == 0) return false;
  }
  return true;
}

TEST(RunFailure, FailedRanksExitCodeIsTheJobsAndNoRankSurvives) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "-np", "4", probe_path(), "exit", "2", "3", dir.path(), "4"});
  EXPECT_EQ(result.shell_code(), 3) << result.describe();
  EXPECT_NE(result.err.find("myriad run: rank 2 (pid "), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find(") exited with code 3"), std::string::npos) << result.describe();
  expect_all_dead(read_pids(dir.path(), "pid-", 4), result.describe());
}

TEST(RunFailure, RankKilledBySignalGives128PlusSignal) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "-np", "3", probe_path(), "kill-self", "1", dir.path(), "3"});
  EXPECT_EQ(result.shell_code(), 128 + SIGKILL) << result.describe();
  EXPECT_NE(result.err.find("rank 1 (pid "), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find("was killed by signal 9 (SIGKILL)"), std::string::npos) << result.describe();
  expect_all_dead(read_pids(dir.path(), "pid-", 3), result.describe());
}

TEST(RunFailure, SigtermToTheLauncherEndsEveryRank) {
  TempDir dir;
  std::unique_ptr<RunningCommand> myriad =
      start_myriad({"run", "-np", "3", probe_path(), "sleep", dir.path()});
  ASSERT_TRUE(wait_until([&] { return pid_files_written(dir.path(), 3); }, kPidFileTimeout))
      << myriad->out_so_far();
  myriad->send_signal(SIGTERM);
  CommandResult result = myriad->wait();
  EXPECT_EQ(result.shell_code(), 128 + SIGTERM) << result.describe();
  EXPECT_NE(result.err.find("received SIGTERM"), std::string::npos) << result.describe();
  expect_all_dead(read_pids(dir.path(), "pid-", 3), result.describe());
}

TEST(RunFailure, RanksIgnoringSigtermAreKilledAfterTheGracePeriod) {
  TempDir dir;
  std::unique_ptr<RunningCommand> myriad =
      start_myriad({"run", "-np", "2", "--grace-period", "300ms", probe_path(), "ignore-term", dir.path()});
  ASSERT_TRUE(wait_until([&] { return pid_files_written(dir.path(), 2); }, kPidFileTimeout))
      << myriad->out_so_far();
  myriad->send_signal(SIGTERM);
  CommandResult result = myriad->wait();
  EXPECT_EQ(result.shell_code(), 128 + SIGTERM) << result.describe();
  EXPECT_NE(result.err.find("sending SIGKILL"), std::string::npos) << result.describe();
  expect_all_dead(read_pids(dir.path(), "pid-", 2), result.describe());
}

TEST(RunFailure, TimeoutStopsTheJobWith124) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "-np", "2", "--timeout", "1", probe_path(), "sleep", dir.path()});
  EXPECT_EQ(result.shell_code(), 124) << result.describe();
  EXPECT_NE(result.err.find("--timeout 1s"), std::string::npos) << result.describe();
  expect_all_dead(read_pids(dir.path(), "pid-", 2), result.describe());
}

TEST(RunFailure, ProcessesARankStartedDieWithIt) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "-np", "2", probe_path(), "grandchild", dir.path(), "2"});
  EXPECT_EQ(result.shell_code(), 1) << result.describe();
  std::vector<pid_t> grandchildren = read_pids(dir.path(), "grandchild-", 2);
  // The launcher reaps the rank and kills its group at once; allow the kernel a moment to finish the kill.
  wait_until([&] { return !process_alive(grandchildren[0]) && !process_alive(grandchildren[1]); },
             std::chrono::milliseconds(5'000));
  expect_all_dead(grandchildren, result.describe());
}

// rank_probe's shm mode writes DIR/shm-<rank>: the segment path, then the job's temp dir.
void expect_job_files_removed(const std::string& dir, int ranks, const std::string& context) {
  for (int rank = 0; rank < ranks; ++rank) {
    std::vector<std::string> paths = lines_of(read_text(dir + "/shm-" + std::to_string(rank)));
    ASSERT_EQ(paths.size(), 2u) << "rank " << rank << " did not record its files; " << context;
    EXPECT_EQ(paths[0].rfind("/dev/shm/myriad-", 0), 0u) << paths[0];
    EXPECT_FALSE(std::filesystem::exists(paths[0])) << paths[0] << " was left behind; " << context;
    EXPECT_FALSE(std::filesystem::exists(paths[1])) << paths[1] << " was left behind; " << context;
  }
}

TEST(RunCleanup, SegmentsOfAKilledRankAreRemoved) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "-np", "1", probe_path(), "shm", dir.path(), "kill"});
  EXPECT_EQ(result.shell_code(), 128 + SIGKILL) << result.describe();
  expect_job_files_removed(dir.path(), 1, result.describe());
}

TEST(RunCleanup, SegmentsAreRemovedWhenTheLauncherIsTerminated) {
  TempDir dir;
  std::unique_ptr<RunningCommand> myriad =
      start_myriad({"run", "-np", "2", probe_path(), "shm", dir.path(), "sleep"});
  ASSERT_TRUE(wait_until([&] { return pid_files_written(dir.path(), 2); }, kPidFileTimeout))
      << myriad->out_so_far();
  myriad->send_signal(SIGTERM);
  CommandResult result = myriad->wait();
  EXPECT_EQ(result.shell_code(), 128 + SIGTERM) << result.describe();
  expect_job_files_removed(dir.path(), 2, result.describe());
  expect_all_dead(read_pids(dir.path(), "pid-", 2), result.describe());
}

}  // namespace
}  // namespace myriad::test
