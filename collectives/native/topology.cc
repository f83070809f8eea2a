// Topology: node membership of the ranks and the link class between two ranks.
#include "collectives/native/topology.h"

#include <algorithm>

#include "runtime/error.h"

namespace myriad {

std::string_view link_class_name(LinkClass link) {
  switch (link) {
    case LinkClass::Self: return "self";
    case LinkClass::Shm: return "shm";
    case LinkClass::Tcp: return "tcp";
    case LinkClass::Ucx: return "ucx";
    case LinkClass::NvLink: return "nvlink";
    case LinkClass::Ib: return "ib";
  }
  return "unknown";
}

Topology::Topology(std::vector<int> node_of, LinkClass intra, LinkClass inter)
    : node_of_(std::move(node_of)), intra_(intra), inter_(inter) {
  int nodes = 0;
  for (size_t r = 0; r < node_of_.size(); ++r) {
    if (node_of_[r] < 0) {
      raise(ErrorCode::InvalidArgument, "topology: rank {} has negative node index {}", r, node_of_[r]);
    }
    nodes = std::max(nodes, node_of_[r] + 1);
  }
  ranks_of_node_.resize(nodes);
  local_index_.resize(node_of_.size());
  for (size_t r = 0; r < node_of_.size(); ++r) {
    std::vector<int>& ranks = ranks_of_node_[node_of_[r]];
    local_index_[r] = static_cast<int>(ranks.size());
    ranks.push_back(static_cast<int>(r));
  }
  for (int node = 0; node < nodes; ++node) {
    if (ranks_of_node_[node].empty()) {
      raise(ErrorCode::InvalidArgument, "topology: node {} of {} holds no rank (node indices must be dense)",
            node, nodes);
    }
    max_per_node_ = std::max(max_per_node_, static_cast<int>(ranks_of_node_[node].size()));
  }
}

Topology Topology::uniform(int nodes, int per_node, LinkClass intra, LinkClass inter) {
  if (nodes < 0 || per_node <= 0) {
    raise(ErrorCode::InvalidArgument, "topology: {} nodes x {} ranks is not a valid shape", nodes, per_node);
  }
  std::vector<int> node_of(static_cast<size_t>(nodes) * per_node);
  for (size_t r = 0; r < node_of.size(); ++r) node_of[r] = static_cast<int>(r / per_node);
  return Topology(std::move(node_of), intra, inter);
}

LinkClass Topology::link(int a, int b) const {
  if (a == b) return LinkClass::Self;
  return node_of_[a] == node_of_[b] ? intra_ : inter_;
}

LinkClass Topology::widest_link() const {
  if (num_nodes() > 1) return inter_;
  return size() > 1 ? intra_ : LinkClass::Self;
}

}  // namespace myriad
