// Binomial tree scatter from any root: a rank receives its subtree's blocks
// from its parent into Scratch, forwards each child its subtree's share
// (largest first), and keeps its own block. log2(n) latencies.
#include <algorithm>

#include "collectives/native/algorithms/binomial.h"
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class ScatterTree final : public BuiltinAlgorithm {
 public:
  ScatterTree() : BuiltinAlgorithm("tree", {OpKind::Scatter}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "tree";
    if (args.count == 0) return schedule;
    const BinomialTree tree{args.size, args.root};
    const size_t eb = args.element_bytes;
    const uint64_t c = args.count;
    const int v = tree.relative(args.rank);
    const Span output = element_span(BufferId::Output, 0, c, eb);
    std::vector<int> children = tree.children(v);
    std::reverse(children.begin(), children.end());  // largest subtree first
    if (v != 0 && children.empty()) {
      add_round(schedule).steps.push_back(recv_step(tree.absolute(tree.parent(v)), output));
      return schedule;
    }
    // Relative blocks [first, last) as held here: the root's Input in rank
    // order, others' Scratch relative to themselves.
    const auto held = [&](int first, int last) {
      if (v == 0)
        return element_span(BufferId::Input, static_cast<uint64_t>(tree.absolute(first)) * c,
                            static_cast<uint64_t>(last - first) * c, eb);
      return element_span(BufferId::Scratch, static_cast<uint64_t>(first - v) * c,
                          static_cast<uint64_t>(last - first) * c, eb);
    };
    const int size = tree.subtree_size(v);
    if (v != 0) {
      schedule.scratch_bytes = static_cast<uint64_t>(size) * c * eb;
      Round& receive = add_round(schedule);
      for (const auto& [first, last] : wrap_pieces(tree, v, v + size)) {
        receive.steps.push_back(recv_step(tree.absolute(tree.parent(v)), held(first, last)));
      }
    }
    Round& forward = add_round(schedule);
    for (int child : children) {
      for (const auto& [first, last] : wrap_pieces(tree, child, child + tree.subtree_size(child))) {
        forward.steps.push_back(send_step(tree.absolute(child), held(first, last)));
      }
    }
    forward.steps.push_back(copy_step(held(v, v + 1), output));
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const LinkCost link = flat_link(args, model);
    const double block = static_cast<double>(args.count * args.element_bytes);
    return ceil_log2(args.size) * link.alpha + (args.size - 1) * block * link.beta +
           copy_seconds(model, block * args.size / 2);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_scatter_tree() {
  return std::make_unique<ScatterTree>();
}

}  // namespace myriad
