// Shared pieces of the built-in algorithms.
#include "collectives/native/algorithms/common.h"

#include <algorithm>

#include "collectives/native/algorithms/layout.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {

bool BuiltinAlgorithm::supports(const CollectiveArgs& args) const {
  return collective_args_valid(args) && std::find(kinds_.begin(), kinds_.end(), args.kind) != kinds_.end();
}

std::vector<int> all_ranks(int size) {
  std::vector<int> ranks(size);
  for (int r = 0; r < size; ++r) ranks[r] = r;
  return ranks;
}

std::vector<uint64_t> rank_counts(const CollectiveArgs& args) {
  if (args.kind == OpKind::Allgatherv || args.kind == OpKind::ReduceScatterv) return args.counts;
  return std::vector<uint64_t>(args.size, args.count);
}

ChunkLayout layout_of(const CollectiveArgs& args) {
  if (args.kind == OpKind::Allgatherv || args.kind == OpKind::ReduceScatterv) {
    return ChunkLayout::listed(blocks_of(args.counts));
  }
  // n blocks of `count`: even_blocks of n * count splits exactly so.
  return ChunkLayout::even(args.count * static_cast<uint64_t>(args.size), args.size);
}

LinkCost flat_link(const CollectiveArgs& args, const CostModel& model) {
  return model.link(args.topology->widest_link());
}

double copy_seconds(const CostModel& model, double bytes) {
  return model.message(LinkClass::Self, bytes);
}

double ring_pass_seconds(int steps, int reduce_steps, double chunk_bytes, const LinkCost& link,
                         const CostModel& model) {
  if (steps <= 0 || chunk_bytes <= 0) return 0;
  // The wavefront holds steps + slices - 1 rounds, each paying a latency.
  // Every step moves a whole chunk over the same link, so the bytes add up;
  // reductions overlap the transfers of other slices, except for one slice's
  // worth (with one slice, nothing overlaps).
  const int slices = ring_slices(static_cast<uint64_t>(chunk_bytes));
  const double transfer = steps * chunk_bytes * link.beta;
  const double reduce = reduce_steps * chunk_bytes * model.gamma();
  return (steps + slices - 1) * link.alpha + std::max(transfer, reduce) + std::min(transfer, reduce) / slices;
}

double recursive_doubling_seconds(int members, double bytes, const LinkCost& link, const CostModel& model) {
  if (members <= 1 || bytes <= 0) return 0;
  const int levels = ceil_log2(floor_pow2(members));
  const double exchange = link.alpha + bytes * link.beta + bytes * model.gamma();
  const bool folded = floor_pow2(members) != members;
  // The fold adds a reduced transfer before and a plain one after.
  return levels * exchange + (folded ? exchange + link.alpha + bytes * link.beta : 0.0);
}

}  // namespace myriad
