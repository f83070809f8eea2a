// Ring reduce-scatter(v): n-1 steps around the ring of all ranks; at each a
// rank adds its input to the partial sum it received and passes it on, so
// rank r ends with the sum of block r. Pipelined (ring_pass.h). Partial sums
// live in Scratch, never in Input (the caller's data) nor in Output (only
// block r's size).
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class ReduceScatterRing final : public BuiltinAlgorithm {
 public:
  ReduceScatterRing() : BuiltinAlgorithm("ring", {OpKind::ReduceScatter, OpKind::ReduceScatterv}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "ring";
    const size_t eb = args.element_bytes;
    const std::vector<Block> blocks = blocks_of(rank_counts(args));
    const Region in{BufferId::Input, 0};
    const Span own = element_span(BufferId::Output, 0, blocks[args.rank].count, eb);
    if (args.size == 1) {
      if (own.bytes > 0) add_round(schedule).steps.push_back(copy_step(span_at(in, blocks[0], eb), own));
      return schedule;
    }
    schedule.scratch_bytes = total_count(blocks) * eb;
    const int left = (args.rank + args.size - 1) % args.size;
    const int right = (args.rank + 1) % args.size;
    append_ring_pass(
        schedule, left, right,
        ring_reduce_scatter_steps(args.size, args.rank, blocks, in, {BufferId::Scratch, 0}, own, eb),
        ring_slices(largest_chunk_bytes(blocks, eb)), eb);
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const std::vector<Block> blocks = blocks_of(rank_counts(args));
    const double chunk = static_cast<double>(largest_chunk_bytes(blocks, args.element_bytes));
    if (args.size == 1) return copy_seconds(model, chunk);
    return ring_pass_seconds(args.size - 1, args.size - 1, chunk, flat_link(args, model), model);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_reduce_scatter_ring() {
  return std::make_unique<ReduceScatterRing>();
}

}  // namespace myriad
