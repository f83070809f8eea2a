// What an agent gives its workers, and what it reads back when one fails.
//
// worker_specs() builds one ChildSpec per local rank of a round: the
// program, the agent's environment plus the job's variables, the round's
// place (RANK = the agent's first rank + local rank, WORLD_SIZE the round's),
// torchrun's elastic variables (GROUP_RANK, ROLE_RANK, ROLE_WORLD_SIZE,
// GROUP_WORLD_SIZE, TORCHELASTIC_RESTART_COUNT = failures so far,
// TORCHELASTIC_MAX_RESTARTS, TORCHELASTIC_RUN_ID, TORCHELASTIC_ERROR_FILE)
// and Myriad's (MYRIAD_RESTART_COUNT = the round's generation, so that
// every round's store keys are new; MYRIAD_NODE_ID, MYRIAD_SNAPSHOT_DIR,
// MYRIAD_HEARTBEAT_FILE, MYRIAD_EVENTS_FILE).
//
// MASTER_ADDR:MASTER_PORT is the round's (WorkerLaunch::master), not the
// job store's: a script that never imports myriad starts torch's own
// TCPStore there on rank 0, as under torchrun (docs/launcher.md says why).
//
// describe_worker_failure() turns a failed worker into the JSON record the
// rendezvous publishes as a round's failure: rank, node, pid, exit code or
// signal, the last lines of its stderr, the Python traceback its error file
// holds (torchrun's TORCHELASTIC_ERROR_FILE format), and its last reported
// step (the record elastic/workers.h specifies; the restart policy compares
// two with elastic::same_failure()).
//
// Pure functions apart from make_worker_files() (creates directories) and
// describe_worker_failure() (reads the error file); thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "elastic/rendezvous.h"
#include "launcher/agent.h"
#include "launcher/supervisor.h"
#include "launcher/zygote.h"
#include "runtime/heartbeat.h"

namespace myriad::launcher {

// The node's files an agent owns (all removed when it exits).
struct WorkerFiles {
  std::string snapshot_dir;  // /dev/shm/myriad-<run id>-snap-<node>: checkpoint snapshots (a directory)
  std::string heartbeat;     // /dev/shm/myriad-<run id>-hb-<node>: the heartbeat table
  std::string error_dir;     // $TMPDIR/myriad-<run id>/errors-<node>: the workers' error files
  // With -r/-t: LOG_DIR/<rdzv id>_<random> (torchrun's layout; a new temporary directory without
  // --log-dir), holding attempt_<restarts>/<local rank>/{stdout,stderr}.log. Kept at the end.
  std::string run_log_dir;
};

// Makes the -r/-t directory under `log_dir` (or a temporary one); Error(Io) naming it on failure.
std::string make_run_log_dir(const std::string& log_dir, const std::string& rdzv_id);

// Names the files and creates the directories (mode 0700); Error(Io) naming the path on failure.
WorkerFiles make_worker_files(const std::string& run_id, const std::string& node_id);

struct WorkerLaunch {
  elastic::Round round;
  HostPort master;       // MASTER_ADDR:MASTER_PORT: free for rank 0's own store (not Myriad's)
  std::string store;     // the ranks' store for the round; empty: the job's (AgentOptions::store)
  std::string token;     // its token (with `store`)
  int64_t failures = 0;  // failures published so far in the job
  const AgentOptions* options = nullptr;
  const WorkerFiles* files = nullptr;
  std::string events_path;
  Zygote* zygote = nullptr;  // when set (and ready), the ranks are forked from it
};

std::vector<ChildSpec> worker_specs(const WorkerLaunch& launch);
// The error file of one local rank in this round.
std::string error_file_path(const WorkerLaunch& launch, int local_rank);

nlohmann::json describe_worker_failure(const WorkerLaunch& launch, const ChildExit& exit,
                                       const HeartbeatTable& heartbeats);

}  // namespace myriad::launcher
