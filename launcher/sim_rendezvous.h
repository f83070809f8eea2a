// `myriad sim --rendezvous N`: the control plane's cost of one rendezvous
// round at N agents, measured rather than modelled. N threads run the real
// elastic::Rendezvous (the code `myriad agent` runs) against one in-process
// MemoryStore, each through its own metering wrapper, and the command
// prints the store operations per agent (most and median of the joiners),
// the closer's, the total, the keys the store holds after the round, the
// bytes moved, one monitor pass's operations and the wall time.
//
// The threads share two cores here, so the wall time is this machine's,
// not a cluster's; the operation counts are the protocol's whatever the
// machine. Thread-safe to call once at a time (it owns every thread it starts).
#pragma once

namespace myriad::launcher {

struct RendezvousSimOptions {
  int agents = 0;  // N; the round takes min = max = N, so it closes when the N-th agent comes
};

// Prints the table (or one JSON object) and returns the exit code: 0 when
// the round formed with every agent, 1 otherwise. Throws
// Error(InvalidArgument) for N below 2.
int simulate_rendezvous(const RendezvousSimOptions& options, bool json);

}  // namespace myriad::launcher
