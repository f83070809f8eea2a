// Every built-in algorithm, for every op it implements, run through the
// simulator and checked against the reference: rank counts 1-8, 13, 16,
// 17; counts 0, 1, 7, 1023 and n*k+3; in place and out of place; every root
// shape for the rooted ops; uniform and non-uniform topologies for the
// hierarchical ones; and the 1,024-rank data-flow check.
#include <gtest/gtest.h>

#include <string>

#include "collectives/native/algorithm.h"
#include "collectives/native/algorithms/ring_pass.h"
#include "collectives/native/cost_model.h"
#include "collectives/native/simulator.h"
#include "sim_test_util.h"

namespace myriad {
namespace {

using testing::collective_kinds;
using testing::describe;
using testing::is_rooted;
using testing::make_args;
using testing::topologies_for;

const int kRankCounts[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 17};

std::vector<uint64_t> counts_for(int n) {
  return {0, 1, 7, 1023, static_cast<uint64_t>(n) * 5 + 3};
}

bool hierarchical(const Algorithm& algorithm) {
  return algorithm.name() == "hierarchical";
}

void expect_correct(const CollectiveArgs& args, const Algorithm& algorithm, const Topology& topology,
                    bool in_place) {
  SimulationOptions options;
  options.in_place = in_place;
  const SimulationResult result = simulate(args, algorithm, topology, CostModel::defaults(), options);
  EXPECT_TRUE(result.ok) << op_kind_name(args.kind) << " " << algorithm.name() << " n=" << args.size
                         << " count=" << args.count << " root=" << args.root << " eb=" << args.element_bytes
                         << (in_place ? " in place" : " out of place") << " topology " << describe(topology)
                         << ": " << result.error;
}

TEST(AlgorithmsTest, EveryOpHasAnAlgorithm) {
  for (OpKind kind : collective_kinds()) EXPECT_FALSE(algorithms_for(kind).empty()) << op_kind_name(kind);
}

TEST(AlgorithmsTest, EveryAlgorithmEveryOpSweep) {
  for (OpKind kind : collective_kinds()) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      for (int n : kRankCounts) {
        const std::vector<Topology> topologies =
            hierarchical(*algorithm) ? topologies_for(n) : std::vector<Topology>{Topology::uniform(1, n)};
        for (const Topology& topology : topologies) {
          for (uint64_t count : counts_for(n)) {
            if (kind == OpKind::Barrier && count != 0) continue;
            // Rooted ops move the root with the count: 0, 1, ... modulo n.
            const int root = is_rooted(kind) ? static_cast<int>(count % n) : 0;
            CollectiveArgs args = make_args(kind, n, count, root);
            args.topology = &topology;
            ASSERT_TRUE(algorithm->supports(args)) << algorithm->name() << " " << op_kind_name(kind);
            for (bool in_place : {false, true}) expect_correct(args, *algorithm, topology, in_place);
          }
        }
      }
    }
  }
}

TEST(AlgorithmsTest, RootedOpsWorkFromEveryRoot) {
  for (OpKind kind : {OpKind::Reduce, OpKind::Broadcast, OpKind::Gather, OpKind::Scatter}) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      for (int n : {5, 8, 13}) {
        for (int root = 0; root < n; ++root) {
          for (bool in_place : {false, true}) {
            expect_correct(make_args(kind, n, 3, root), *algorithm, Topology::uniform(1, n), in_place);
          }
        }
      }
    }
  }
}

TEST(AlgorithmsTest, OddElementSizes) {
  for (size_t element_bytes : {size_t{1}, size_t{2}, size_t{4}, size_t{12}}) {
    for (OpKind kind : collective_kinds()) {
      for (const Algorithm* algorithm : algorithms_for(kind)) {
        for (int n : {3, 6}) {
          const CollectiveArgs args = make_args(kind, n, 11, 1, element_bytes);
          const Topology topology =
              hierarchical(*algorithm) ? Topology::uniform(n / 3, 3) : Topology::uniform(1, n);
          for (bool in_place : {false, true}) expect_correct(args, *algorithm, topology, in_place);
        }
      }
    }
  }
}

// Counts big enough that ring chunks split into several pipelined slices,
// and that the hierarchical allreduce's inter-node phase uses the ring.
TEST(AlgorithmsTest, LargeCountsPipelineRingSlices) {
  const uint64_t slice_elements = kRingSliceBytes / 8;
  for (OpKind kind : {OpKind::Allreduce, OpKind::Allgather, OpKind::ReduceScatter, OpKind::ReduceScatterv}) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      const bool per_rank = kind != OpKind::Allreduce;
      const int n = 3;
      const uint64_t count = per_rank ? 2 * slice_elements + 5 : 3 * (2 * slice_elements + 5) + 2;
      const CollectiveArgs args = make_args(kind, n, count);
      const Topology topology =
          hierarchical(*algorithm) ? Topology(std::vector<int>{0, 0, 1}) : Topology::uniform(1, n);
      for (bool in_place : {false, true}) expect_correct(args, *algorithm, topology, in_place);
    }
  }
  // Three nodes of two: each lane of 3 * 2 * 128 KiB gives every node a
  // 128 KiB+ chunk, so the inter-node allreduce is a ring.
  const uint64_t count = uint64_t{2} * 3 * (128 * 1024 / 8) + 7;
  expect_correct(make_args(OpKind::Allreduce, 6, count), *find_algorithm(OpKind::Allreduce, "hierarchical"),
                 Topology::uniform(3, 2), false);
  expect_correct(make_args(OpKind::Allreduce, 6, count), *find_algorithm(OpKind::Allreduce, "hierarchical"),
                 Topology::uniform(3, 2), true);
}

// Every algorithm's data flow at 1,024 simulated ranks; hierarchical ones
// as 128 nodes of 8.
TEST(AlgorithmsTest, ThousandTwentyFourRanks) {
  const int n = 1024;
  const Topology nodes = Topology::uniform(128, 8);
  for (OpKind kind : collective_kinds()) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      uint64_t count = 2;  // per rank, or per pair for alltoall
      if (kind == OpKind::Allreduce || kind == OpKind::Reduce || kind == OpKind::Broadcast) count = 2 * n + 3;
      if (kind == OpKind::Barrier) count = 0;
      const CollectiveArgs args = make_args(kind, n, count, is_rooted(kind) ? 517 : 0);
      expect_correct(args, *algorithm, nodes, kind == OpKind::Allreduce);
    }
  }
}

TEST(AlgorithmsTest, SchedulesAreDeterministic) {
  for (OpKind kind : collective_kinds()) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      const Topology topology = Topology::uniform(3, 2);
      CollectiveArgs args = make_args(kind, 6, 100, 2);
      args.topology = &topology;
      for (int rank = 0; rank < 6; ++rank) {
        args.rank = rank;
        EXPECT_EQ(schedule_to_string(algorithm->build(args)), schedule_to_string(algorithm->build(args)));
      }
    }
  }
}

TEST(AlgorithmsTest, UnsupportedArgumentsAreRefused) {
  const Topology topology = Topology::uniform(1, 4);
  CollectiveArgs args = make_args(OpKind::Allgatherv, 4, 3);
  args.topology = &topology;
  args.counts.pop_back();  // one count short
  for (const Algorithm* algorithm : algorithms_for(OpKind::Allgatherv))
    EXPECT_FALSE(algorithm->supports(args));
  args = make_args(OpKind::Allreduce, 4, 3);
  args.topology = &topology;
  args.counts = {1, 2, 3, 4};  // counts on a non-`v` op
  for (const Algorithm* algorithm : algorithms_for(OpKind::Allreduce))
    EXPECT_FALSE(algorithm->supports(args));
  args.counts.clear();
  args.root = 4;  // outside the communicator
  for (const Algorithm* algorithm : algorithms_for(OpKind::Allreduce))
    EXPECT_FALSE(algorithm->supports(args));
}

}  // namespace
}  // namespace myriad
