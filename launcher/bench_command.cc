// `myriad bench`: benchmarks and the cluster-acceptance suite
// (docs/bench.md). This file only declares the flags; each subcommand's
// work is in launcher/bench/ (the myriad_bench library).
#include <memory>

#include "launcher/bench/coll_command.h"
#include "launcher/commands.h"

namespace myriad::launcher {

CommandMain add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks and cluster acceptance (see docs/bench.md)");
  bench->require_subcommand(1);

  auto coll = std::make_shared<bench::CollCommandOptions>();
  CLI::App* c = bench->add_subcommand("coll", "Sweep collectives over sizes (nccl-tests' flags and table)");
  c->add_option("--op", coll->op, "allreduce|allgather|reducescatter|broadcast|reduce|alltoall|sendrecv|all")
      ->capture_default_str();
  c->add_option("--backend", coll->coll.backend, "native|mpi|nccl")->capture_default_str();
  c->add_option("-b,--minbytes", coll->min_bytes, "smallest size (K, M, G suffixes)")->capture_default_str();
  c->add_option("-e,--maxbytes", coll->max_bytes, "largest size")->capture_default_str();
  c->add_option("-f,--stepfactor", coll->coll.factor, "multiply the size by this")->capture_default_str();
  c->add_option("-i,--stepbytes", coll->increment, "add this to the size (instead of -f)");
  c->add_option("-n,--iters", coll->coll.iterations, "timed iterations")->capture_default_str();
  c->add_option("-w,--warmup_iters", coll->coll.warmup, "untimed warm-up iterations")->capture_default_str();
  c->add_option("-c,--check", coll->check, "check results (0/1)")->capture_default_str();
  c->add_option("-d,--datatype", coll->dtype, "float, half, bfloat16, double, int8, uint8, int32, int64")
      ->capture_default_str();
  c->add_option("-o,--op_type", coll->redop, "sum, prod, min, max, avg")->capture_default_str();
  c->add_option("-r,--root", coll->coll.root, "root rank of broadcast and reduce")->capture_default_str();
  c->add_option("-z,--blocking", coll->blocking, "wait for each operation before the next (0/1)")
      ->capture_default_str();
  c->add_option("--json", coll->json_path, "write every row with percentiles and per-rank figures to FILE");

  return [bench, c, coll]() -> int {
    if (c->parsed()) return bench::run_coll_command(*coll);
    return 2;
  };
}

}  // namespace myriad::launcher
