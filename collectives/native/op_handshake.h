// The start-of-op handshake of a native collective: before any data moves,
// every rank sends its operation descriptor (kind, dtype, count, reduction,
// root, sequence number, counts hash) to the next rank and compares it with
// the one the previous rank sent. Around the ring, every rank's call is
// compared with every other's, so a mismatch fails the operation on every
// rank (directly or through the peer that found it) instead of corrupting
// data or hanging.
//
// Runs on the caller's executor under the operation's deadline; a free
// function without state: thread-safety is the executor's.
#pragma once

#include "collectives/native/executor.h"
#include "collectives/types.h"

namespace myriad {

// Exchanges `descriptor` with the ring neighbours of `rank` (a no-op for one
// rank). Throws Error(InvalidArgument) "operation mismatch in sequence slot
// N: rank P called X, rank R called Y" when the previous rank's differs;
// Timeout and PeerFailure as the executor throws them.
void exchange_op_descriptor(Executor& executor, int rank, int size, const OpDescriptor& descriptor,
                            const ExecutorOp& op);

}  // namespace myriad
