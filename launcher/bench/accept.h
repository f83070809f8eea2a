// `myriad bench accept`: runs the checks of an acceptance spec and judges
// each against its threshold.
//
// run_accept() is collective: every rank runs the same spec. Checks run in
// the spec's order of kinds: counts (nodes, ranks, GPUs per node), membw,
// p2p, gemm, then each coll check as a sweep up to its size (x4 steps from
// 1/64 of it, for the report's plot) judged at its size. One Verdict per
// threshold, naming the worst node or pair and, on failure, every failing
// one. A check that cannot run (no GPU for gemm, a backend unavailable
// here) is a FAIL that says why, not an error: the operator sees every
// verdict.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "launcher/bench/accept_spec.h"
#include "launcher/bench/bench_world.h"
#include "launcher/bench/coll_bench.h"
#include "launcher/bench/gemm_bench.h"
#include "launcher/bench/membw_bench.h"
#include "launcher/bench/p2p_bench.h"

namespace myriad::bench {

struct Verdict {
  std::string check;  // "membw.copy_gbs_per_node", "coll[0] allreduce native 1048576 B"
  bool pass = false;
  std::string measured;  // "21.30 GB/s (worst: node vm)"
  std::string expected;  // ">= 5 GB/s"
  std::string failing;   // on FAIL: the nodes or pairs below the threshold, or why it could not run
};

struct CollSweep {
  CollCheck check;
  std::optional<CollResult> result;  // absent when the check could not run
};

struct AcceptResult {
  std::string spec_name;
  int ranks = 1;
  int nodes = 1;
  std::vector<Verdict> verdicts;
  std::optional<MembwResult> membw;
  std::optional<P2pResult> p2p;
  std::optional<GemmResult> gemm;
  std::vector<CollSweep> coll;
  bool passed() const;
};

AcceptResult run_accept(BenchWorld& world, const AcceptSpec& spec);
// "PASS  check  measured ...  expected ..." lines and a summary line.
std::string format_verdicts(const AcceptResult& result);

}  // namespace myriad::bench
