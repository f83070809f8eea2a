// Ring reduce-scatter(v): n-1 steps around the ring of all ranks; at each a
// rank adds its input to the partial sum it received and passes it on, so
// rank r ends with the sum of block r. Pipelined (ring_pass.h). Partial sums
// live in Scratch, never in Input (the caller's data) nor in Output (only
// block r's size).
#include <memory>
#include <utility>

#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class ReduceScatterRing final : public BuiltinAlgorithm {
 public:
  ReduceScatterRing() : BuiltinAlgorithm("ring", {OpKind::ReduceScatter, OpKind::ReduceScatterv}) {}

  Schedule build(const CollectiveArgs& args) const override { return build_source(args).to_schedule(); }

  ScheduleSource build_source(const CollectiveArgs& args) const override {
    ScheduleSource source("ring");
    const size_t eb = args.element_bytes;
    const ChunkLayout blocks = layout_of(args);
    const Region in{BufferId::Input, 0};
    const Span own = element_span(BufferId::Output, 0, blocks.at(args.rank).count, eb);
    if (args.size == 1) {
      if (own.bytes > 0)
        add_round(source.listed()).steps.push_back(copy_step(span_at(in, blocks.at(0), eb), own));
      return source;
    }
    const Block last = blocks.at(args.size - 1);
    source.set_scratch_bytes((last.offset + last.count) * eb);
    const int left = (args.rank + args.size - 1) % args.size;
    const int right = (args.rank + 1) % args.size;
    auto pass = std::make_unique<RingPass>(args.size, args.rank, left, right, blocks, eb);
    pass->reduce_scatter(in, {BufferId::Scratch, 0}, own);
    source.add(std::move(pass));
    return source;
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
