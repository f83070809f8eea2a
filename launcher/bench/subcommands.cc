#include "launcher/bench/subcommands.h"

#include <unistd.h>

#include <fstream>
#include <iostream>

#include "launcher/bench/table.h"
#include "runtime/error.h"

namespace myriad::bench {

void write_json_file(const std::string& path, const nlohmann::json& document) {
  std::ofstream out(path);
  if (!out) raise(ErrorCode::Io, "--json {}: cannot open for writing", path);
  out << document.dump(2) << "\n";
  if (!out) raise(ErrorCode::Io, "--json {}: write failed", path);
}

int run_coll_command(CollCommandOptions options) {
  CollOptions& coll = options.coll;
  coll.ops = parse_coll_ops(options.op);
  coll.min_bytes = parse_size(options.min_bytes);
  coll.max_bytes = parse_size(options.max_bytes);
  coll.increment = options.increment.empty() ? 0 : parse_size(options.increment);
  coll.dtype = parse_dtype(options.dtype);
  coll.redop = parse_reduce_op(options.redop);
  coll.check = options.check != 0;
  coll.blocking = options.blocking != 0;
  coll.progress = true;

  BenchWorld world = BenchWorld::join();
  CollResult result = run_coll(world, coll);
  if (world.rank() == 0) {
    std::cout << format_table(result) << std::flush;
    if (!options.json_path.empty()) write_json_file(options.json_path, coll_result_json(result));
  }
  // A failing verdict is every rank's exit code; the others wait for rank 0's
  // report first, or the launcher would stop rank 0 as soon as one of them exits.
  world.barrier();
  return result.wrong_total == 0 ? 0 : kBenchFailedExit;
}

}  // namespace myriad::bench

namespace myriad::bench {

int run_p2p_command(P2pCommandOptions options) {
  options.p2p.bytes = parse_size(options.bytes);
  options.p2p.progress = true;
  BenchWorld world = BenchWorld::join();
  P2pResult result = run_p2p(world, options.p2p);
  if (world.rank() == 0) {
    std::cout << format_p2p(result, options.p2p.slow_fraction) << std::flush;
    if (!options.json_path.empty()) write_json_file(options.json_path, p2p_result_json(result));
  }
  return 0;
}

int run_membw_command(MembwCommandOptions options) {
  options.membw.bytes = parse_size(options.bytes);
  BenchWorld world = BenchWorld::join();
  MembwResult result = run_membw(world, options.membw);
  if (world.rank() == 0) {
    std::cout << format_membw(result) << std::flush;
    if (!options.json_path.empty()) write_json_file(options.json_path, membw_result_json(result));
  }
  return 0;
}

int run_gemm_command(const GemmCommandOptions& options) {
  BenchWorld world = BenchWorld::join();
  GemmResult result = run_gemm(world, options.gemm);
  if (world.rank() == 0) {
    std::cout << format_gemm(result) << std::flush;
    if (!options.json_path.empty()) write_json_file(options.json_path, gemm_result_json(result));
  }
  return 0;
}

}  // namespace myriad::bench

#include "launcher/bench/accept.h"
#include "launcher/bench/report_html.h"

namespace myriad::bench {

int run_accept_command(const AcceptCommandOptions& options) {
  // Parsed before joining, so that a bad spec fails at once on every rank.
  AcceptSpec spec = load_accept_spec(options.spec_path);
  BenchWorld world = BenchWorld::join();
  AcceptResult result = run_accept(world, spec);
  if (world.rank() == 0) {
    std::cout << format_verdicts(result) << std::flush;
    if (!options.report_path.empty()) {
      std::ofstream out(options.report_path);
      out << render_report(result);
      if (!out) raise(ErrorCode::Io, "--report {}: write failed", options.report_path);
    }
  }
  world.barrier();  // as in run_coll_command: rank 0 reports before any rank exits failing
  return result.passed() ? 0 : kBenchFailedExit;
}

}  // namespace myriad::bench
