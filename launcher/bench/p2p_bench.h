// `myriad bench p2p`: latency and bandwidth between every pair of ranks, as
// osu_latency and osu_bw measure them, over whatever link the backend uses
// for the pair (the native backend: shared memory within a node, TCP
// between nodes).
//
// run_p2p() is collective. Pairs (i, j), i < j, are measured one at a time
// while the other ranks wait at a barrier, so that no two pairs share the
// machine's links during a measurement. Latency: half the round trip of a
// `latency_bytes` ping-pong, median over iterations. Bandwidth: i sends a
// window of `window` messages of `bytes` to j, which acknowledges the
// window with one small message; bytes x window / time, median over
// iterations. A pair whose bandwidth is below `slow_fraction` of the median
// pair is flagged (a slow link or node).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/bench/bench_world.h"

namespace myriad::bench {

struct P2pOptions {
  std::string backend = "native";
  size_t bytes = 4u << 20;
  size_t latency_bytes = 8;
  int window = 16;
  int iterations = 10;
  int warmup = 2;
  double slow_fraction = 0.5;
  bool progress = false;
};

struct P2pPair {
  int a = 0;
  int b = 0;
  std::string link;  // "shm" (same node) or "net" (different nodes)
  double latency_us = 0;
  double bandwidth_gbs = 0;
  bool slow = false;
};

struct P2pResult {
  std::string backend;
  int ranks = 1;
  std::vector<std::string> rank_nodes;
  size_t bytes = 0;
  std::vector<P2pPair> pairs;
  double median_gbs = 0;
};

P2pResult run_p2p(BenchWorld& world, const P2pOptions& options);
// The bandwidth matrix, the latency matrix and the flagged pairs, as text.
std::string format_p2p(const P2pResult& result, double slow_fraction);
nlohmann::json p2p_result_json(const P2pResult& result);

}  // namespace myriad::bench
