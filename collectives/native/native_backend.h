// The native backend: Myriad's own engine over shared memory (ranks of one
// node) and TCP (ranks of different nodes).
//
// Construction is collective: every rank publishes its endpoints (pid,
// segment, listening address) through the communicator's store, connects
// to its peers, and waits until all are connected (endpoint_exchange.h).
// Operations run on one progress thread in call order (progress_thread.h;
// a caller waiting on the next collective runs it itself). Each collective
// starts with a handshake in which every rank sends its operation
// descriptor to the next rank, so a mismatch is found before any data moves
// (op_handshake.h); then the schedule chosen by the selector for that call
// shape (schedule_cache.h) runs on the executor. Point-to-point operations
// run in batches (point_to_point.h). The first failure aborts the
// transports, which tells every peer, and fails every pending and later
// operation once (sticky, communicator_failure.h); a timeout names the
// ranks that never reached the operation (late_ranks.h).
//
// Thread-safety: as Backend.
#pragma once

#include <memory>

#include "collectives/backend.h"

namespace myriad {

std::unique_ptr<Backend> make_native_backend(const BackendContext& context);

}  // namespace myriad
