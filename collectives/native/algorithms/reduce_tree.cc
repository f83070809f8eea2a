// Binomial tree reduce to any root: a rank adds its children's sums to its
// own input, smallest subtree first (it arrives first), then sends the sum
// to its parent. Non-roots accumulate in Scratch: Output is the root's only.
#include "collectives/native/algorithms/binomial.h"
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class ReduceTree final : public BuiltinAlgorithm {
 public:
  ReduceTree() : BuiltinAlgorithm("tree", {OpKind::Reduce}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "tree";
    if (args.count == 0) return schedule;
    const BinomialTree tree{args.size, args.root};
    const size_t eb = args.element_bytes;
    const int v = tree.relative(args.rank);
    const Span input = element_span(BufferId::Input, 0, args.count, eb);
    const Span sum = element_span(v == 0 ? BufferId::Output : BufferId::Scratch, 0, args.count, eb);
    const std::vector<int> children = tree.children(v);
    if (v != 0 && !children.empty()) schedule.scratch_bytes = sum.bytes;
    Span current = input;
    for (int child : children) {
      add_round(schedule).steps.push_back(recv_reduce_step(tree.absolute(child), sum, current));
      current = sum;
    }
    if (v != 0) {
      add_round(schedule).steps.push_back(send_step(tree.absolute(tree.parent(v)), current));
    } else if (children.empty()) {
      add_round(schedule).steps.push_back(copy_step(input, sum));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const LinkCost link = flat_link(args, model);
    const double bytes = static_cast<double>(args.count * args.element_bytes);
    return ceil_log2(args.size) * (link.alpha + bytes * link.beta + bytes * model.gamma());
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_reduce_tree() {
  return std::make_unique<ReduceTree>();
}

}  // namespace myriad
