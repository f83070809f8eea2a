// Linear scatter: the root sends every rank its block directly, in one
// round. One latency; the root's link carries all n-1 blocks.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class ScatterLinear final : public BuiltinAlgorithm {
 public:
  ScatterLinear() : BuiltinAlgorithm("linear", {OpKind::Scatter}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "linear";
    if (args.count == 0) return schedule;
    const size_t eb = args.element_bytes;
    const Span output = element_span(BufferId::Output, 0, args.count, eb);
    Round& round = add_round(schedule);
    if (args.rank != args.root) {
      round.steps.push_back(recv_step(args.root, output));
      return schedule;
    }
    for (int rank = 0; rank < args.size; ++rank) {
      const Span block =
          element_span(BufferId::Input, static_cast<uint64_t>(rank) * args.count, args.count, eb);
      round.steps.push_back(rank == args.root ? copy_step(block, output) : send_step(rank, block));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const LinkCost link = flat_link(args, model);
    const double block = static_cast<double>(args.count * args.element_bytes);
    return link.alpha + (args.size - 1) * block * link.beta + copy_seconds(model, block);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_scatter_linear() {
  return std::make_unique<ScatterLinear>();
}

}  // namespace myriad
