// The goodput ledger: reading the job's event log (JSON lines appended by
// the agents and ranks, runtime/event_log.h) and accounting for where the
// wall-clock time went: training that moved forward, and each kind of loss
// around a failure or a membership change. Events and the accounting are
// specified in docs/elastic.md "Goodput ledger".
//
// Pure functions of their input; thread-safe. read_events() throws
// Error(Io) naming the path when the file cannot be read; lines that are
// not events (a torn last line, garbage) are skipped with a warning, or
// garbage is an error (BadLine::kThrow).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace myriad::elastic {

// Seconds lost, by cause. Each second of the job's wall time is counted at
// most once, in one bucket or as productive.
struct LostTime {
  double startup = 0;     // job_start -> the first round's first step (join, launch, restore)
  double detection = 0;   // fault -> failure_detected
  double stop = 0;        // failure_detected (or membership_change) -> workers_stopped
  double rendezvous = 0;  // workers_stopped -> the next round_formed
  double restart = 0;     // round_formed -> first_step, less the restore
  double restore = 0;     // restore_done seconds (the slowest rank) after a restart
  double recompute = 0;   // redoing steps already done before the failure

  double total() const { return startup + detection + stop + rendezvous + restart + restore + recompute; }
};

struct GoodputReport {
  double wall_seconds = 0;        // job_start -> job_end (or the last event)
  double productive_seconds = 0;  // wall less every loss
  double effective_ratio = 0;     // productive / wall (0 when wall is 0)
  LostTime lost;
  int restarts = 0;                              // rounds formed after the first
  int failures = 0;                              // rounds ended by a failure
  std::map<std::string, int> failures_by_cause;  // "exit", "signal", "hung", "node_lost", "store_lost"
  int64_t recomputed_steps = 0;
  bool steps_reported = false;  // false: the ranks never called step(); productive time is not measured
  // One entry per failure that a new round followed, in order: what that
  // recovery cost (startup 0), the parts of `lost` that `myriad plan` averages.
  std::vector<LostTime> recoveries;
  // Checkpoints (snapshot_taken): steps saved, the mean over them of the
  // slowest rank's blocking seconds, and the mean compute time between two
  // checkpoints of one round (0 when no round saved twice).
  int checkpoints = 0;
  double checkpoint_blocking_seconds = 0;
  double checkpoint_interval_seconds = 0;
};

// What read_events() does with a whole line that is not an event (JSON
// with "event" and "t"): skip it with a warning, or throw
// Error(Corruption) naming path:line. A torn last line (no newline: a
// writer killed mid-line) is skipped with a warning either way.
enum class BadLine { kSkip, kThrow };

// The events of the ledger at `path`, in file order.
std::vector<nlohmann::json> read_events(const std::string& path, BadLine bad_line = BadLine::kSkip);

// Accounts for the events (any order; sorted by "t" here).
GoodputReport summarize(const std::vector<nlohmann::json>& unsorted);

// A few lines for the end of a run: ratio, restarts, failures by cause,
// and the lost seconds by cause.
std::string format_report(const GoodputReport& report);

}  // namespace myriad::elastic
