// kill -9 of a random worker at a random step: the job restarts its ranks,
// they restore the newest checkpoint, and the result is bit-identical to a
// run without failure. Seeded trials (the seed is printed; set
// MYRIAD_TEST_SEED to replay one), one node of 2 ranks and 2 nodes of one.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <random>

#include "elastic_launch_test.h"

namespace myriad::test {
namespace {

constexpr int kSingleNodeTrials = 13;
constexpr int kTwoNodeTrials = 7;

uint64_t test_seed() {
  if (const char* text = std::getenv("MYRIAD_TEST_SEED")) return std::strtoull(text, nullptr, 10);
  return std::random_device{}();
}

class KillWorker : public ElasticLaunchTest {
 protected:
  // One trial: `nodes` nodes of `nproc` ranks, rank (node, slot) killed after step `kill_step`.
  void trial(int nodes, int nproc, int node, int slot, int kill_step) {
    SCOPED_TRACE(::testing::Message() << nodes << " node(s) x " << nproc << " rank(s), kill node " << node
                                      << " local rank " << slot << " after step " << kill_step);
    std::string run_id = new_run_id();
    TrainConfig config{.ckpt_dir = dir_.path() + "/ckpt-" + run_id};
    std::vector<std::string> args{"--max-restarts", "3", "--nproc-per-node", std::to_string(nproc)};
    if (nodes > 1) args.insert(args.end(), {"--emulated-nodes", std::to_string(nodes)});
    std::unique_ptr<RunningCommand> job = start_command(run_options(run_id, args, config));
    std::string node_id = nodes > 1 ? "node-" + std::to_string(node) : host_node_id();
    pid_t victim = wait_for_step(run_id, node_id, slot, static_cast<uint64_t>(kill_step));
    ASSERT_NE(victim, 0) << "rank never reported step " << kill_step << "\n" << job->out_so_far();
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    CommandResult result = job->wait();

    ASSERT_EQ(result.shell_code(), 0) << result.describe();
    EXPECT_EQ(checksum_of(result.out), baseline_checksum(config)) << result.describe();
    std::vector<nlohmann::json> events = ledger(run_id);
    EXPECT_GE(events_named(events, "round_formed").size(), 2u) << result.describe();
    EXPECT_FALSE(events_named(events, "failure_detected").empty()) << result.describe();
    // The restarted round's ranks restored. A kill after step 2*K+1 comes
    // after the save of step 2*K, which waited for step K's commit: a step
    // is on disk (and in memory) by then.
    std::vector<Resume> resumes = resumes_of(result.out);
    if (kill_step > 2 * config.ckpt_every) {
      EXPECT_GE(resumes.size(), static_cast<size_t>(nodes * nproc)) << result.describe();
    }
    for (const Resume& resume : resumes) {
      EXPECT_GE(resume.step, config.ckpt_every) << result.describe();
      EXPECT_LE(resume.step, kill_step + 1) << result.describe();
      EXPECT_TRUE(resume.source == "memory" || resume.source == "buddy" || resume.source == "disk" ||
                  resume.source.find('+') != std::string::npos)
          << resume.source;
    }
  }
};

TEST_F(KillWorker, RandomRankAtRandomStepResumesWithTheSameResult) {
  uint64_t seed = test_seed();
  std::printf("seed %llu (MYRIAD_TEST_SEED=%llu replays it)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TrainConfig config;
  auto random_step = [&] { return std::uniform_int_distribution<int>(1, config.steps - 4)(rng); };
  for (int i = 0; i < kSingleNodeTrials + kTwoNodeTrials; ++i) {
    bool two_nodes = i >= kSingleNodeTrials;
    int nodes = two_nodes ? 2 : 1;
    int nproc = two_nodes ? 1 : 2;
    int node = std::uniform_int_distribution<int>(0, nodes - 1)(rng);
    int slot = std::uniform_int_distribution<int>(0, nproc - 1)(rng);
    trial(nodes, nproc, node, slot, random_step());
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace myriad::test
