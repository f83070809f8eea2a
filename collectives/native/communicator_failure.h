// CommunicatorFailure: the sticky failure of one native communicator.
//
// The first error of any of its operations (a peer's death, a timeout, a
// mismatch, an abort) is kept: it fails the operation it happened in, every
// operation pending beside it, and every later one, each exactly once, with
// that error. Recording it also aborts the communicator's transports, which
// tells every peer at once (they fail with this rank's reason instead of
// waiting for their timeout) and makes every request posted to them
// complete-or-failed, so that their memory may be released.
//
// Thread-safety: record(), adopt(), failed() and error() on the thread that
// runs the communicator's operations only (the progress thread, or a caller
// it lends one to, one at a time); abort_transports() from any thread. The
// transports must outlive this object.
#pragma once

#include <atomic>
#include <exception>
#include <string>
#include <vector>

#include "collectives/native/transport.h"
#include "runtime/error.h"

namespace myriad {

class CommunicatorFailure {
 public:
  CommunicatorFailure(std::string comm_id, std::vector<Transport*> transports)
      : comm_id_(std::move(comm_id)), transports_(std::move(transports)) {}

  bool failed() const { return error_ != nullptr; }
  // The recorded error; null while none.
  const std::exception_ptr& error() const { return error_; }

  // Records `error` unless an error is recorded already (the first one
  // stays) and aborts the transports with it; returns the recorded error,
  // the one every pending operation must fail with.
  const std::exception_ptr& record(const std::exception_ptr& error);
  // Records `error` unless one is recorded, without touching the
  // transports (already aborted by abort_transports()).
  void adopt(std::exception_ptr error);

  // Aborts the transports with `reason` (Transport::abort); the first call
  // only, returning whether this was it.
  bool abort_transports(const Error& reason);

 private:
  std::string comm_id_;
  std::vector<Transport*> transports_;
  std::exception_ptr error_;
  std::atomic<bool> aborted_{false};
};

}  // namespace myriad
