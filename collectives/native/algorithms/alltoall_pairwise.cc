// Pairwise-exchange alltoall(v): in round k (1..n-1) a rank sends its block
// for rank + k and receives the block of rank - k, so every round is a
// permutation and no rank is a hot spot. Blocks land in Scratch and are
// copied to Output at the end: in place (Input is Output), a block received
// early would otherwise overwrite a block not sent yet.
#include <memory>
#include <utility>

#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

// Rounds 0..n-1 of the exchange, computed when asked for: O(1) memory
// for alltoall (its blocks are even), O(n) for alltoallv's block lists.
class PairwiseRounds final : public RoundGenerator {
 public:
  PairwiseRounds(int size, int rank, ChunkLayout sends, ChunkLayout recvs, size_t element_bytes)
      : size_(size), rank_(rank), sends_(std::move(sends)), recvs_(std::move(recvs)), eb_(element_bytes) {}

  size_t rounds() const override { return static_cast<size_t>(size_); }

  void fill(size_t index, Round& round) const override {
    const int k = static_cast<int>(index);
    const Region in{BufferId::Input, 0};
    const Region staged{BufferId::Scratch, 0};
    if (k == 0) {
      const Block own = sends_.at(rank_);
      if (own.count > 0)
        round.steps.push_back(copy_step(span_at(in, own, eb_), span_at(staged, recvs_.at(rank_), eb_)));
      return;
    }
    const int to = (rank_ + k) % size_;
    const int from = (rank_ - k + size_) % size_;
    const Block send = sends_.at(to);
    const Block recv = recvs_.at(from);
    if (send.count > 0) round.steps.push_back(send_step(to, span_at(in, send, eb_)));
    if (recv.count > 0) round.steps.push_back(recv_step(from, span_at(staged, recv, eb_)));
  }

 private:
  int size_;
  int rank_;
  ChunkLayout sends_;
  ChunkLayout recvs_;
  size_t eb_;
};

uint64_t layout_total(const ChunkLayout& layout) {
  if (layout.parts() == 0) return 0;
  const Block last = layout.at(layout.parts() - 1);
  return last.offset + last.count;
}

class AlltoallPairwise final : public BuiltinAlgorithm {
 public:
  AlltoallPairwise() : BuiltinAlgorithm("pairwise", {OpKind::Alltoall, OpKind::Alltoallv}) {}

  Schedule build(const CollectiveArgs& args) const override { return build_source(args).to_schedule(); }

  ScheduleSource build_source(const CollectiveArgs& args) const override {
    ScheduleSource source("pairwise");
    const int n = args.size;
    const int rank = args.rank;
    const size_t eb = args.element_bytes;
    ChunkLayout sends = ChunkLayout::even(args.count * static_cast<uint64_t>(n), n);
    ChunkLayout recvs = sends;
    if (args.kind == OpKind::Alltoallv) {
      std::vector<uint64_t> send_counts(n);
      std::vector<uint64_t> recv_counts(n);
      for (int j = 0; j < n; ++j) {
        send_counts[j] = args.counts[static_cast<size_t>(rank) * n + j];
        recv_counts[j] = args.counts[static_cast<size_t>(j) * n + rank];
      }
      sends = ChunkLayout::listed(blocks_of(send_counts));
      recvs = ChunkLayout::listed(blocks_of(recv_counts));
    }
    const uint64_t received = layout_total(recvs);
    if (received == 0 && layout_total(sends) == 0) return source;
    source.set_scratch_bytes(received * eb);
    source.add(std::make_unique<PairwiseRounds>(n, rank, sends, recvs, eb));
    if (received > 0) {
      add_round(source.listed())
          .steps.push_back(copy_step(span_at({BufferId::Scratch, 0}, {0, received}, eb),
                                     element_span(BufferId::Output, 0, received, eb)));
    }
    return source;
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
