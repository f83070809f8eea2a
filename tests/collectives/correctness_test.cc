// Every collective against a reference computed in the test: op x dtype x
// reduction x algorithm (each registered one, and the default selection) x
// count x in place, on real processes over shared memory, TCP and both.
//
// One forked world per layout runs every case in sequence, so process
// start-up and connection set-up are paid once per layout. Every rank runs
// the same case list; a rank that finds a wrong element reports the case
// and the first wrong element and goes on (the ranks stay in step); a rank
// whose operation fails skips the rest of that op kind, since the
// communicator is then failed (each kind runs on a communicator of its own).
#include <gtest/gtest.h>

#include "collectives/native/algorithm.h"
#include "tests/collectives/collective_cases.h"
#include "tests/collectives/world_fixture.h"

namespace myriad::test {
namespace {

constexpr uint64_t kSmallCounts[] = {0, 1, 7, 1023};
constexpr uint64_t kLargeCount = (uint64_t{1} << 20) + 3;
constexpr int kMaxReportedFailures = 20;

constexpr OpKind kReducingKinds[] = {OpKind::Allreduce, OpKind::ReduceScatter, OpKind::ReduceScatterv,
                                     OpKind::Reduce};
constexpr OpKind kMovingKinds[] = {OpKind::Broadcast, OpKind::Allgather, OpKind::Allgatherv, OpKind::Alltoall,
                                   OpKind::Alltoallv, OpKind::Gather,    OpKind::Scatter};

Topology topology_of(const Layout& layout) {
  std::vector<std::string> seen;
  std::vector<int> node_of;
  for (const std::string& node : layout.nodes) {
    auto it = std::find(seen.begin(), seen.end(), node);
    node_of.push_back(static_cast<int>(it - seen.begin()));
    if (it == seen.end()) seen.push_back(node);
  }
  return Topology(node_of);
}

// Whether the registered algorithm `name` takes case `c` in a world of `layout`
// (rank 0's view: the answer must be the same on every rank).
bool supported(const Case& c, const Layout& layout, const Topology& topology) {
  if (c.algorithm.empty()) return true;
  const Algorithm* algorithm = find_algorithm(c.kind, c.algorithm);
  if (algorithm == nullptr) return false;
  const int n = layout.size();
  CollectiveArgs args;
  args.kind = c.kind;
  args.rank = 0;
  args.size = n;
  args.count = c.count;
  args.element_bytes = dtype_size(c.dtype);
  args.root = c.root;
  args.topology = &topology;
  if (c.kind == OpKind::Allgatherv || c.kind == OpKind::ReduceScatterv) {
    for (int r = 0; r < n; ++r) args.counts.push_back(v_count(c.count, r));
  }
  if (c.kind == OpKind::Alltoallv) {
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) args.counts.push_back(alltoallv_count(c.count, i, j));
    }
  }
  return algorithm->supports(args);
}

std::vector<std::string> algorithm_choices(OpKind kind) {
  std::vector<std::string> names = {""};  // the default selection
  for (const Algorithm* algorithm : algorithms_for(kind)) names.emplace_back(algorithm->name());
  return names;
}

// Every op x dtype x reduction x algorithm x small count x in place.
std::vector<Case> all_small_cases(const Layout& layout) {
  const Topology topology = topology_of(layout);
  const int n = layout.size();
  std::vector<Case> cases;
  uint64_t seed = 0;
  auto add = [&](Case c) {
    c.seed = ++seed;
    c.root = static_cast<int>(c.seed % static_cast<uint64_t>(n));
    if (supported(c, layout, topology)) cases.push_back(std::move(c));
  };
  for (OpKind kind : kReducingKinds) {
    const std::vector<std::string> algorithms = algorithm_choices(kind);
    for (DType dtype : kAllDTypes) {
      for (ReduceOp op : reductions_for(dtype)) {
        for (const std::string& algorithm : algorithms) {
          for (uint64_t count : kSmallCounts) {
            for (bool in_place : {false, true}) {
              add(Case{.kind = kind,
                       .dtype = dtype,
                       .op = op,
                       .algorithm = algorithm,
                       .count = count,
                       .in_place = in_place});
            }
          }
        }
      }
    }
  }
  for (OpKind kind : kMovingKinds) {
    const std::vector<std::string> algorithms = algorithm_choices(kind);
    for (DType dtype : kAllDTypes) {
      for (const std::string& algorithm : algorithms) {
        for (uint64_t count : kSmallCounts) {
          for (bool in_place : {false, true}) {
            if (in_place && !has_in_place(kind)) continue;
            add(Case{
                .kind = kind, .dtype = dtype, .algorithm = algorithm, .count = count, .in_place = in_place});
          }
        }
      }
    }
  }
  for (const std::string& algorithm : algorithm_choices(OpKind::Barrier)) {
    for (int i = 0; i < 3; ++i) add(Case{.kind = OpKind::Barrier, .algorithm = algorithm});
  }
  if (n > 1) {
    for (DType dtype : kAllDTypes) {
      for (uint64_t count : kSmallCounts) add(Case{.kind = OpKind::Send, .dtype = dtype, .count = count});
    }
  }
  return cases;
}

// 1 MiB + 3 elements: allreduce in every dtype, the other ops in f32; sum,
// default algorithm.
std::vector<Case> large_cases(const Layout& layout) {
  const int n = layout.size();
  std::vector<Case> cases;
  uint64_t seed = 1000;
  auto add = [&](Case c) {
    c.seed = ++seed;
    c.count = kLargeCount;
    c.root = n - 1;
    cases.push_back(std::move(c));
  };
  for (DType dtype : kAllDTypes) {
    for (bool in_place : {false, true})
      add(Case{.kind = OpKind::Allreduce, .dtype = dtype, .in_place = in_place});
  }
  for (OpKind kind : {OpKind::Reduce, OpKind::ReduceScatter, OpKind::ReduceScatterv}) {
    for (bool in_place : {false, true}) add(Case{.kind = kind, .dtype = DType::F32, .in_place = in_place});
  }
  for (OpKind kind : kMovingKinds) {
    for (bool in_place : {false, true}) {
      if (in_place && !has_in_place(kind)) continue;
      add(Case{.kind = kind, .dtype = DType::F32, .in_place = in_place});
    }
  }
  if (n > 1) add(Case{.kind = OpKind::Send, .dtype = DType::F32});
  return cases;
}

// Runs the cases of each op kind on a communicator of its own, so that an
// operation that fails (and so fails its communicator) costs only the rest
// of its kind: the other kinds still run and report.
int run_cases(Rank& self, const std::vector<Case>& cases) {
  int wrong = 0;
  int failed_kinds = 0;
  size_t next = 0;
  while (next < cases.size()) {
    const OpKind kind = cases[next].kind;
    size_t end = next;
    while (end < cases.size() && cases[end].kind == kind) ++end;
    self.comm.reset();  // one communicator at a time
    try {
      self.comm =
          Communicator::create(self.world, CommunicatorOptions{.backend = "", .timeout = kDefaultOpTimeout});
    } catch (const std::exception& e) {
      self.report(fmt::format("creating the communicator for {} failed: {}", op_kind_name(kind), e.what()));
      return kRankSetupFailed;
    }
    for (; next < end; ++next) {
      const Case& c = cases[next];
      std::string failure;
      try {
        std::unique_ptr<PendingCase> pending = start_case(*self.comm, c);
        failure = check_case(*pending);
      } catch (const std::exception& e) {
        self.report(fmt::format("{}: the operation failed: {}", c.to_string(), e.what()));
        ++failed_kinds;
        break;
      }
      if (!failure.empty()) {
        if (wrong < kMaxReportedFailures) self.report(failure);
        ++wrong;
      }
    }
    next = end;
  }
  if (wrong > 0) self.report(fmt::format("{} of {} cases wrong", wrong, cases.size()));
  if (failed_kinds > 0) return kRankOpFailed;
  return wrong > 0 ? kRankWrongResult : kRankOk;
}

int check_identity(Rank& self) {
  Communicator& comm = *self.comm;
  if (comm.rank() != self.rank || comm.size() != self.size || comm.node() != self.layout.nodes[self.rank] ||
      comm.local_rank() != self.layout.local_rank(self.rank) ||
      comm.local_size() != self.layout.local_size(self.rank)) {
    self.report(fmt::format("communicator says rank {} of {}, node {}, local rank {} of {}", comm.rank(),
                            comm.size(), comm.node(), comm.local_rank(), comm.local_size()));
    return kRankWrongProperty;
  }
  return kRankOk;
}

class CollectivesCorrectness : public ::testing::TestWithParam<Layout> {};

TEST_P(CollectivesCorrectness, EveryOpDtypeReductionAlgorithmAndSmallCount) {
  const Layout layout = GetParam();
  const std::vector<Case> cases = all_small_cases(layout);
  ASSERT_FALSE(cases.empty());
  WorldResult result = run_world(layout, [&](Rank& self) {
    if (int code = check_identity(self); code != kRankOk) return code;
    return run_cases(self, cases);
  });
  EXPECT_TRUE(result.all_succeeded()) << cases.size() << " cases\n" << result.describe();
}

std::string layout_name(const ::testing::TestParamInfo<Layout>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Layouts, CollectivesCorrectness,
                         ::testing::Values(Layout::one_node(1), Layout::one_node(2), Layout::one_node(3),
                                           Layout::one_node(4), Layout::one_node(5), Layout::one_node(6),
                                           Layout::one_node(7), Layout::one_node(8), Layout::node_per_rank(2),
                                           Layout::node_per_rank(3), Layout::blocks(2, 2),
                                           Layout::blocks(3, 2),
                                           Layout::of("interleaved4", {"n0", "n1", "n0", "n1"}),
                                           Layout::of("uneven3", {"n0", "n0", "n1"})),
                         layout_name);

class CollectivesLargeCounts : public ::testing::TestWithParam<Layout> {};

TEST_P(CollectivesLargeCounts, OneMebiPlusThreeElements) {
  const Layout layout = GetParam();
  const std::vector<Case> cases = large_cases(layout);
  WorldResult result = run_world(layout, [&](Rank& self) { return run_cases(self, cases); });
  EXPECT_TRUE(result.all_succeeded()) << cases.size() << " cases\n" << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Layouts, CollectivesLargeCounts,
                         ::testing::Values(Layout::one_node(2), Layout::one_node(3), Layout::node_per_rank(2),
                                           Layout::blocks(2, 2)),
                         layout_name);

// The hierarchical layouts exist to run the two-level algorithms: make sure
// the registry offers them and they accept those layouts, or the sweep above
// would quietly test only the flat ones.
TEST(CollectivesCorrectness, HierarchicalAlgorithmsTakeTheEmulatedNodeLayouts) {
  for (const Layout& layout : {Layout::blocks(2, 2), Layout::blocks(3, 2)}) {
    const Topology topology = topology_of(layout);
    for (OpKind kind : {OpKind::Allreduce, OpKind::Allgather, OpKind::ReduceScatter}) {
      const Case c{.kind = kind, .dtype = DType::F32, .algorithm = "hierarchical", .count = 1023};
      EXPECT_TRUE(supported(c, layout, topology)) << c.to_string() << " on " << layout.name;
    }
  }
}

}  // namespace
}  // namespace myriad::test
