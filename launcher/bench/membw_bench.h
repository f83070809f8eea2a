// `myriad bench membw`: host memory bandwidth per rank, as STREAM counts it
// (copy a[i] = b[i] moves 2 x bytes; triad a[i] = b[i] + s x c[i] moves
// 3 x bytes), and device copy bandwidth where the rank has a GPU.
//
// run_membw() is collective: every rank measures at the same time (after a
// barrier), because a node's ranks share its memory; a node's figure is the
// sum of its ranks'. Each figure is the median over iterations.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/bench/bench_world.h"

namespace myriad::bench {

struct MembwOptions {
  size_t bytes = 64u << 20;  // per array
  int iterations = 10;
  bool device = true;  // also the GPU's copy bandwidth, where there is one
};

struct MembwRank {
  std::string node;
  double copy_gbs = 0;
  double triad_gbs = 0;
  double device_copy_gbs = -1;  // -1: no GPU
};

struct MembwResult {
  size_t bytes = 0;
  std::vector<MembwRank> ranks;  // indexed by rank
  // Sums over each node's ranks, by node.
  std::map<std::string, double> node_copy_gbs;
  std::map<std::string, double> node_triad_gbs;
};

MembwResult run_membw(BenchWorld& world, const MembwOptions& options);
std::string format_membw(const MembwResult& result);
nlohmann::json membw_result_json(const MembwResult& result);

}  // namespace myriad::bench
