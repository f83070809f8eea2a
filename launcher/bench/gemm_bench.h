// `myriad bench gemm`: dense GEMM throughput (cuBLAS) per GPU, for fp32,
// tf32, fp16 and bf16 at the given square sizes; 2n^3 flops per call.
//
// run_gemm() is collective: each rank measures the GPU it would use
// (local rank modulo the visible devices). A rank without a GPU
// contributes no rows; the result says how many ranks had one.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/bench/bench_world.h"

namespace myriad::bench {

struct GemmOptions {
  std::vector<std::string> dtypes = {"fp32", "tf32", "fp16", "bf16"};
  std::vector<size_t> sizes = {8192};
  int iterations = 20;
  int warmup = 5;
};

struct GemmRow {
  int rank = 0;
  std::string node;
  std::string device;
  std::string dtype;
  size_t n = 0;
  double tflops = 0;
};

struct GemmResult {
  int ranks_with_gpu = 0;
  std::vector<GemmRow> rows;
};

GemmResult run_gemm(BenchWorld& world, const GemmOptions& options);
std::string format_gemm(const GemmResult& result);
nlohmann::json gemm_result_json(const GemmResult& result);

}  // namespace myriad::bench
