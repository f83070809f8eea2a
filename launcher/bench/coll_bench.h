// `myriad bench coll`: a sweep of one or every collective over sizes, on
// one backend, measured as nccl-tests measures (flags and table: see
// docs/bench.md).
//
// run_coll() is collective: every rank of the BenchWorld calls it with the
// same options. For each op and size it runs `warmup` untimed iterations,
// then `iterations` timed ones out of place and again in place, then (with
// check) one more on freshly filled buffers whose result every rank
// verifies (coll_data.h). Times are averaged over the ranks for the table;
// each rank's mean and maximum are kept so that stragglers show.
//
// Blocking (-z 1) waits for each operation before starting the next, and
// every iteration is one timing sample; non-blocking (-z 0) issues all
// iterations at once and a sample is the gap between successive
// completions. Broadcast and sendrecv have one buffer form in Myriad's API,
// so their in-place columns measure the same call as out-of-place.
//
// Test-only fault: MYRIAD_BENCH_FAULT_CORRUPT=<rank> makes that rank alter
// one element of every checked result before verifying it, so #wrong counts
// it (used by the tests to prove the check; never set it in a real run).
//
// Errors: a backend that cannot run here, or an operation that fails, is
// a myriad::Error naming the backend, op and size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launcher/bench/bench_world.h"
#include "launcher/bench/coll_ops.h"

namespace myriad::bench {

inline constexpr size_t kDefaultCollBytes = 32u << 20;  // nccl-tests' -b/-e default
inline constexpr int kDefaultIterations = 20;
inline constexpr int kDefaultWarmup = 5;
inline constexpr const char* kFaultCorruptEnv = "MYRIAD_BENCH_FAULT_CORRUPT";

struct CollOptions {
  std::vector<CollOp> ops = {CollOp::Allreduce};
  std::string backend = "native";
  size_t min_bytes = kDefaultCollBytes;
  size_t max_bytes = kDefaultCollBytes;
  double factor = 2.0;
  size_t increment = 0;
  int iterations = kDefaultIterations;
  int warmup = kDefaultWarmup;
  bool check = true;
  DType dtype = DType::F32;
  ReduceOp redop = ReduceOp::Sum;
  int root = 0;
  bool blocking = false;
  bool progress = false;  // a progress line on stderr (rank 0)
};

// One placement (out-of-place or in-place) of one row.
struct CollMeasurement {
  double time_us = 0;  // mean over iterations, averaged over the ranks
  double algbw = 0;    // GB/s
  double busbw = 0;    // GB/s
  int64_t wrong = -1;  // wrong elements summed over ranks; -1: not checked
  double p50_us = 0;   // of the per-iteration samples, slowest rank per iteration
  double p95_us = 0;
  double p99_us = 0;
  std::vector<double> rank_mean_us;  // indexed by rank
  std::vector<double> rank_max_us;
  std::vector<uint64_t> rank_wrong;
};

struct CollRow {
  CollOp op = CollOp::Allreduce;
  CollShape shape;
  DType dtype = DType::F32;
  ReduceOp redop = ReduceOp::Sum;
  int root = -1;  // -1 for ops without a root
  CollMeasurement out_of_place;
  CollMeasurement in_place;
};

struct CollResult {
  std::string backend;
  int ranks = 1;
  int nodes = 1;
  std::vector<std::string> rank_nodes;
  std::vector<CollRow> rows;
  double avg_busbw = 0;  // over every row and placement, as nccl-tests' footer
  uint64_t wrong_total = 0;
  bool checked = false;
};

CollResult run_coll(BenchWorld& world, const CollOptions& options);

// Size with an optional K, M, G suffix (powers of 1024), as nccl-tests reads -b/-e/-i.
size_t parse_size(const std::string& text);

}  // namespace myriad::bench
