// What the built-in algorithms share: a base holding the name and the op
// kinds an algorithm implements, per-rank block counts, and the link terms
// of the cost formulas.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {

class BuiltinAlgorithm : public Algorithm {
 public:
  BuiltinAlgorithm(std::string_view name, std::vector<OpKind> kinds)
      : name_(name), kinds_(std::move(kinds)) {}
  std::string_view name() const override { return name_; }
  // Valid arguments (collective_args_valid) of one of the kinds.
  bool supports(const CollectiveArgs& args) const override;

 private:
  std::string name_;
  std::vector<OpKind> kinds_;
};

// 0..n-1.
std::vector<int> all_ranks(int size);
// Element count of each rank's block: counts for the `v` kinds (allgatherv,
// reduce_scatterv), `count` for every rank otherwise.
std::vector<uint64_t> rank_counts(const CollectiveArgs& args);
// The same blocks back to back as a ChunkLayout: computed per index for the
// non-`v` kinds (O(1) memory at any size), listed for the `v` ones.
ChunkLayout layout_of(const CollectiveArgs& args);
// The link a flat algorithm's slowest message crosses (Topology::widest_link).
LinkCost flat_link(const CollectiveArgs& args, const CostModel& model);
// Seconds to copy `bytes` locally.
double copy_seconds(const CostModel& model, double bytes);
// Seconds of a pipelined ring pass of `steps` steps over chunks of at most
// `chunk_bytes`, the first `reduce_steps` of which reduce what they receive.
double ring_pass_seconds(int steps, int reduce_steps, double chunk_bytes, const LinkCost& link,
                         const CostModel& model);
// Seconds of a recursive-doubling allreduce of `bytes` among `members`.
double recursive_doubling_seconds(int members, double bytes, const LinkCost& link, const CostModel& model);

}  // namespace myriad
