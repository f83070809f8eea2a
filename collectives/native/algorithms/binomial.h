// The binomial tree over ranks relative to a root, shared by the tree
// broadcast, reduce, gather and scatter. Relative rank v = (rank - root) mod n;
// v's parent is v minus its lowest set bit; its children are v + 2^k for
// every 2^k below that bit (all 2^k < n for the root) with v + 2^k < n.
// v's subtree is the relative range [v, v + subtree_size(v)).
#pragma once

#include <utility>
#include <vector>

namespace myriad {

struct BinomialTree {
  int size = 1;
  int root = 0;

  int relative(int rank) const { return (rank - root + size) % size; }
  int absolute(int relative_rank) const { return (relative_rank + root) % size; }
  // Relative parent of v > 0.
  int parent(int v) const { return v - (v & -v); }
  // Relative children of v, smallest subtree first.
  std::vector<int> children(int v) const;
  int subtree_size(int v) const;
};

}  // namespace myriad

namespace myriad {

// A subtree's relative range [first, last) split where the absolute ranks
// wrap from n-1 to 0, so that each piece is contiguous in rank order too:
// at most two pieces, empty ones left out. Both ends of a message split the
// same range the same way.
std::vector<std::pair<int, int>> wrap_pieces(const BinomialTree& tree, int first, int last);

}  // namespace myriad
