// Binomial tree broadcast from any root: a rank receives the vector from its
// parent, then forwards it to its children, largest subtree first, one per
// round. ceil(log2 n) latencies on the critical path, the whole vector per hop.
#include <algorithm>

#include "collectives/native/algorithms/binomial.h"
#include "collectives/native/algorithms/builtin.h"
#include "collectives/native/algorithms/common.h"
#include "collectives/native/algorithms/layout.h"

namespace myriad {
namespace {

class BroadcastTree final : public BuiltinAlgorithm {
 public:
  BroadcastTree() : BuiltinAlgorithm("tree", {OpKind::Broadcast}) {}

  Schedule build(const CollectiveArgs& args) const override {
    Schedule schedule;
    schedule.algorithm = "tree";
    if (args.count == 0) return schedule;
    const BinomialTree tree{args.size, args.root};
    const Span data = element_span(BufferId::Output, 0, args.count, args.element_bytes);
    const int v = tree.relative(args.rank);
    if (v != 0) add_round(schedule).steps.push_back(recv_step(tree.absolute(tree.parent(v)), data));
    // Largest subtree first: it has the longest way still to go.
    std::vector<int> children = tree.children(v);
    std::reverse(children.begin(), children.end());
    for (int child : children) {
      add_round(schedule).steps.push_back(send_step(tree.absolute(child), data));
    }
    return schedule;
  }

  double cost(const CollectiveArgs& args, const CostModel& model) const override {
    const LinkCost link = flat_link(args, model);
    return ceil_log2(args.size) *
           (link.alpha + static_cast<double>(args.count * args.element_bytes) * link.beta);
  }
};

}  // namespace

std::unique_ptr<Algorithm> make_broadcast_tree() {
  return std::make_unique<BroadcastTree>();
}

}  // namespace myriad
