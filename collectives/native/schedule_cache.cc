#include "collectives/native/schedule_cache.h"

#include <fmt/ranges.h>

#include <vector>

#include "collectives/native/collective_call.h"
#include "runtime/config.h"
#include "runtime/logging.h"

namespace myriad {

ScheduleCache::ScheduleCache() : selector_(Selector::from_env(Env::process())) {}

const Schedule& ScheduleCache::get(const CollectiveArgs& args, const std::string& algorithm_name,
                                   const ExecutorOp& op) {
  ShapeKey shape{args.kind, args.count, args.root, args.element_bytes, hash_counts(args.counts)};
  const Algorithm* algorithm = nullptr;
  const std::string* reason = nullptr;
  if (!algorithm_name.empty()) {
    algorithm = find_algorithm(args.kind, algorithm_name);
    if (algorithm == nullptr || !algorithm->supports(args)) {
      std::vector<std::string> names;
      for (const Algorithm* a : algorithms_for(args.kind)) {
        if (a->supports(args)) names.emplace_back(a->name());
      }
      raise(ErrorCode::InvalidArgument, "rank {}: {}: algorithm '{}' {}; accepted here: {}", args.rank,
            op.what(), algorithm_name,
            algorithm == nullptr ? "does not exist" : "does not support these arguments",
            fmt::join(names, ", "));
    }
    static const std::string kRequested = "requested by the caller";
    reason = &kRequested;
  } else {
    auto chosen = choices_.find(shape);
    if (chosen == choices_.end()) {
      if (choices_.size() >= kMaxCachedSchedules) choices_.clear();
      chosen = choices_.emplace(shape, selector_.select(args)).first;
    }
    algorithm = chosen->second.algorithm;
    reason = &chosen->second.reason;
  }
  ScheduleKey key{shape, algorithm};
  auto it = schedules_.find(key);
  if (it == schedules_.end()) {
    if (schedules_.size() >= kMaxCachedSchedules) schedules_.clear();
    it = schedules_.emplace(key, algorithm->build(args)).first;
  }
  MYRIAD_LOG_DEBUG("{}: {} ({})", op.what(), algorithm->name(), *reason);
  return it->second;
}

}  // namespace myriad
