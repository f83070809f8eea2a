// Faults that do not end a process by themselves: a stopped (hung) worker,
// and a lost node (its agent killed). The job detects them, goes on (on
// fewer nodes, or with a spare agent started by hand taking the lost
// node's place) and ends with the result of a run without failure.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "elastic_launch_test.h"

namespace myriad::test {
namespace {

using LostRank = ElasticLaunchTest;

// The members of every round_formed, in ledger order (one entry per agent and round).
std::vector<int> round_sizes(const std::vector<nlohmann::json>& events) {
  std::vector<int> sizes;
  for (const nlohmann::json& e : events_named(events, "round_formed"))
    sizes.push_back(e.value("world_size", 0));
  return sizes;
}

TEST_F(LostRank, StoppedWorkerIsHungAndTheJobRecovers) {
  std::string run_id = new_run_id();
  TrainConfig config{.steps = 60, .step_ms = 20, .ckpt_dir = dir_.path() + "/ckpt"};
  std::unique_ptr<RunningCommand> job = start_command(run_options(
      run_id,
      {"--max-restarts", "2", "--nproc-per-node", "2", "--heartbeat-timeout", "2s", "--grace-period", "1s"},
      config));
  pid_t victim = wait_for_step(run_id, host_node_id(), 1, 10);
  ASSERT_NE(victim, 0) << job->out_so_far();
  // No SIGCONT follows: the agent must end the stopped process itself (SIGKILL after the grace period).
  ASSERT_EQ(::kill(victim, SIGSTOP), 0);
  CommandResult result = job->wait();

  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(checksum_of(result.out), baseline_checksum(config)) << result.describe();
  EXPECT_FALSE(process_alive(victim)) << "the stopped worker (pid " << victim << ") survived";
  std::vector<nlohmann::json> failures = events_named(ledger(run_id), "failure_detected");
  ASSERT_FALSE(failures.empty()) << result.describe();
  EXPECT_EQ(failures[0].value("cause", ""), "hung") << failures[0].dump() << "\n" << result.describe();
  EXPECT_GE(resumes_of(result.out).size(), 2u) << result.describe();
}

TEST_F(LostRank, KilledAgentLeavesTheJobOnFewerNodes) {
  std::string run_id = new_run_id();
  // Long enough to outlast the lease timeout (about 5 s) that tells the survivors a node is gone.
  TrainConfig config{.steps = 400, .step_ms = 20, .ckpt_dir = dir_.path() + "/ckpt"};
  std::unique_ptr<RunningCommand> job = start_command(run_options(
      run_id, {"--max-restarts", "3", "--emulated-nodes", "3", "--nnodes", "2:3", "--nproc-per-node", "1"},
      config));
  ASSERT_NE(wait_for_step(run_id, "node-2", 0, 10), 0) << job->out_so_far();
  pid_t agent = agent_pid(run_id, "node-2");
  ASSERT_NE(agent, 0) << job->out_so_far();
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  CommandResult result = job->wait();

  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(checksum_of(result.out), baseline_checksum(config)) << result.describe();
  std::vector<nlohmann::json> events = ledger(run_id);
  std::vector<int> sizes = round_sizes(events);
  ASSERT_FALSE(sizes.empty()) << result.describe();
  EXPECT_EQ(sizes.front(), 3) << result.describe();
  EXPECT_EQ(sizes.back(), 2) << "the last round should run on the 2 surviving nodes\n" << result.describe();
  // The survivors resharded the replicated parameters into a world of 2.
  std::vector<Resume> resumes = resumes_of(result.out);
  EXPECT_TRUE(std::any_of(resumes.begin(), resumes.end(), [](const Resume& r) { return r.step > 0; }))
      << result.describe();
}

TEST_F(LostRank, SpareAgentTakesTheLostNodesPlace) {
  std::string run_id = new_run_id();
  std::string endpoint = "127.0.0.1:" + std::to_string(free_port());
  const std::string token = "elastic-launch-test-token";
  TrainConfig config{.steps = 400, .step_ms = 20, .ckpt_dir = dir_.path() + "/ckpt"};
  std::unique_ptr<RunningCommand> job =
      start_command(run_options(run_id,
                                {"--max-restarts", "3", "--emulated-nodes", "3", "--nnodes", "2:3",
                                 "--nproc-per-node", "1", "--rdzv-endpoint", endpoint},
                                config, {{"MYRIAD_TOKEN", token}}));
  ASSERT_NE(wait_for_step(run_id, "node-2", 0, 5), 0) << job->out_so_far();

  // The world is at its maximum: the spare waits until a node is lost.
  CommandOptions spare;
  // It looks at the store seldom (--monitor-interval 1s): the job's store must stay up until it has seen
  // the end.
  // clang-format off
  spare.argv = {myriad_path(),        "agent",
                "--rdzv-endpoint",    endpoint,
                "--rdzv-id",          run_id,
                "--nnodes",           "2:3",
                "--nproc-per-node",   "1",
                "--node-id",          "spare",
                "--monitor-interval", "1s",
                "--events",           log_dir(run_id) + "/events.jsonl"};
  // clang-format on
  std::vector<std::string> program = config.argv();
  spare.argv.insert(spare.argv.end(), program.begin(), program.end());
  spare.env = {{"MYRIAD_TOKEN", token}, {"MYRIAD_LOG_LEVEL", "warn"}};
  spare.unset_env = {"MYRIAD_RUN_ID", "MYRIAD_STORE"};
  spare.timeout = kJobTimeout;
  std::unique_ptr<RunningCommand> spare_agent = start_command(spare);

  // Let the spare register before the node goes: the job must not shrink first.
  ASSERT_TRUE(wait_until(
      [&] {
        for (const nlohmann::json& e : events_named(ledger(run_id), "agent_start")) {
          if (e.value("agent", "") == "spare") return true;
        }
        return false;
      },
      kWaitTimeout))
      << spare_agent->out_so_far();
  pid_t agent = agent_pid(run_id, "node-2");
  ASSERT_NE(agent, 0) << job->out_so_far();
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  CommandResult result = job->wait();
  CommandResult spare_result = spare_agent->wait();

  ASSERT_EQ(result.shell_code(), 0) << result.describe() << "\nspare agent:\n" << spare_result.describe();
  EXPECT_EQ(spare_result.shell_code(), 0) << spare_result.describe();
  EXPECT_EQ(checksum_of(result.out + spare_result.out), baseline_checksum(config)) << result.describe();
  std::vector<nlohmann::json> events = ledger(run_id);
  std::vector<int> sizes = round_sizes(events);
  ASSERT_FALSE(sizes.empty()) << result.describe();
  EXPECT_EQ(sizes.back(), 3) << "the spare should keep the world size\n" << result.describe();
  bool spare_joined = false;
  for (const nlohmann::json& e : events_named(events, "round_formed")) {
    if (e.value("agent", "") == "spare") spare_joined = true;
  }
  EXPECT_TRUE(spare_joined) << result.describe() << "\nspare agent:\n" << spare_result.describe();
}

}  // namespace
}  // namespace myriad::test
