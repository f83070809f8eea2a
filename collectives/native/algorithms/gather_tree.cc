// Binomial tree gather to any root: a rank collects its subtree's blocks
// (its children's subtrees, received in one round) behind its own in
// Scratch, then sends them to its parent. log2(n) latencies; the root
// receives n-1 blocks as with the linear gather, but over log2(n) links.
#include "collectives/native/algorithms/binomial.h"
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class GatherTree final : public BuiltinAlgorithm {
 public:
  GatherTree() : BuiltinAlgorithm("tree", {OpKind::Gather}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "tree";
    if (args.count == 0) return schedule;
    const BinomialTree tree{args.size, args.root};
    const size_t eb = args.element_bytes;
    const uint64_t c = args.count;
    const int v = tree.relative(args.rank);
    const Span input = element_span(BufferId::Input, 0, c, eb);
    const std::vector<int> children = tree.children(v);
    if (v != 0 && children.empty()) {
      add_round(schedule).steps.push_back(send_step(tree.absolute(tree.parent(v)), input));
      return schedule;
    }
    // Relative blocks [first, last) as held here: the root holds them in
    // Output in rank order, others in Scratch relative to themselves.
    const auto held = [&](int first, int last) {
      if (v == 0)
        return element_span(BufferId::Output, static_cast<uint64_t>(tree.absolute(first)) * c,
                            static_cast<uint64_t>(last - first) * c, eb);
      return element_span(BufferId::Scratch, static_cast<uint64_t>(first - v) * c,
                          static_cast<uint64_t>(last - first) * c, eb);
    };
    const int size = tree.subtree_size(v);
    if (v != 0) schedule.scratch_bytes = static_cast<uint64_t>(size) * c * eb;
    Round& collect = add_round(schedule);
    collect.steps.push_back(copy_step(input, held(v, v + 1)));
    for (int child : children) {
      for (const auto& [first, last] : wrap_pieces(tree, child, child + tree.subtree_size(child))) {
        collect.steps.push_back(recv_step(tree.absolute(child), held(first, last)));
      }
    }
    if (v != 0) {
      Round& forward = add_round(schedule);
      for (const auto& [first, last] : wrap_pieces(tree, v, v + size)) {
        forward.steps.push_back(send_step(tree.absolute(tree.parent(v)), held(first, last)));
      }
    }
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

std::unique_ptr<Algorithm> make_gather_tree() {
  return std::make_unique<GatherTree>();
}

}  // namespace myriad
