// Dissemination barrier: in round k every rank sends a zero-byte message to
// rank + 2^k and waits for one from rank - 2^k. After ceil(log2 n) rounds
// every rank has heard, directly or not, from every other, for any n.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class BarrierDissemination final : public BuiltinAlgorithm {
 public:
  BarrierDissemination() : BuiltinAlgorithm("dissemination", {OpKind::Barrier}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "dissemination";
    const Span none{BufferId::Scratch, 0, 0};
    for (int distance = 1; distance < args.size; distance *= 2) {
      Round& round = add_round(schedule);
      round.steps.push_back(send_step((args.rank + distance) % args.size, none));
      round.steps.push_back(recv_step((args.rank - distance + args.size) % args.size, none));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    return ceil_log2(args.size) * flat_link(args, model).alpha;
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_barrier_dissemination() {
  return std::make_unique<BarrierDissemination>();
}

}  // namespace myriad
