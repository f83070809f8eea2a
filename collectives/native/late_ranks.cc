#include "collectives/native/late_ranks.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

#include "runtime/logging.h"

namespace myriad {

std::chrono::steady_clock::time_point LateRanks::check_in_time(std::chrono::steady_clock::time_point deadline,
                                                               std::chrono::milliseconds timeout) {
  return deadline - std::min(kCheckInLead, timeout / 2);
}

void LateRanks::check_in() {
  if (checked_in_) return;
  checked_in_ = true;
  try {
    context_.store->set(fmt::format("late/{}/{}", seq_, context_.rank), "");
  } catch (const Error& error) {
    MYRIAD_LOG_DEBUG("communicator {}: operation #{}: the store did not take the check-in: {}",
                     context_.comm_id, seq_, error.message());
  }
}

std::string LateRanks::late() try {
  check_in();
  std::vector<int> missing;
  for (int r = 0; r < context_.size(); ++r) {
    if (!context_.store->check({fmt::format("late/{}/{}", seq_, r)})) missing.push_back(r);
  }
  return missing.empty() ? std::string("none (all ranks arrived; a peer stalled)")
                         : fmt::format("{}", fmt::join(missing, ", "));
} catch (const Error& error) {
  return fmt::format("unknown (the store did not answer: {})", error.message());
}

}  // namespace myriad
