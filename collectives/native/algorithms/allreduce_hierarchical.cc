// Two-level allreduce: a ring reduce-scatter among the ranks of each node
// (each ends with the node's sum of its lanes, lanes.h), an allreduce of
// each lane among its owners across nodes, and a ring allgather inside the
// node. Only 1/B of the vector crosses the slower inter-node link per rank,
// and inter-node latencies are paid among N nodes rather than n ranks.
#include <algorithm>
#include <memory>
#include <utility>

#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/group_allreduce.h"
#include "collectives/native/algorithms/lanes.h"
#include "collectives/native/algorithms/ring_pass.h"

namespace myriad {
namespace {

// The inter-node allreduce of a lane uses the ring when every member's
// chunk is at least this big and there are more than two nodes, recursive
// doubling otherwise. At this size the ring's extra 2(N-1) - log2(N)
// latencies (30 us each over TCP) cost less than the log2(N)/2-fold extra
// bytes recursive doubling sends (128 KiB at 2.5 GB/s is ~52 us).
constexpr uint64_t kInterNodeRingMinChunkBytes = uint64_t{128} * 1024;

bool inter_node_ring(int nodes, uint64_t lane_bytes) {
  return nodes > 2 && lane_bytes / nodes >= kInterNodeRingMinChunkBytes;
}

class AllreduceHierarchical final : public BuiltinAlgorithm {
 public:
  AllreduceHierarchical() : BuiltinAlgorithm("hierarchical", {OpKind::Allreduce}) {}

  Schedule build(const CollectiveArgs& args) const override { return build_source(args).to_schedule(); }

  ScheduleSource build_source(const CollectiveArgs& args) const override {
    ScheduleSource source("hierarchical");
    if (args.count == 0) return source;
    const Topology& topology = *args.topology;
    const size_t eb = args.element_bytes;
    const Lanes lanes(topology);
    const std::vector<Block> lane_blocks = even_blocks(args.count, lanes.count());
    const int node = topology.node_of(args.rank);
    const std::vector<int>& local = topology.ranks_of_node(node);
    const int members = static_cast<int>(local.size());
    const int me = topology.local_index(args.rank);
    const ChunkLayout chunks = ChunkLayout::listed(lanes.node_chunks(node, lane_blocks));
    const Region in{BufferId::Input, 0};
    const Region out{BufferId::Output, 0};
    const Span own = span_at(out, chunks.at(me), eb);
    const int left = local[(me + members - 1) % members];
    const int right = local[(me + 1) % members];

    // 1. Node sums of this rank's lanes, into Output.
    if (members == 1) {
      add_round(source.listed()).steps.push_back(copy_step(span_at(in, chunks.at(0), eb), own));
    } else {
      auto pass = std::make_unique<RingPass>(members, me, left, right, chunks, eb);
      pass->reduce_scatter(in, out, own);
      source.add(std::move(pass));
    }
    // 2. Global sums of those lanes, in place in Output.
    const auto [first, last] = lanes.lanes_of(args.rank);
    // A rank of a smaller node owns several lanes; it serves them in lane
    // order, as every other member does, so no two groups wait on each other.
    for (int lane = first; lane < last; ++lane) {
      const Block block = lane_blocks[lane];
      const std::vector<int> group = lanes.group(lane);
      const uint64_t bytes = block.count * eb;
      if (inter_node_ring(topology.num_nodes(), bytes)) {
        append_ring_allreduce(source, group, node, block.count, eb, {BufferId::Output, block.offset * eb},
                              {BufferId::Output, block.offset * eb});
      } else {
        const Span span = span_at(out, block, eb);
        source.need_scratch(bytes);
        append_recursive_doubling_allreduce(source.listed(), group, node, span, span,
                                            {BufferId::Scratch, 0, bytes});
      }
    }
    // 3. Every lane to every rank of the node.
    if (members > 1) {
      auto pass = std::make_unique<RingPass>(members, me, left, right, chunks, eb);
      pass->allgather(out, own);
      source.add(std::move(pass));
    }
    return source;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const Topology& topology = *args.topology;
    const double bytes = static_cast<double>(args.count * args.element_bytes);
    const int lanes = topology.max_ranks_per_node();
    const int nodes = topology.num_nodes();
    const LinkCost intra = model.link(topology.intra_link());
    const LinkCost inter = model.link(topology.inter_link());
    const double lane_bytes = bytes / lanes;
    double seconds = 0;
    if (lanes > 1) {
      seconds += ring_pass_seconds(lanes - 1, lanes - 1, lane_bytes, intra, model);
      seconds += ring_pass_seconds(lanes - 1, 0, lane_bytes, intra, model);
    } else {
      seconds += copy_seconds(model, bytes);
    }
    // A rank of the smallest node serves lanes/min lanes one after another.
    size_t smallest = static_cast<size_t>(lanes);
    for (int node = 0; node < nodes; ++node)
      smallest = std::min(smallest, topology.ranks_of_node(node).size());
    const size_t rounds = (static_cast<size_t>(lanes) + smallest - 1) / smallest;  // whole rounds: ceil
    const double serial = static_cast<double>(rounds);
    double inter_seconds = 0;
    if (inter_node_ring(nodes, static_cast<uint64_t>(lane_bytes))) {
      inter_seconds = ring_pass_seconds(2 * (nodes - 1), nodes - 1, lane_bytes / nodes, inter, model);
    } else {
      inter_seconds = recursive_doubling_seconds(nodes, lane_bytes, inter, model);
    }
    return seconds + serial * inter_seconds;
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_allreduce_hierarchical() {
  return std::make_unique<AllreduceHierarchical>();
}

}  // namespace myriad
