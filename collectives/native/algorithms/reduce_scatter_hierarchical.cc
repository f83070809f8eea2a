// Two-level reduce-scatter(v). Blocks are first copied into the lane-major
// layout (lanes.h) in Scratch, so that the lanes a rank owns are contiguous;
// a ring reduce-scatter inside the node leaves each rank the node's sum of
// its lanes; then, per lane, a ring reduce-scatter among the lane's owners
// across nodes delivers each block's global sum to the rank it belongs to
// (the owner of a block's home lane on its node is that block's rank).
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/lanes.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class ReduceScatterHierarchical final : public BuiltinAlgorithm {
 public:
  ReduceScatterHierarchical()
      : BuiltinAlgorithm("hierarchical", {OpKind::ReduceScatter, OpKind::ReduceScatterv}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "hierarchical";
    const Topology& topology = *args.topology;
    const size_t eb = args.element_bytes;
    const std::vector<uint64_t> counts = rank_counts(args);
    const std::vector<Block> blocks = blocks_of(counts);
    if (total_count(blocks) == 0) return schedule;
    const Lanes lanes(topology);
    const LaneLayout layout = lane_layout(topology, lanes, counts);
    const Region in{BufferId::Input, 0};
    const Region staged{BufferId::Scratch, 0};
    schedule.scratch_bytes = total_count(blocks) * eb;

    // 0. Input in lane-major order.
    Round& permute = add_round(schedule);
    for (int rank = 0; rank < args.size; ++rank) {
      if (blocks[rank].count == 0) continue;
      permute.steps.push_back(
          copy_step(span_at(in, blocks[rank], eb), span_at(staged, layout.rank_block[rank], eb)));
    }
    // 1. Node sums of this rank's lanes, in place in the staged copy.
    const int node = topology.node_of(args.rank);
    const std::vector<int>& local = topology.ranks_of_node(node);
    const int members = static_cast<int>(local.size());
    const int me = topology.local_index(args.rank);
    const std::vector<Block> chunks = lanes.node_chunks(node, layout.lane);
    if (members > 1) {
      append_ring_pass(
          schedule, local[(me + members - 1) % members], local[(me + 1) % members],
          ring_reduce_scatter_steps(members, me, chunks, staged, staged, span_at(staged, chunks[me], eb), eb),
          ring_slices(largest_chunk_bytes(chunks, eb)), eb);
    }
    // 2. Per owned lane, the global sums, each to the rank of its block.
    const int nodes = topology.num_nodes();
    const auto [first, last] = lanes.lanes_of(args.rank);
    const Span result = element_span(BufferId::Output, 0, counts[args.rank], eb);
    for (int lane = first; lane < last; ++lane) {
      const std::vector<Block>& lane_chunks = layout.lane_chunks[lane];
      const bool home = lane == first;  // this rank's block, if any, lives in its first lane
      const Span own = home ? result : span_at(staged, lane_chunks[node], eb);
      if (nodes == 1) {
        if (home && own.bytes > 0) {
          add_round(schedule).steps.push_back(copy_step(span_at(staged, lane_chunks[node], eb), own));
        }
        continue;
      }
      const std::vector<int> group = lanes.group(lane);
      append_ring_pass(schedule, group[(node + nodes - 1) % nodes], group[(node + 1) % nodes],
                       ring_reduce_scatter_steps(nodes, node, lane_chunks, staged, staged, own, eb),
                       ring_slices(largest_chunk_bytes(lane_chunks, eb)), eb);
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const Topology& topology = *args.topology;
    const std::vector<uint64_t> counts = rank_counts(args);
    uint64_t total = 0;
    uint64_t largest = 0;
    for (uint64_t count : counts) {
      total += count;
      largest = std::max(largest, count);
    }
    const double bytes = static_cast<double>(total * args.element_bytes);
    const int lanes = topology.max_ranks_per_node();
    const int nodes = topology.num_nodes();
    return copy_seconds(model, bytes) +
           ring_pass_seconds(lanes - 1, lanes - 1, bytes / lanes, model.link(topology.intra_link()), model) +
           ring_pass_seconds(nodes - 1, nodes - 1, static_cast<double>(largest * args.element_bytes),
                             model.link(topology.inter_link()), model);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_reduce_scatter_hierarchical() {
  return std::make_unique<ReduceScatterHierarchical>();
}

}  // namespace myriad
