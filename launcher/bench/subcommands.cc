#include "launcher/bench/coll_command.h"

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
  return result.wrong_total == 0 ? 0 : kBenchFailedExit;
}

}  // namespace myriad::bench
