// `myriad bench`: benchmarks and the cluster-acceptance suite
// (docs/bench.md). This file only declares the flags; each subcommand's
// work is in launcher/bench/ (the myriad_bench library).
#include <memory>

#include "launcher/bench/subcommands.h"
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

  auto p2p = std::make_shared<bench::P2pCommandOptions>();
  CLI::App* p = bench->add_subcommand("p2p", "Latency and bandwidth between every pair of ranks");
  p->add_option("--backend", p2p->p2p.backend, "native|mpi")->capture_default_str();
  p->add_option("-b,--bytes", p2p->bytes, "bandwidth message size (K, M, G suffixes)")->capture_default_str();
  p->add_option("--latency-bytes", p2p->p2p.latency_bytes, "latency message size")->capture_default_str();
  p->add_option("--window", p2p->p2p.window, "messages in flight per bandwidth iteration")
      ->capture_default_str();
  p->add_option("-n,--iters", p2p->p2p.iterations, "timed iterations (median reported)")
      ->capture_default_str();
  p->add_option("-w,--warmup_iters", p2p->p2p.warmup, "untimed iterations")->capture_default_str();
  p->add_option("--slow-fraction", p2p->p2p.slow_fraction,
                "flag pairs below this share of the median bandwidth")
      ->capture_default_str();
  p->add_option("--json", p2p->json_path, "write the pairs to FILE");

  auto membw = std::make_shared<bench::MembwCommandOptions>();
  CLI::App* m =
      bench->add_subcommand("membw", "Host memory copy/triad bandwidth per rank (and GPU copy bandwidth)");
  m->add_option("-b,--bytes", membw->bytes, "size of each array (K, M, G suffixes)")->capture_default_str();
  m->add_option("-n,--iters", membw->membw.iterations, "iterations (median reported)")->capture_default_str();
  m->add_option("--json", membw->json_path, "write the figures to FILE");

  auto gemm = std::make_shared<bench::GemmCommandOptions>();
  CLI::App* g = bench->add_subcommand("gemm", "cuBLAS GEMM TFLOP/s per GPU (no rows without a GPU)");
  g->add_option("--dtypes", gemm->gemm.dtypes, "fp32, tf32, fp16, bf16")
      ->delimiter(',')
      ->capture_default_str();
  g->add_option("--sizes", gemm->gemm.sizes, "square matrix sizes n")->delimiter(',')->capture_default_str();
  g->add_option("-n,--iters", gemm->gemm.iterations, "timed iterations")->capture_default_str();
  g->add_option("-w,--warmup_iters", gemm->gemm.warmup, "untimed iterations")->capture_default_str();
  g->add_option("--json", gemm->json_path, "write the figures to FILE");

  auto accept = std::make_shared<bench::AcceptCommandOptions>();
  CLI::App* a = bench->add_subcommand("accept", "Run an acceptance spec and print PASS/FAIL per check");
  a->add_option("--spec", accept->spec_path, "YAML or JSON spec (see benchmarks/specs/)")->required();
  a->add_option("--report", accept->report_path, "write a self-contained HTML report with plots to FILE");

  // `accept` is what is left when no other subcommand was parsed.
  return [c, coll, p, p2p, m, membw, g, gemm, accept]() -> int {
    if (c->parsed()) return bench::run_coll_command(*coll);
    if (p->parsed()) return bench::run_p2p_command(*p2p);
    if (m->parsed()) return bench::run_membw_command(*membw);
    if (g->parsed()) return bench::run_gemm_command(*gemm);
    return bench::run_accept_command(*accept);
  };
}

}  // namespace myriad::launcher
