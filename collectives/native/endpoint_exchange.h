// Endpoint exchange: how the ranks of a new native communicator find and
// reach each other.
//
// Every rank publishes through the communicator's store, in two phases, its
// pid, host identity (host name and boot id: ranks of emulated nodes on one
// machine share it) and usable cores, then each transport's address; it
// reads every other rank's. Ranks of its node (Topology) are reached over
// shared memory, the others over TCP (MYRIAD_TCP_HOST: the address to
// listen on). When this machine runs more ranks of the communicator than
// the cores they may use, waiters poll yielding the core
// (kOversubscribedSpin) instead of spinning.
//
// Collective: every rank of the communicator calls connect_transports()
// with the same context. Throws the store's errors and Error(Timeout)
// naming the peers not reached by context.timeout; on a throw nothing is
// left open (the transports made so far are destroyed). Not thread-safe;
// the result is owned by the caller.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "collectives/backend.h"
#include "collectives/native/executor.h"
#include "collectives/native/topology.h"
#include "collectives/native/transport.h"

namespace myriad {

struct NativeLinks {
  std::unique_ptr<Transport> shm;        // null when no peer shares this node
  std::unique_ptr<Transport> tcp;        // null when every peer does
  std::vector<Transport*> transport_of;  // the transport of each rank; null for this rank
  // The executor's waiting policy for this host (executor.h).
  std::chrono::nanoseconds spin = kExecutorSpin;
  bool yield = false;
};

// The communicator's ranks by node, from the World's node ids.
Topology communicator_topology(const BackendContext& context);

NativeLinks connect_transports(const BackendContext& context, const Topology& topology);

}  // namespace myriad
