// WorkerGroup: the agent's handle on its node's worker processes.
//
// The elastic agent (elastic/agent.h) decides when workers start and stop;
// how processes are spawned, watched and ended is the launcher's (its
// supervisor, fork server and spawn code implement this interface in
// launcher/process_workers.h). Keeping the interface here lets the agent be
// tested with fake workers and keeps elastic/ free of process code.
//
// run() is one blocking call per round, because the launcher's supervisor
// watches exits (SIGCHLD), output and signals in one event loop: the agent's
// own checks ride on that loop as `monitor`, called every monitor_interval.
// Contract of run():
//   - starts the round's workers (local ranks 0..nproc-1 of `round`);
//   - the first worker that fails on its own is described as a failure
//     record (JSON: "cause" exit|signal, "rank", "node", "pid", "code",
//     "signal", "stderr_tail", "step", "fault_t", "summary", optional
//     "error") and passed to on_failure at once, before the others are
//     stopped, so that the other nodes stop while this one does;
//   - a reason returned by `monitor`, a worker's failure, or a signal to
//     this process stops every worker: SIGTERM, SIGKILL after
//     grace_period, and a worker that still runs long after that is
//     abandoned (reported), so that run() always returns;
//   - returns when no worker runs any more.
// run() throws Error when a worker cannot be started (after stopping those
// that were); the group may be used for the next round after any return or
// throw.
//
// Thread-safety: called from the agent's main thread only.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "elastic/rendezvous.h"

namespace myriad {
class HeartbeatTable;
}  // namespace myriad

namespace myriad::elastic {

// After SIGTERM, how long workers get before SIGKILL.
inline constexpr std::chrono::milliseconds kDefaultGracePeriod{5'000};

// What one round's workers are started with.
struct WorkerRound {
  Round round;
  std::string master;       // MASTER_ADDR:MASTER_PORT: free for rank 0's own store (not Myriad's)
  std::string store;        // the ranks' store for the round (HOST:PORT); empty: the job's store
  std::string token;        // its token (with `store`)
  int64_t failures = 0;     // failures published so far in the job (TORCHELASTIC_RESTART_COUNT)
  std::string events_path;  // the goodput ledger the workers append to; empty: none
  const HeartbeatTable* heartbeats = nullptr;  // the round's table: a failure record names the last step
};

struct WorkerWatch {
  std::chrono::milliseconds grace_period = kDefaultGracePeriod;
  std::chrono::milliseconds monitor_interval{0};
  // A reason to stop every worker, or nullopt to go on.
  std::function<std::optional<std::string>()> monitor;
  // The first worker failure (the record above).
  std::function<void(const nlohmann::json&)> on_failure;
};

struct WorkersEnd {
  int exit_code = 0;             // 0 when every worker exited 0
  int received_signal = 0;       // a signal to this process (SIGTERM, ...) that stopped them; 0: none
  std::vector<pid_t> abandoned;  // workers left running after SIGKILL
};

class WorkerGroup {
 public:
  virtual ~WorkerGroup() = default;

  // Before each round: waits for what must be ready before workers start
  // (a fork server's imports), calling keep_alive every so often so that
  // the agent's lease stays fresh. Never throws for a failure to get ready
  // (the workers then start the slow way).
  virtual void prepare(const std::function<void()>& keep_alive) = 0;
  virtual WorkersEnd run(const WorkerRound& round, const WorkerWatch& watch) = 0;
};

}  // namespace myriad::elastic
