// Lanes of the hierarchical algorithms.
#include "collectives/native/algorithms/lanes.h"

namespace myriad {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

Lanes::Lanes(const Topology& topology) : topology_(topology), lanes_(topology.max_ranks_per_node()) {}

std::pair<int, int> Lanes::lanes_of(int rank) const {
  const int64_t m = static_cast<int64_t>(topology_.ranks_of_node(topology_.node_of(rank)).size());
  const int64_t i = topology_.local_index(rank);
  return {static_cast<int>(ceil_div(i * lanes_, m)), static_cast<int>(ceil_div((i + 1) * lanes_, m))};
}

std::vector<int> Lanes::group(int lane) const {
  std::vector<int> members(topology_.num_nodes());
  for (int node = 0; node < topology_.num_nodes(); ++node) {
    const std::vector<int>& ranks = topology_.ranks_of_node(node);
    // The owner is the local rank i with ceil(i*B/m) <= lane < ceil((i+1)*B/m),
    // that is i = floor(lane*m/B).
    members[node] = ranks[static_cast<int64_t>(lane) * static_cast<int64_t>(ranks.size()) / lanes_];
  }
  return members;
}

std::vector<Block> Lanes::node_chunks(int node, const std::vector<Block>& lane_blocks) const {
  std::vector<Block> chunks;
  for (int rank : topology_.ranks_of_node(node)) {
    const auto [first, last] = lanes_of(rank);
    chunks.push_back(merge_blocks(lane_blocks, first, last));
  }
  return chunks;
}

int Lanes::home_lane(int rank) const {
  return lanes_of(rank).first;
}

LaneLayout lane_layout(const Topology& topology, const Lanes& lanes, const std::vector<uint64_t>& counts) {
  const int nodes = topology.num_nodes();
  LaneLayout layout;
  layout.rank_block.resize(counts.size());
  layout.lane.resize(lanes.count());
  layout.lane_chunks.assign(lanes.count(), std::vector<Block>(nodes));
  // at_home[l][node]: the rank of that node whose home lane is l, or -1.
  std::vector<std::vector<int>> at_home(lanes.count(), std::vector<int>(nodes, -1));
  for (int rank = 0; rank < static_cast<int>(counts.size()); ++rank) {
    at_home[lanes.home_lane(rank)][topology.node_of(rank)] = rank;
  }
  uint64_t offset = 0;
  for (int lane = 0; lane < lanes.count(); ++lane) {
    layout.lane[lane].offset = offset;
    for (int node = 0; node < nodes; ++node) {
      const int rank = at_home[lane][node];
      const Block block{offset, rank < 0 ? 0 : counts[rank]};
      layout.lane_chunks[lane][node] = block;
      if (rank >= 0) layout.rank_block[rank] = block;
      offset += block.count;
    }
    layout.lane[lane].count = offset - layout.lane[lane].offset;
  }
  return layout;
}

}  // namespace myriad
