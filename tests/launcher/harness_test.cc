// The multi-process harness (tests/harness/process.h) itself: exit codes,
// signals, timeouts, captured output and fork_ranks.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "tests/harness/process.h"

namespace myriad::test {
namespace {

constexpr std::chrono::milliseconds kShortTimeout{500};

CommandResult sh(const std::string& script, std::chrono::milliseconds timeout = kDefaultCommandTimeout) {
  CommandOptions options;
  options.argv = {"sh", "-c", script};
  options.env = {{"HARNESS_VAR", "set"}};
  options.timeout = timeout;
  return run_command(options);
}

TEST(Harness, CapturesBothStreamsExitCodeAndEnvironment) {
  CommandResult result = sh("echo out $HARNESS_VAR; echo err >&2; exit 7");
  EXPECT_EQ(result.status.exited, true);
  EXPECT_EQ(result.shell_code(), 7);
  EXPECT_EQ(result.out, "out set\n");
  EXPECT_EQ(result.err, "err\n");
}

TEST(Harness, CapturesLargeOutputWithoutBlockingTheChild) {
  CommandResult result = sh("head -c 3000000 /dev/zero | tr '\\0' x");
  EXPECT_EQ(result.shell_code(), 0) << result.status.describe();
  EXPECT_EQ(result.out.size(), 3'000'000u);
}

TEST(Harness, ReportsSignalsAndTimeouts) {
  CommandResult killed = sh("kill -9 $$");
  EXPECT_FALSE(killed.status.exited);
  EXPECT_EQ(killed.status.signal, SIGKILL);
  EXPECT_EQ(killed.shell_code(), 137);

  // The child's own child holds the pipes: the harness kills the whole group and still returns.
  CommandResult slow = sh("sleep 30 & sleep 30", kShortTimeout);
  EXPECT_TRUE(slow.status.timed_out) << slow.describe();
  EXPECT_EQ(slow.status.signal, SIGKILL);
}

TEST(Harness, ForkRanksCollectsEveryRanksExitCode) {
  RanksResult result = fork_ranks(4, [](int rank) { return rank; });
  ASSERT_EQ(result.ranks.size(), 4u);
  for (int rank = 0; rank < 4; ++rank) EXPECT_EQ(result.ranks[rank].shell_code(), rank) << result.describe();
  EXPECT_FALSE(result.all_succeeded());
  EXPECT_TRUE(fork_ranks(3, [](int) { return 0; }).all_succeeded());
}

TEST(Harness, ForkRanksReportsExceptionsAndKillsOnTimeout) {
  RanksResult thrown = fork_ranks(2, [](int rank) -> int {
    if (rank == 1) throw std::runtime_error("boom");
    return 0;
  });
  EXPECT_EQ(thrown.ranks[1].shell_code(), kRankExceptionExit) << thrown.describe();
  EXPECT_EQ(thrown.ranks[0].shell_code(), 0) << thrown.describe();

  RanksResult hung = fork_ranks(
      2,
      [](int rank) {
        if (rank == 0) std::this_thread::sleep_for(std::chrono::seconds(30));
        return 0;
      },
      kShortTimeout);
  EXPECT_TRUE(hung.ranks[0].timed_out) << hung.describe();
  EXPECT_EQ(hung.ranks[0].signal, SIGKILL) << hung.describe();
  EXPECT_EQ(hung.ranks[1].shell_code(), 0) << hung.describe();
}

TEST(Harness, ProcessAliveTreatsZombiesAsDead) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Not reaped yet: a zombie.
  EXPECT_TRUE(wait_until([&] { return !process_alive(child); }, std::chrono::milliseconds(5'000)));
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(process_alive(::getpid()));
}

}  // namespace
}  // namespace myriad::test
