// The entry points of `myriad bench`'s subcommands, called by
// launcher/bench_command.cc after CLI11 has parsed the flags. Each joins
// the job (BenchWorld::join), runs its benchmark collectively, prints on
// rank 0, and returns the process exit code: 0 on success, kBenchFailedExit
// when a result was wrong or an acceptance check failed (on every rank, so
// `myriad run` reports it).
#pragma once

#include <string>

#include "launcher/bench/coll_bench.h"
#include "launcher/bench/gemm_bench.h"
#include "launcher/bench/membw_bench.h"
#include "launcher/bench/p2p_bench.h"

namespace myriad::bench {

inline constexpr int kBenchFailedExit = 1;

struct CollCommandOptions {
  CollOptions coll;
  std::string op = "allreduce";
  std::string min_bytes = "32M";
  std::string max_bytes = "32M";
  std::string increment;
  std::string dtype = "float";
  std::string redop = "sum";
  int check = 1;
  int blocking = 0;
  std::string json_path;
};

int run_coll_command(CollCommandOptions options);

struct P2pCommandOptions {
  P2pOptions p2p;
  std::string bytes = "4M";
  std::string json_path;
};
int run_p2p_command(P2pCommandOptions options);

struct MembwCommandOptions {
  MembwOptions membw;
  std::string bytes = "64M";
  std::string json_path;
};
int run_membw_command(MembwCommandOptions options);

struct GemmCommandOptions {
  GemmOptions gemm;
  std::string json_path;
};
int run_gemm_command(const GemmCommandOptions& options);

struct AcceptCommandOptions {
  std::string spec_path;
  std::string report_path;
  std::string json_path;
};
int run_accept_command(const AcceptCommandOptions& options);

// Writes `document` to `path`; Error(Io) naming the path on failure.
void write_json_file(const std::string& path, const nlohmann::json& document);

}  // namespace myriad::bench
