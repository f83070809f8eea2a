// Lanes: how the two-level (hierarchical) algorithms split work between the
// ranks of a node and pair ranks across nodes.
//
// With B the largest number of ranks on a node, the data is cut into B
// lanes. On a node with m ranks, local rank i owns the contiguous lanes
// [ceil(i*B/m), ceil((i+1)*B/m)): one lane each when every node has B ranks,
// several on a smaller node. Lane l's inter-node group is its owner on every
// node, in node order, so a rank's position in any of its groups is its node
// index. On a uniform topology this is "ranks with the same local index".
//
// For reduce_scatter and allgather every rank's block also has a home lane:
// the first lane its rank owns. The lane-major layout stores lane 0's
// blocks (one per node that has a rank at home there, in node order), then
// lane 1's, and so on; a node's lanes are then contiguous, which is what
// the intra-node ring needs.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "collectives/native/algorithms/layout.h"
#include "collectives/native/topology.h"

namespace myriad {

class Lanes {
 public:
  explicit Lanes(const Topology& topology);

  int count() const { return lanes_; }
  // Lanes [first, last) owned by rank.
  std::pair<int, int> lanes_of(int rank) const;
  // The owner of `lane` on every node, in node order.
  std::vector<int> group(int lane) const;
  // Lanes owned by each local rank of `node`, as blocks over `lane_blocks`.
  std::vector<Block> node_chunks(int node, const std::vector<Block>& lane_blocks) const;
  // The lane where rank's block lives in the lane-major layout.
  int home_lane(int rank) const;

 private:
  const Topology& topology_;
  int lanes_ = 0;
};

// The lane-major layout of per-rank blocks (sizes `counts`).
struct LaneLayout {
  std::vector<Block> rank_block;  // where rank r's block sits
  std::vector<Block> lane;        // lane l's range
  // lane_chunks[l][node]: the block of that node in lane l (empty, at the
  // right offset, when no rank of the node is at home in lane l).
  std::vector<std::vector<Block>> lane_chunks;
};
LaneLayout lane_layout(const Topology& topology, const Lanes& lanes, const std::vector<uint64_t>& counts);

}  // namespace myriad
