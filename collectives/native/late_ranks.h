// LateRanks: which ranks never reached a timed-out collective.
//
// The transports only know which peer a rank waited on, and that peer may
// itself be waiting on the rank that never came. So a rank still waiting
// shortly before its deadline (kCheckInLead, at most half the timeout)
// records in the store that it reached the operation; when the deadline
// passes, the ranks without a record are the ones that never came, and the
// timeout error names them at once, without waiting for the others to time
// out too. Operations that finish in time never touch the store.
//
// One object per operation, used by the thread that runs it. The store's
// failures never escape: a check-in the store did not take is logged, and
// late() then says the store did not answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "collectives/backend.h"

namespace myriad {

// How long before its deadline a rank still waiting checks in.
inline constexpr std::chrono::milliseconds kCheckInLead{1'000};

class LateRanks {
 public:
  // `context` must outlive this object.
  LateRanks(const BackendContext& context, uint64_t seq) : context_(context), seq_(seq) {}

  // When a rank waiting on an operation with `timeout` checks in.
  static std::chrono::steady_clock::time_point check_in_time(std::chrono::steady_clock::time_point deadline,
                                                             std::chrono::milliseconds timeout);

  // Records that this rank reached the operation; only the first call writes.
  void check_in();
  // After a timeout: "1, 3" (the ranks without a record), "none (...)" or
  // "unknown (...)".
  std::string late();

 private:
  const BackendContext& context_;
  uint64_t seq_;
  bool checked_in_ = false;
};

}  // namespace myriad
