// Recursive doubling allgather(v): at distance 1, 2, 4, ... a rank swaps
// everything it has with its partner, so log2(n) rounds suffice. A
// non-power-of-two count of ranks folds rank 2i's block into rank 2i+1
// first (survivors then hold contiguous runs of blocks) and sends the
// result back at the end. Latency-optimal: the choice for small blocks.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/group_allreduce.h"

namespace myriad {
namespace {

class AllgatherRecursiveDoubling final : public BuiltinAlgorithm {
 public:
  AllgatherRecursiveDoubling()
      : BuiltinAlgorithm("recursive_doubling", {OpKind::Allgather, OpKind::Allgatherv}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "recursive_doubling";
    const size_t eb = args.element_bytes;
    const std::vector<Block> blocks = blocks_of(rank_counts(args));
    const Region out{BufferId::Output, 0};
    const int rank = args.rank;
    const Span input = element_span(BufferId::Input, 0, blocks[rank].count, eb);
    const Fold fold(args.size);
    const int me = fold.survivor(rank);
    Round& first = add_round(schedule);
    if (input.bytes > 0) first.steps.push_back(copy_step(input, span_at(out, blocks[rank], eb)));
    const auto add = [](Round& round, Step step, uint64_t bytes) {
      if (bytes > 0) round.steps.push_back(step);
    };
    if (me < 0) {
      // Folded: hand the block over, then receive everything but it.
      add(first, send_step(rank + 1, input), input.bytes);
      Round& last = add_round(schedule);
      const Block before = merge_blocks(blocks, 0, rank);
      const Block after = merge_blocks(blocks, rank + 1, args.size);
      add(last, recv_step(rank + 1, span_at(out, before, eb)), before.count);
      add(last, recv_step(rank + 1, span_at(out, after, eb)), after.count);
    } else {
      if (rank < 2 * fold.extra) {
        add(first, recv_step(rank - 1, span_at(out, blocks[rank - 1], eb)), blocks[rank - 1].count);
      }
      // Survivor s holds the blocks of ranks [first_rank(s), first_rank(s + 1)).
      const auto first_rank = [&](int survivor) {
        return survivor == fold.p2 ? args.size
                                   : (survivor < fold.extra ? 2 * survivor : survivor + fold.extra);
      };
      for (int distance = 1; distance < fold.p2; distance *= 2) {
        const int mine = me & ~(distance - 1);
        const int theirs = (me ^ distance) & ~(distance - 1);
        const int partner = fold.member(me ^ distance);
        const Block have = merge_blocks(blocks, first_rank(mine), first_rank(mine + distance));
        const Block get = merge_blocks(blocks, first_rank(theirs), first_rank(theirs + distance));
        Round& round = add_round(schedule);
        add(round, send_step(partner, span_at(out, have, eb)), have.count);
        add(round, recv_step(partner, span_at(out, get, eb)), get.count);
      }
      if (rank < 2 * fold.extra) {
        Round& last = add_round(schedule);
        const Block before = merge_blocks(blocks, 0, rank - 1);
        const Block after = merge_blocks(blocks, rank, args.size);
        add(last, send_step(rank - 1, span_at(out, before, eb)), before.count);
        add(last, send_step(rank - 1, span_at(out, after, eb)), after.count);
      }
    }
    std::erase_if(schedule.rounds, [](const Round& round) { return round.steps.empty(); });
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const double total = static_cast<double>(total_count(blocks_of(rank_counts(args))) * args.element_bytes);
    const LinkCost link = flat_link(args, model);
    const Fold fold(args.size);
    double seconds = copy_seconds(model, total / args.size) + ceil_log2(fold.p2) * link.alpha +
                     total * (fold.p2 - 1) / fold.p2 * link.beta;
    if (fold.extra > 0) seconds += 2 * link.alpha + total * link.beta;
    return seconds;
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allgather_recursive_doubling() {
  return std::make_unique<AllgatherRecursiveDoubling>();
}

}  // namespace myriad
