// Rabenseifner's allreduce: recursive halving reduce-scatter, then
// recursive doubling allgather, among the largest power of two of ranks
// (the others fold into partners first and get the result at the end).
// 2*log2(n) latencies and 2(n-1)/n of the vector sent per rank: between
// recursive doubling and the ring, and the usual choice for mid sizes.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/group_allreduce.h"

namespace myriad {
namespace {

class AllreduceRabenseifner final : public BuiltinAlgorithm {
 public:
  AllreduceRabenseifner() : BuiltinAlgorithm("rabenseifner", {OpKind::Allreduce}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "rabenseifner";
    const size_t eb = args.element_bytes;
    const Region in{BufferId::Input, 0};
    const Region out{BufferId::Output, 0};
    const Block all{0, args.count};
    if (args.count == 0) return schedule;
    if (args.size == 1) {
      add_round(schedule).steps.push_back(copy_step(span_at(in, all, eb), span_at(out, all, eb)));
      return schedule;
    }
    const Fold fold(args.size);
    const int me = fold.survivor(args.rank);
    if (me < 0) {
      add_round(schedule).steps.push_back(send_step(args.rank + 1, span_at(in, all, eb)));
      add_round(schedule).steps.push_back(recv_step(args.rank + 1, span_at(out, all, eb)));
      return schedule;
    }
    // Partial sums go to Output from the first write: each round writes only
    // the half this rank keeps and sends the other half, so in place works.
    Region current = in;
    if (args.rank < 2 * fold.extra) {
      add_round(schedule).steps.push_back(
          recv_reduce_step(args.rank - 1, span_at(out, all, eb), span_at(in, all, eb)));
      current = out;
    }
    const std::vector<Block> blocks = even_blocks(args.count, fold.p2);
    int lo = 0;
    int hi = fold.p2;
    for (int distance = fold.p2 / 2; distance >= 1; distance /= 2) {
      const int partner = fold.member(me ^ distance);
      const int mid = lo + distance;
      const bool upper = (me & distance) != 0;
      const Block keep = upper ? merge_blocks(blocks, mid, hi) : merge_blocks(blocks, lo, mid);
      const Block give = upper ? merge_blocks(blocks, lo, mid) : merge_blocks(blocks, mid, hi);
      Round& round = add_round(schedule);
      if (give.count > 0) round.steps.push_back(send_step(partner, span_at(current, give, eb)));
      if (keep.count > 0) {
        round.steps.push_back(recv_reduce_step(partner, span_at(out, keep, eb), span_at(current, keep, eb)));
      }
      if (round.steps.empty()) schedule.rounds.pop_back();
      (upper ? lo : hi) = mid;
      current = out;
    }
    for (int distance = 1; distance < fold.p2; distance *= 2) {
      const int partner_index = me ^ distance;
      const int mine = me & ~(distance - 1);
      const int theirs = partner_index & ~(distance - 1);
      const Block have = merge_blocks(blocks, mine, mine + distance);
      const Block get = merge_blocks(blocks, theirs, theirs + distance);
      Round& round = add_round(schedule);
      if (have.count > 0)
        round.steps.push_back(send_step(fold.member(partner_index), span_at(out, have, eb)));
      if (get.count > 0) round.steps.push_back(recv_step(fold.member(partner_index), span_at(out, get, eb)));
      if (round.steps.empty()) schedule.rounds.pop_back();
    }
    if (args.rank < 2 * fold.extra) {
      add_round(schedule).steps.push_back(send_step(args.rank - 1, span_at(out, all, eb)));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const double bytes = static_cast<double>(args.count * args.element_bytes);
    if (args.size == 1) return copy_seconds(model, bytes);
    const LinkCost link = flat_link(args, model);
    const Fold fold(args.size);
    const int levels = ceil_log2(fold.p2);
    const double share = bytes * (fold.p2 - 1) / fold.p2;
    double seconds = 2 * levels * link.alpha + 2 * share * link.beta + share * model.gamma();
    if (fold.extra > 0) seconds += 2 * (link.alpha + bytes * link.beta) + bytes * model.gamma();
    return seconds;
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allreduce_rabenseifner() {
  return std::make_unique<AllreduceRabenseifner>();
}

}  // namespace myriad
