// Linear gather: every rank sends its block straight to the root, which
// receives them all in one round. One latency, but the root's link carries
// all n-1 blocks: good for few ranks or small blocks.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class GatherLinear final : public BuiltinAlgorithm {
 public:
  GatherLinear() : BuiltinAlgorithm("linear", {OpKind::Gather}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "linear";
    if (args.count == 0) return schedule;
    const size_t eb = args.element_bytes;
    const Span input = element_span(BufferId::Input, 0, args.count, eb);
    Round& round = add_round(schedule);
    if (args.rank != args.root) {
      round.steps.push_back(send_step(args.root, input));
      return schedule;
    }
    for (int rank = 0; rank < args.size; ++rank) {
      const Span block =
          element_span(BufferId::Output, static_cast<uint64_t>(rank) * args.count, args.count, eb);
      round.steps.push_back(rank == args.root ? copy_step(input, block) : recv_step(rank, block));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const LinkCost link = flat_link(args, model);
    const double block = static_cast<double>(args.count * args.element_bytes);
    // The root takes the blocks in one after another on its link.
    return link.alpha + (args.size - 1) * block * link.beta + copy_seconds(model, block);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_gather_linear() {
  return std::make_unique<GatherLinear>();
}

}  // namespace myriad
