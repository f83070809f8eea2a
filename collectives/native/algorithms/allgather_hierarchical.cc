// Two-level allgather(v): per owned lane (lanes.h), a ring allgather among
// the lane's owners across nodes collects the lane's blocks into the
// lane-major layout in Scratch; a ring allgather inside the node shares
// every lane; a final local copy puts the blocks in rank order in Output.
// Each block crosses the inter-node link once per node, not once per rank.
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/lanes.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

class AllgatherHierarchical final : public BuiltinAlgorithm {
 public:
  AllgatherHierarchical() : BuiltinAlgorithm("hierarchical", {OpKind::Allgather, OpKind::Allgatherv}) {}

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
    const Region staged{BufferId::Scratch, 0};
    schedule.scratch_bytes = total_count(blocks) * eb;
    const int node = topology.node_of(args.rank);
    const int nodes = topology.num_nodes();
    const Span input = element_span(BufferId::Input, 0, counts[args.rank], eb);

    // 1. Per owned lane, the lane's blocks from every node.
    const auto [first, last] = lanes.lanes_of(args.rank);
    for (int lane = first; lane < last; ++lane) {
      const std::vector<Block>& lane_chunks = layout.lane_chunks[lane];
      const bool home = lane == first;
      std::vector<Step> copy;
      if (home && input.bytes > 0) copy.push_back(copy_step(input, span_at(staged, lane_chunks[node], eb)));
      const Span own = home ? input : span_at(staged, lane_chunks[node], eb);
      if (nodes == 1) {
        if (!copy.empty()) add_round(schedule).steps = copy;
        continue;
      }
      const std::vector<int> group = lanes.group(lane);
      append_ring_pass(schedule, group[(node + nodes - 1) % nodes], group[(node + 1) % nodes],
                       ring_allgather_steps(nodes, node, lane_chunks, staged, own, eb),
                       ring_slices(largest_chunk_bytes(lane_chunks, eb)), eb, copy);
    }
    // 2. Every lane to every rank of the node.
    const std::vector<int>& local = topology.ranks_of_node(node);
    const int members = static_cast<int>(local.size());
    const int me = topology.local_index(args.rank);
    const std::vector<Block> chunks = lanes.node_chunks(node, layout.lane);
    if (members > 1) {
      append_ring_pass(schedule, local[(me + members - 1) % members], local[(me + 1) % members],
                       ring_allgather_steps(members, me, chunks, staged, span_at(staged, chunks[me], eb), eb),
                       ring_slices(largest_chunk_bytes(chunks, eb)), eb);
    }
    // 3. Rank order in Output.
    Round& permute = add_round(schedule);
    for (int rank = 0; rank < args.size; ++rank) {
      if (blocks[rank].count == 0) continue;
      permute.steps.push_back(copy_step(span_at(staged, layout.rank_block[rank], eb),
                                        span_at({BufferId::Output, 0}, blocks[rank], eb)));
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
           ring_pass_seconds(nodes - 1, 0, static_cast<double>(largest * args.element_bytes),
                             model.link(topology.inter_link()), model) +
           ring_pass_seconds(lanes - 1, 0, bytes / lanes, model.link(topology.intra_link()), model);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allgather_hierarchical() {
  return std::make_unique<AllgatherHierarchical>();
}

}  // namespace myriad
