// Pairwise-exchange alltoall(v): in round k (1..n-1) a rank sends its block
// for rank + k and receives the block of rank - k, so every round is a
// permutation and no rank is a hot spot. Blocks land in Scratch and are
// copied to Output at the end: in place (Input is Output), a block received
// early would otherwise overwrite a block not sent yet.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class AlltoallPairwise final : public BuiltinAlgorithm {
 public:
  AlltoallPairwise() : BuiltinAlgorithm("pairwise", {OpKind::Alltoall, OpKind::Alltoallv}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "pairwise";
    const int n = args.size;
    const int rank = args.rank;
    const size_t eb = args.element_bytes;
    std::vector<uint64_t> send_counts(n, args.count);
    std::vector<uint64_t> recv_counts(n, args.count);
    if (args.kind == OpKind::Alltoallv) {
      for (int j = 0; j < n; ++j) {
        send_counts[j] = args.counts[static_cast<size_t>(rank) * n + j];
        recv_counts[j] = args.counts[static_cast<size_t>(j) * n + rank];
      }
    }
    const std::vector<Block> sends = blocks_of(send_counts);
    const std::vector<Block> recvs = blocks_of(recv_counts);
    const uint64_t received = total_count(recvs);
    if (received == 0 && total_count(sends) == 0) return schedule;
    const Region in{BufferId::Input, 0};
    const Region staged{BufferId::Scratch, 0};
    schedule.scratch_bytes = received * eb;
    for (int k = 0; k < n; ++k) {
      Round& round = add_round(schedule);
      const int to = (rank + k) % n;
      const int from = (rank - k + n) % n;
      if (k == 0) {
        if (sends[rank].count > 0) {
          round.steps.push_back(copy_step(span_at(in, sends[rank], eb), span_at(staged, recvs[rank], eb)));
        }
        continue;
      }
      if (sends[to].count > 0) round.steps.push_back(send_step(to, span_at(in, sends[to], eb)));
      if (recvs[from].count > 0) round.steps.push_back(recv_step(from, span_at(staged, recvs[from], eb)));
    }
    if (received > 0) {
      add_round(schedule).steps.push_back(
          copy_step(span_at(staged, {0, received}, eb), element_span(BufferId::Output, 0, received, eb)));
    }
    std::erase_if(schedule.rounds, [](const Round& round) { return round.steps.empty(); });
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const double total = static_cast<double>(collective_bytes(args));
    const double per_rank = total / args.size;
    const LinkCost link = flat_link(args, model);
    return (args.size - 1) * link.alpha + per_rank * (args.size - 1) / args.size * link.beta +
           2 * copy_seconds(model, per_rank);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_alltoall_pairwise() {
  return std::make_unique<AlltoallPairwise>();
}

}  // namespace myriad
