// ScheduleCache: the schedule of each distinct collective call shape of one
// native communicator, built once and reused.
//
// A training loop repeats a few shapes (op, count, root, element size,
// counts of a `v` variant); choosing an algorithm for a shape (the
// selector's cost model and the reason it writes down) and building its
// schedule happen on the first call of that shape only, keeping both off
// every later operation's path. A per-call algorithm bypasses the selector
// but shares the schedule cache. At most kMaxCachedSchedules shapes are
// kept: a stream of distinct shapes empties the cache, rather than growing it
// without bound.
//
// Not thread-safe: used by the thread running the communicator's operations
// (one at a time). A returned schedule stays valid until the next get().
// get() throws Error(InvalidArgument) for a per-call algorithm that does
// not exist or does not support the call, naming the accepted ones, and the
// selector's Error(NotSupported); the cache is unchanged then.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "collectives/native/algorithm.h"
#include "collectives/native/executor.h"
#include "collectives/native/schedule.h"
#include "collectives/native/selector.h"

namespace myriad {

inline constexpr size_t kMaxCachedSchedules = 256;

class ScheduleCache {
 public:
  // The selector comes from MYRIAD_ALGO and MYRIAD_TUNING_FILE (selector.h).
  ScheduleCache();

  // The schedule for `args`, by `algorithm` (empty: the selector's choice).
  // `op` names the operation in errors and in the debug log of the choice.
  const Schedule& get(const CollectiveArgs& args, const std::string& algorithm, const ExecutorOp& op);

 private:
  using ShapeKey = std::tuple<OpKind, uint64_t, int, size_t, uint64_t>;
  using ScheduleKey = std::pair<ShapeKey, const Algorithm*>;

  Selector selector_;
  std::map<ShapeKey, AlgorithmChoice> choices_;  // the selector's, per shape
  std::map<ScheduleKey, Schedule> schedules_;
};

}  // namespace myriad
