// Time to build one rank's schedule, per algorithm, at 16 to 16,384 ranks.
// The communicator caches schedules per shape, so this is a first-call
// cost; it also bounds how large a simulation stays quick.
//   schedule_bench --benchmark_filter=allreduce
#include <benchmark/benchmark.h>

#include <string>

#include "collectives/native/algorithm.h"
#include "collectives/native/topology.h"

namespace myriad {
namespace {

// Ranks per node of the topology the hierarchical algorithms see.
constexpr int kRanksPerNode = 8;
// Elements per rank (or per pair for alltoall): small enough that the cost
// is the schedule's structure, not its byte arithmetic.
constexpr uint64_t kCount = 1024;

void build_schedule(benchmark::State& state, OpKind kind, const Algorithm* algorithm) {
  const int n = static_cast<int>(state.range(0));
  const Topology topology = Topology::uniform(n / kRanksPerNode, kRanksPerNode);
  CollectiveArgs args;
  args.kind = kind;
  args.size = n;
  args.rank = n / 2 + 1;  // not the root, not rank 0
  args.count = kCount;
  args.element_bytes = 4;
  args.topology = &topology;
  if (kind == OpKind::Allgatherv || kind == OpKind::ReduceScatterv) args.counts.assign(n, kCount);
  if (kind == OpKind::Alltoallv) args.counts.assign(static_cast<size_t>(n) * n, 1);
  size_t steps = 0;
  for (auto _ : state) {
    Schedule schedule = algorithm->build(args);
    steps = 0;
    for (const Round& round : schedule.rounds) steps += round.steps.size();
    benchmark::DoNotOptimize(schedule);
  }
  state.counters["steps"] = static_cast<double>(steps);
}

const int kRegistered = [] {
  for (OpKind kind : {OpKind::Allreduce, OpKind::Reduce, OpKind::Broadcast, OpKind::Allgather,
                      OpKind::Allgatherv, OpKind::ReduceScatter, OpKind::ReduceScatterv, OpKind::Alltoall,
                      OpKind::Alltoallv, OpKind::Gather, OpKind::Scatter, OpKind::Barrier}) {
    for (const Algorithm* algorithm : algorithms_for(kind)) {
      const std::string name = std::string(op_kind_name(kind)) + "/" + std::string(algorithm->name());
      auto* bench = benchmark::RegisterBenchmark(name.c_str(), build_schedule, kind, algorithm);
      // alltoallv's n*n counts matrix dominates beyond 4,096 ranks.
      bench->RangeMultiplier(4)
          ->Range(16, kind == OpKind::Alltoallv ? 4096 : 16384)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return 0;
}();

}  // namespace
}  // namespace myriad

BENCHMARK_MAIN();
