// Topology: where the ranks of a communicator are, as the algorithms and the
// cost model see it. Built from the World's node ids at communicator
// creation (or synthetically by the simulator).
//
// A rank talks to ranks of its own node over the intra-node link class
// (shared memory by default) and to the others over the inter-node class
// (TCP by default); the communicator passes the classes its transports use.
// Topology is an immutable value: thread-safe to read; constructors throw
// Error(InvalidArgument) for a node list with holes or negative ids.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace myriad {

enum class LinkClass : uint8_t { Self, Shm, Tcp, Ucx, NvLink, Ib };
inline constexpr size_t kLinkClassCount = 6;
// "self", "shm", "tcp", "ucx", "nvlink", "ib".
std::string_view link_class_name(LinkClass link);

class Topology {
 public:
  Topology() = default;
  // node_of[r] is the node index of rank r; every index 0..num_nodes-1 must
  // hold at least one rank.
  explicit Topology(std::vector<int> node_of, LinkClass intra = LinkClass::Shm,
                    LinkClass inter = LinkClass::Tcp);
  // `nodes` nodes with `per_node` consecutive ranks each.
  static Topology uniform(int nodes, int per_node, LinkClass intra = LinkClass::Shm,
                          LinkClass inter = LinkClass::Tcp);

  int size() const { return static_cast<int>(node_of_.size()); }
  int num_nodes() const { return static_cast<int>(ranks_of_node_.size()); }
  int node_of(int rank) const { return node_of_[rank]; }
  // Ranks of a node, ascending.
  const std::vector<int>& ranks_of_node(int node) const { return ranks_of_node_[node]; }
  // Position of rank among the ranks of its node.
  int local_index(int rank) const { return local_index_[rank]; }
  // Largest number of ranks on one node (0 for an empty topology).
  int max_ranks_per_node() const { return max_per_node_; }
  LinkClass intra_link() const { return intra_; }
  LinkClass inter_link() const { return inter_; }
  // Self for a == b, intra_link() within a node, inter_link() across nodes.
  LinkClass link(int a, int b) const;
  // The slowest class a message between two ranks of this topology may use:
  // inter_link() with several nodes, intra_link() with one, Self with one rank.
  LinkClass widest_link() const;

 private:
  std::vector<int> node_of_;
  std::vector<std::vector<int>> ranks_of_node_;
  std::vector<int> local_index_;
  int max_per_node_ = 0;
  LinkClass intra_ = LinkClass::Shm;
  LinkClass inter_ = LinkClass::Tcp;
};

}  // namespace myriad
