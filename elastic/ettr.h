// The effective-training-time-ratio (ETTR) model behind `myriad plan`: how
// much of a job's wall time trains, given how often it fails, how long a
// checkpoint blocks training, and how long a recovery takes; and the
// checkpoint interval that maximises it. Formulas and the published
// failure rates the defaults come from are in docs/planning.md.
//
// The model (Daly 2006, section 3, for failures that arrive as a Poisson
// process with mean time between failures M, over the whole job):
//   s = interval + save          one segment: compute, then the blocking save
//   n = e^(s/M) - 1              expected failures before a segment completes
//   recompute = M - s/n          expected work lost per failure (about s/2)
//   recovery  = M (e^(R/M) - 1)  R, the recovery components summed, plus the
//                                time lost to failures during the recovery
//   wall per segment W = s + n (recompute + recovery)   (= M n e^(R/M))
//   ETTR = interval / W
//
// Pure functions of their arguments; thread-safe. All times are seconds. A
// job that never fails has M = infinity (ETTR = interval / (interval +
// save)). Arguments out of range (a negative time, M <= 0, an interval <= 0)
// throw Error(InvalidArgument) naming the argument; callers check the
// user's input first to name the flag.
#pragma once

#include <optional>

namespace myriad::elastic {

// What one recovery costs, in seconds, by component (docs/elastic.md's
// goodput ledger measures each): from the fault to training again at the
// last checkpoint's step.
struct RecoveryTime {
  double detection = 0;   // fault -> the agent knows
  double stop = 0;        // -> every worker of the round reaped
  double rendezvous = 0;  // -> the next round formed
  double restart = 0;     // -> first step, less the restore (launch, import, init)
  double restore = 0;     // loading the checkpoint

  double total() const { return detection + stop + rendezvous + restart + restore; }
};

struct EttrInputs {
  double mtbf_seconds = 0;  // the job's mean time between failures (wall clock); infinity: never fails
  double save_seconds = 0;  // training blocked per checkpoint
  RecoveryTime recovery;
  // Work redone per failure. Unset: derived from the interval (about half
  // a segment); set: this fixed amount whatever the interval.
  std::optional<double> recompute_seconds;
};

// Where the wall time goes at one checkpoint interval.
struct EttrEstimate {
  double interval_seconds = 0;  // compute time between two checkpoints
  double ettr = 0;              // training that moves forward / wall time
  double save_fraction = 0;     // of the wall time, blocked in saves (failed segments' saves not counted)
  double failure_fraction = 0;  // of the wall time, lost to failures; ettr + save + failure = 1
  double failures_per_day = 0;
  // Per failure, seconds: the recovery components (as given), the time
  // lost to further failures during the recovery, and the work redone.
  RecoveryTime recovery;
  double failures_during_recovery = 0;
  double recompute = 0;
  double lost_per_failure() const { return recovery.total() + failures_during_recovery + recompute; }
};

// Young (1974): sqrt(2 save M), the first-order optimum. Infinity when M is.
double young_interval(double save_seconds, double mtbf_seconds);

// Daly (2006), the higher-order estimate: sqrt(2 d M) [1 + sqrt(d/2M)/3 + (d/2M)/9] - d for
// d < 2M, else M. Infinity when M is.
double daly_interval(double save_seconds, double mtbf_seconds);

// The model above at `interval_seconds` (> 0, finite).
EttrEstimate estimate_ettr(const EttrInputs& inputs, double interval_seconds);

// The interval that maximises estimate_ettr(), found numerically (the
// function is unimodal in the interval); what Daly's formula approximates
// when the recompute is derived. Infinity when M is.
double best_interval(const EttrInputs& inputs);

}  // namespace myriad::elastic
