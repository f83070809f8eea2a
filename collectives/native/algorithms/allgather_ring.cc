// Ring allgather(v): n-1 steps around the ring of all ranks, each passing
// on the block received one step earlier. Pipelined (ring_pass.h).
// Bandwidth-optimal, n-1 latencies.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class AllgatherRing final : public BuiltinAlgorithm {
 public:
  AllgatherRing() : BuiltinAlgorithm("ring", {OpKind::Allgather, OpKind::Allgatherv}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "ring";
    const size_t eb = args.element_bytes;
    const std::vector<Block> blocks = blocks_of(rank_counts(args));
    const Region out{BufferId::Output, 0};
    const Span input = element_span(BufferId::Input, 0, blocks[args.rank].count, eb);
    // The own block is sent straight from Input at step 0, and copied into
    // place meanwhile (a no-op in place, where Input is that block).
    std::vector<Step> first;
    if (input.bytes > 0) first.push_back(copy_step(input, span_at(out, blocks[args.rank], eb)));
    const int left = (args.rank + args.size - 1) % args.size;
    const int right = (args.rank + 1) % args.size;
    append_ring_pass(schedule, left, right,
                     ring_allgather_steps(args.size, args.rank, blocks, out, input, eb),
                     ring_slices(largest_chunk_bytes(blocks, eb)), eb, first);
    return schedule;
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
