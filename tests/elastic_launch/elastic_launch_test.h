// Helpers of the elastic launch tests: they run the real `myriad run` (and
// hand-started `myriad agent`s) over examples/cpp/elastic_train, inject
// faults from outside (kill -9, SIGSTOP, a killed agent, a killed job) and
// check the outcome through what a user sees: the exit code, the program's
// "resumed from step N (source S)" and "checksum" lines, the summary on
// stderr, and the goodput ledger (LOG_DIR/events.jsonl).
//
// Every job gets its own run id (--rdzv-id), so that a test finds its
// processes (/proc: an argument or MYRIAD_RUN_ID equal to the id) and its
// files (/dev/shm/myriad-<id>-*, $TMPDIR/myriad-<id>) even when other tests
// run at the same time. ElasticLaunchTest::TearDown checks that none is left.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace myriad::test {

// Generous bounds for a loaded 2-core machine; no test asserts a time.
inline constexpr std::chrono::milliseconds kJobTimeout{90'000};
inline constexpr std::chrono::milliseconds kWaitTimeout{30'000};

inline std::string myriad_path() {
  return MYRIAD_CLI_PATH;
}
inline std::string train_path() {
  return ELASTIC_TRAIN_PATH;
}

// What elastic_train is asked to do.
struct TrainConfig {
  int steps = 40;
  int param_count = 4096;
  int batch = 6;
  int ckpt_every = 4;
  int step_ms = 15;
  int fail_at_step = -1;
  std::string ckpt_dir;  // empty: no checkpoints

  std::vector<std::string> argv() const;
};

// The checksum of a run without failure, from one process run directly
// (world of one: the arithmetic is exact, so any world size gives it).
std::string baseline_checksum(const TrainConfig& config);

// "checksum X" of the job's output ("" when missing).
std::string checksum_of(const std::string& out);

struct Resume {
  int rank = -1;  // from the "[rank N] " prefix; -1 without one
  long step = -1;
  std::string source;
};
// Every "resumed from step N (source S)" line of the output.
std::vector<Resume> resumes_of(const std::string& out);

// The events of a ledger with `event` == name.
std::vector<nlohmann::json> events_named(const std::vector<nlohmann::json>& events, const std::string& name);

// A node's heartbeat table path (/dev/shm/myriad-<id>-hb-<node>).
std::string heartbeat_path(const std::string& run_id, const std::string& node_id);
// This machine's node id in a one-node job (its host name, as file names spell it).
std::string host_node_id();

// The pid of `slot` in a node's heartbeat table once it has reported `step`
// or later (0 on timeout). Opens the table anew while it is missing.
pid_t wait_for_step(const std::string& run_id, const std::string& node_id, int slot, uint64_t step,
                    std::chrono::milliseconds timeout = kWaitTimeout);

// Live processes of the job: those with an argument equal to the run id or
// MYRIAD_RUN_ID=<id> in their environment (the launcher, agents, workers).
std::vector<pid_t> job_processes(const std::string& run_id);
// The pid of the agent of `node_id` (0 when none runs).
pid_t agent_pid(const std::string& run_id, const std::string& node_id);
// The job's files left in /dev/shm and $TMPDIR.
std::vector<std::string> job_files(const std::string& run_id);

// A TCP port free at the time of the call.
int free_port();

class ElasticLaunchTest : public ::testing::Test {
 protected:
  // A run id unique to this process and call; checked by TearDown.
  std::string new_run_id();
  // Options for `myriad run --rdzv-id ID --log-dir DIR ARGS... elastic_train CONFIG`.
  CommandOptions run_options(const std::string& run_id, std::vector<std::string> args,
                             const TrainConfig& config, std::map<std::string, std::string> env = {});
  std::string log_dir(const std::string& run_id) const { return dir_.path() + "/logs-" + run_id; }
  std::vector<nlohmann::json> ledger(const std::string& run_id) const;
  // After a job killed by SIGKILL (no one to clean up): removes its files.
  void forget_killed_job(const std::string& run_id);
  void TearDown() override;

  TempDir dir_;
  std::vector<std::string> run_ids_;
};

}  // namespace myriad::test
