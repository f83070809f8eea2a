#include "collectives/native/communicator_failure.h"

#include <utility>

#include "runtime/logging.h"

namespace myriad {

const std::exception_ptr& CommunicatorFailure::record(const std::exception_ptr& error) {
  if (error_) return error_;
  error_ = error;
  Error reason(ErrorCode::Internal, "failed without an error");
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    reason = e;
  } catch (const std::exception& e) {
    // Not an environment failure but a bug (bad_alloc aside): the peers
    // still must not wait for this rank, and the transports must let go of
    // the requests they hold.
    reason = Error(ErrorCode::Internal, e.what());
  } catch (...) {
  }
  MYRIAD_LOG_DEBUG("communicator {}: failed: {}", comm_id_, reason.what());
  // Peers learn of the failure now rather than at their timeout.
  for (Transport* t : transports_) t->abort(reason);
  return error_;
}

void CommunicatorFailure::adopt(std::exception_ptr error) {
  if (!error_) error_ = std::move(error);
}

bool CommunicatorFailure::abort_transports(const Error& reason) {
  if (aborted_.exchange(true)) return false;
  for (Transport* t : transports_) t->abort(reason);
  return true;
}

}  // namespace myriad
