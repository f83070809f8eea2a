// The binomial tree shared by the rooted algorithms.
#include "collectives/native/algorithms/binomial.h"

#include <algorithm>

namespace myriad {

std::vector<int> BinomialTree::children(int v) const {
  std::vector<int> out;
  for (int mask = 1; mask < size; mask <<= 1) {
    if ((v & mask) != 0) break;
    if (v + mask < size) out.push_back(v + mask);
  }
  return out;
}

int BinomialTree::subtree_size(int v) const {
  if (v == 0) return size;
  return std::min(v & -v, size - v);
}

}  // namespace myriad

namespace myriad {

std::vector<std::pair<int, int>> wrap_pieces(const BinomialTree& tree, int first, int last) {
  const int wrap = tree.size - tree.root;  // relative index of absolute rank 0
  std::vector<std::pair<int, int>> pieces;
  if (first < std::min(last, wrap)) pieces.emplace_back(first, std::min(last, wrap));
  if (std::max(first, wrap) < last) pieces.emplace_back(std::max(first, wrap), last);
  return pieces;
}

}  // namespace myriad
