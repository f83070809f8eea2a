// Shared helpers of the algorithm, simulator and selector tests: argument
// builders with odd per-rank counts for the `v` variants, and the
// topologies the sweeps use.
#pragma once

#include <string>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/topology.h"

namespace myriad::testing {

inline bool is_rooted(OpKind kind) {
  return kind == OpKind::Reduce || kind == OpKind::Broadcast || kind == OpKind::Gather ||
         kind == OpKind::Scatter;
}

// The op kinds the native schedules implement.
inline const std::vector<OpKind>& collective_kinds() {
  static const std::vector<OpKind> kinds = {OpKind::Allreduce,      OpKind::Reduce,     OpKind::Broadcast,
                                            OpKind::Allgather,      OpKind::Allgatherv, OpKind::ReduceScatter,
                                            OpKind::ReduceScatterv, OpKind::Alltoall,   OpKind::Alltoallv,
                                            OpKind::Gather,         OpKind::Scatter,    OpKind::Barrier};
  return kinds;
}

// Arguments of `kind` for n ranks around `count` elements. The `v` variants
// get uneven counts with zeros among them (counts derived from `count`).
inline CollectiveArgs make_args(OpKind kind, int n, uint64_t count, int root = 0, size_t element_bytes = 8) {
  CollectiveArgs args;
  args.kind = kind;
  args.size = n;
  args.root = root;
  args.element_bytes = element_bytes;
  args.count = count;
  if (kind == OpKind::Allgatherv || kind == OpKind::ReduceScatterv) {
    args.count = 0;
    for (int r = 0; r < n; ++r) args.counts.push_back(r % 3 == 1 ? 0 : count + static_cast<uint64_t>(r % 5));
  } else if (kind == OpKind::Alltoallv) {
    args.count = 0;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) args.counts.push_back((i + 2 * j + count) % (count + 3));
    }
  } else if (kind == OpKind::Barrier) {
    args.count = 0;
  }
  return args;
}

// Node assignments used for the hierarchical algorithms at n ranks: one
// node, one rank per node, every uniform shape, ranks dealt round-robin
// over three nodes (not contiguous), and one lopsided split.
inline std::vector<Topology> topologies_for(int n) {
  std::vector<Topology> out;
  out.push_back(Topology::uniform(1, n));
  if (n > 1) out.push_back(Topology::uniform(n, 1));
  for (int per = 2; per < n; ++per) {
    if (n % per == 0) out.push_back(Topology::uniform(n / per, per));
  }
  if (n >= 3) {
    std::vector<int> dealt(n);
    for (int r = 0; r < n; ++r) dealt[r] = r % 3;
    out.emplace_back(dealt);
    std::vector<int> lopsided(n, 0);
    lopsided[n - 1] = 1;  // n-1 + 1, e.g. 3+1 at four ranks
    out.emplace_back(lopsided);
  }
  return out;
}

inline std::string describe(const Topology& topology) {
  std::string text = std::to_string(topology.num_nodes()) + " nodes [";
  for (int node = 0; node < topology.num_nodes(); ++node) {
    text += (node ? "," : "") + std::to_string(topology.ranks_of_node(node).size());
  }
  return text + "]";
}

}  // namespace myriad::testing
