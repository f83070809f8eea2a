#include "launcher/bench/gemm_bench.h"

#include "launcher/bench/device.h"
#include "runtime/error.h"

namespace myriad::bench {

GemmResult run_gemm(BenchWorld& world, const GemmOptions& options) {
  for (const std::string& dtype : options.dtypes) {
    if (dtype != "fp32" && dtype != "tf32" && dtype != "fp16" && dtype != "bf16") {
      raise(ErrorCode::InvalidArgument, "gemm --dtypes: '{}' is not one of fp32, tf32, fp16, bf16", dtype);
    }
  }
  std::string mine;
  const int devices = device_count();
  if (devices > 0) {
    int device = world.world()->local_rank() % devices;
    set_device(device);
    std::string name = device_name(device);
    for (size_t n : options.sizes) {
      for (const std::string& dtype : options.dtypes) {
        double tflops = gemm_tflops(dtype, n, options.warmup, options.iterations);
        mine += fmt::format("{}\t{}\t{}\t{:a}\n", name, dtype, n, tflops);
      }
    }
  }
  GemmResult result;
  std::vector<std::string> all = world.gather(mine);
  for (size_t r = 0; r < all.size(); ++r) {
    if (!all[r].empty()) ++result.ranks_with_gpu;
    size_t at = 0;
    while (at < all[r].size()) {
      size_t end = all[r].find('\n', at);
      std::string line = all[r].substr(at, end - at);
      at = end + 1;
      size_t t1 = line.find('\t');
      size_t t2 = line.find('\t', t1 + 1);
      size_t t3 = line.find('\t', t2 + 1);
      GemmRow row;
      row.rank = static_cast<int>(r);
      row.node = world.nodes()[r];
      row.device = line.substr(0, t1);
      row.dtype = line.substr(t1 + 1, t2 - t1 - 1);
      row.n = std::stoull(line.substr(t2 + 1, t3 - t2 - 1));
      row.tflops = std::strtod(line.c_str() + t3 + 1, nullptr);
      result.rows.push_back(row);
    }
  }
  return result;
}

std::string format_gemm(const GemmResult& result) {
  if (result.ranks_with_gpu == 0) return "# myriad bench gemm: no GPU on any rank; nothing to measure\n";
  std::string out =
      fmt::format("# myriad bench gemm: cuBLAS, {} rank(s) with a GPU\n", result.ranks_with_gpu);
  out += fmt::format("#{:>5}  {:>12}  {:>24}  {:>5}  {:>6}  {:>9}\n", "rank", "node", "device", "type", "n",
                     "TFLOP/s");
  for (const GemmRow& row : result.rows) {
    out += fmt::format("{:>6}  {:>12}  {:>24}  {:>5}  {:>6}  {:9.1f}\n", row.rank, row.node, row.device,
                       row.dtype, row.n, row.tflops);
  }
  return out;
}

nlohmann::json gemm_result_json(const GemmResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const GemmRow& r : result.rows) {
    rows.push_back({{"rank", r.rank},
                    {"node", r.node},
                    {"device", r.device},
                    {"dtype", r.dtype},
                    {"n", r.n},
                    {"tflops", r.tflops}});
  }
  return {{"version", 1},
          {"tool", "myriad bench gemm"},
          {"ranks_with_gpu", result.ranks_with_gpu},
          {"rows", rows}};
}

}  // namespace myriad::bench
