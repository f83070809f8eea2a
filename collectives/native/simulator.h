// Simulator: runs every rank's schedule of one collective in one process,
// over in-memory buffers and the cost model.
//
// It matches each Send with the Recv its peer posts for the same ordered
// pair, in posting order, and fails on a byte-count mismatch; it checks
// every round statically (schedule_check.h: bounds, whole elements, no
// write to Input, no intra-round hazard, in-place aliasing included); it
// moves and reduces real data (unsigned wrapping sums, simulator_data.h) and
// compares every rank's result with a reference computed from the inputs
// (for a barrier: that every rank heard from every other before leaving);
// and it reports a deadlock when no rank can move while steps remain. A
// send completes only once its receive is posted, as with bounded
// transport buffers, so a schedule that relies on buffering deadlocks here.
//
// Time is a discrete-event estimate: a rank starts a round when it ended
// the previous one; its sends leave one after another (each occupying its
// link for bytes*beta); a message moves once both ends have posted it and
// takes alpha + bytes*beta of the link between the pair; a rank takes in
// its receives one after another; reductions add bytes*gamma and local
// copies the Self link's cost. The estimate is the time the last rank ends.
//
// simulate() never throws for a faulty schedule: it returns the first
// problem in SimulationResult::error. It throws Error(InvalidArgument) only
// for arguments it cannot simulate (a topology of another size).
// Thread-safety: independent calls may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/cost_model.h"
#include "collectives/native/schedule.h"
#include "collectives/native/topology.h"

namespace myriad {

struct SimulationOptions {
  bool check_data = true;  // move real bytes and compare with the reference
  bool in_place = false;   // bind Input and Output as schedule.h's in-place layouts
  uint64_t seed = 1;       // of the pseudo-random inputs
};

struct SimulationResult {
  bool ok = false;
  std::string error;            // the first problem found; empty when ok
  double seconds = 0;           // estimated completion time of the slowest rank
  uint64_t messages = 0;        // messages matched
  uint64_t bytes = 0;           // bytes moved between ranks
  size_t max_rounds = 0;        // most rounds of any rank's schedule (rounds run; all of them when ok)
  uint64_t max_rank_bytes = 0;  // most bytes one rank sent
};

// Builds every rank's schedule with `algorithm` (base.rank and
// base.topology are set per rank; Algorithm::build_source, so a ring's
// rounds are computed as they run) and runs them.
//
// Memory: the schedules take O(n) in all for the rings and pairwise
// alltoall (generated), O(n log n) for the logarithmic algorithms (listed);
// the engine O(n) plus, for a barrier, n^2 bits of who-heard-whom; with
// check_data each rank's Input, Output and Scratch (buffer_sizes), which is
// n times the per-rank vector: to check data flow at thousands of ranks,
// simulate a small count (docs/collectives.md, `myriad sim`).
SimulationResult simulate(const CollectiveArgs& base, const Algorithm& algorithm, const Topology& topology,
                          const CostModel& model, const SimulationOptions& options = {});

// Runs given schedules (schedules[r] is rank r's): for tests that build a
// faulty schedule by hand.
SimulationResult simulate_schedules(const CollectiveArgs& base, const std::vector<Schedule>& schedules,
                                    const Topology& topology, const CostModel& model,
                                    const SimulationOptions& options = {});

// Runs given sources (sources[r] is rank r's).
SimulationResult simulate_sources(const CollectiveArgs& base, std::vector<ScheduleSource> sources,
                                  const Topology& topology, const CostModel& model,
                                  const SimulationOptions& options = {});

}  // namespace myriad
