// An idle `myriad agent` (waiting in its rendezvous for a node that does not
// come) ends on SIGTERM, SIGINT or SIGHUP within a second or so, as it does
// while workers run: exit code 128 + the signal, a line naming the signal,
// and none of its node's files left behind. Its stop signals are blocked
// for the supervisor's signalfd, so before the idle watch (launcher/agent.cc)
// it ignored them until the next round.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "launcher/job_files.h"
#include "runtime/tcp_store.h"
#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kStartTimeout{20'000};
// A stopped agent ends within a poll of the watch (100 ms) plus its exit;
// far less than the join timeout it would otherwise wait out.
constexpr milliseconds kStopBound{5'000};

std::string store_address(const std::string& out) {
  for (const std::string& line : lines_of(out)) {
    if (line.starts_with("MYRIAD_STORE=")) return line.substr(std::string("MYRIAD_STORE=").size());
  }
  return "";
}

class IdleAgent : public ::testing::TestWithParam<int> {};

TEST_P(IdleAgent, EndsOnAStopSignalAndRemovesItsFiles) {
  const int sig = GetParam();
  std::unique_ptr<RunningCommand> store =
      start_myriad({"store", "--port", "0", "--host", "127.0.0.1", "--token", "idle-agent"});
  ASSERT_TRUE(wait_until([&] { return !store_address(store->out_so_far()).empty(); }, kStartTimeout))
      << store->out_so_far();
  const HostPort address = parse_host_port(store_address(store->out_so_far()), "MYRIAD_STORE");
  TcpStore client(TcpStoreOptions{.host = address.host, .port = address.port, .token = "idle-agent"});
  const int64_t keys_before = client.num_keys();

  const std::string run_id = fmt::format("idle-agent-{}-{}", ::getpid(), sig);
  std::unique_ptr<RunningCommand> agent = start_command(
      myriad_options({"agent", "--rdzv-endpoint", address.to_string(), "--nnodes", "2", "--nproc-per-node",
                      "1", "--join-timeout", "600s", "--node-id", "idle", "true"},
                     {{"MYRIAD_TOKEN", "idle-agent"}, {"MYRIAD_RUN_ID", run_id}}));
  // Its rendezvous keys show it is in its join, with its files made.
  ASSERT_TRUE(wait_until([&] { return client.num_keys() > keys_before; }, kStartTimeout))
      << agent->out_so_far();
  const std::string temp_dir = launcher::job_temp_dir(run_id);
  const std::string snapshot_dir = "/dev/shm/" + launcher::shm_segment_prefix(run_id) + "snap-idle";
  ASSERT_TRUE(std::filesystem::exists(snapshot_dir)) << snapshot_dir;
  ASSERT_TRUE(std::filesystem::exists(temp_dir + "/errors-idle")) << temp_dir;

  const auto sent = std::chrono::steady_clock::now();
  agent->send_signal(sig);
  CommandResult result = agent->wait();
  const auto took = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(result.shell_code(), 128 + sig) << result.describe();
  EXPECT_LT(took, kStopBound) << result.describe();
  EXPECT_NE(result.err.find(fmt::format("stopped by SIG{}", ::sigabbrev_np(sig))), std::string::npos)
      << result.describe();
  EXPECT_FALSE(std::filesystem::exists(snapshot_dir)) << snapshot_dir << " was left behind";
  EXPECT_FALSE(std::filesystem::exists(temp_dir + "/errors-idle")) << "the error directory was left behind";

  store->send_signal(SIGTERM);
  EXPECT_EQ(store->wait().shell_code(), 0);
}

INSTANTIATE_TEST_SUITE_P(Signals, IdleAgent, ::testing::Values(SIGTERM, SIGINT, SIGHUP),
                         [](const auto& info) { return std::string("SIG") + ::sigabbrev_np(info.param); });

}  // namespace
}  // namespace myriad::test
