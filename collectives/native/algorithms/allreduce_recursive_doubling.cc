// Recursive doubling allreduce: log2(n) rounds, each exchanging the whole
// vector with the partner at distance 1, 2, 4, ...; a non-power-of-two
// count of ranks folds the extra ranks into partners first and unfolds at
// the end. Latency-optimal: the choice for small vectors.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/group_allreduce.h"

namespace myriad {
namespace {

class AllreduceRecursiveDoubling final : public BuiltinAlgorithm {
 public:
  AllreduceRecursiveDoubling() : BuiltinAlgorithm("recursive_doubling", {OpKind::Allreduce}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "recursive_doubling";
    const uint64_t bytes = args.count * args.element_bytes;
    // The scratch alternates with Output as the target of each exchange.
    schedule.scratch_bytes = args.size > 1 ? bytes : 0;
    append_recursive_doubling_allreduce(schedule, all_ranks(args.size), args.rank,
                                        {BufferId::Input, 0, bytes}, {BufferId::Output, 0, bytes},
                                        {BufferId::Scratch, 0, bytes});
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const double bytes = static_cast<double>(args.count * args.element_bytes);
    return recursive_doubling_seconds(args.size, bytes, flat_link(args, model), model) +
           copy_seconds(model, bytes);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allreduce_recursive_doubling() {
  return std::make_unique<AllreduceRecursiveDoubling>();
}

}  // namespace myriad
