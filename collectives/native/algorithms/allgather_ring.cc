// Ring allgather(v): n-1 steps around the ring of all ranks, each passing
// on the block received one step earlier. Pipelined (ring_pass.h).
// Bandwidth-optimal, n-1 latencies.
#include <memory>
#include <utility>

#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class AllgatherRing final : public BuiltinAlgorithm {
 public:
  AllgatherRing() : BuiltinAlgorithm("ring", {OpKind::Allgather, OpKind::Allgatherv}) {}

  Schedule build(const CollectiveArgs& args) const override { return build_source(args).to_schedule(); }

  ScheduleSource build_source(const CollectiveArgs& args) const override {
    ScheduleSource source("ring");
    const size_t eb = args.element_bytes;
    const ChunkLayout blocks = layout_of(args);
    const Region out{BufferId::Output, 0};
    const Block own = blocks.at(args.rank);
    const Span input = element_span(BufferId::Input, 0, own.count, eb);
    // The own block is sent straight from Input at step 0, and copied into
    // place meanwhile (a no-op in place, where Input is that block).
    std::vector<Step> first;
    if (input.bytes > 0) first.push_back(copy_step(input, span_at(out, own, eb)));
    const int left = (args.rank + args.size - 1) % args.size;
    const int right = (args.rank + 1) % args.size;
    auto pass = std::make_unique<RingPass>(args.size, args.rank, left, right, blocks, eb);
    pass->allgather(out, input).first_round(std::move(first));
    source.add(std::move(pass));
    return source;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const std::vector<Block> blocks = blocks_of(rank_counts(args));
    const double chunk = static_cast<double>(largest_chunk_bytes(blocks, args.element_bytes));
    return copy_seconds(model, chunk) +
           ring_pass_seconds(args.size - 1, 0, chunk, flat_link(args, model), model);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allgather_ring() {
  return std::make_unique<AllgatherRing>();
}

}  // namespace myriad
