// The native backend: Myriad's own engine over shared memory (ranks of one
// node) and TCP (ranks of different nodes).
//
// Construction is collective: every rank publishes its endpoints (pid,
// segment, listening address) through the communicator's store, connects
// to its peers, and waits until all are connected. Operations run on one
// progress thread in call order: each collective starts with a handshake in
// which every rank sends its operation descriptor to the next rank, so a
// mismatch is found before any data moves; then the schedule chosen by the
// selector runs on the executor. The first failure aborts the transports,
// which tells every peer, and fails every later operation (sticky).
//
// Thread-safety: as Backend.
#pragma once

#include <memory>

#include "collectives/backend.h"

namespace myriad {

std::unique_ptr<Backend> make_native_backend(const BackendContext& context);

}  // namespace myriad
