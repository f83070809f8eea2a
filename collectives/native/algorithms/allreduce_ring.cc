// Ring allreduce: a reduce-scatter pass then an allgather pass around the
// ring of all ranks, run as one pipelined wavefront (ring_pass.h).
// Bandwidth-optimal (each rank sends 2(n-1)/n of the vector) at the price
// of 2(n-1) latencies: the choice for large vectors on one link class.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/group_allreduce.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class AllreduceRing final : public BuiltinAlgorithm {
 public:
  AllreduceRing() : BuiltinAlgorithm("ring", {OpKind::Allreduce}) {}

  Schedule build(const CollectiveArgs& args) const override { return build_source(args).to_schedule(); }

  ScheduleSource build_source(const CollectiveArgs& args) const override {
    ScheduleSource source("ring");
    append_ring_allreduce(source, all_ranks(args.size), args.rank, args.count, args.element_bytes,
                          {BufferId::Input, 0}, {BufferId::Output, 0});
    return source;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const double bytes = static_cast<double>(args.count * args.element_bytes);
    if (args.size == 1) return copy_seconds(model, bytes);
    const uint64_t chunk = (args.count + args.size - 1) / args.size * args.element_bytes;
    // One wavefront of 2(n-1) steps; reductions happen in the first half only.
    const LinkCost link = flat_link(args, model);
    return ring_pass_seconds(2 * (args.size - 1), args.size - 1, static_cast<double>(chunk), link, model);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allreduce_ring() {
  return std::make_unique<AllreduceRing>();
}

}  // namespace myriad
