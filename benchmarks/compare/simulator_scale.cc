// The simulator's peak memory and time at one rank count: one collective's
// schedule for every rank of NODES x PER_NODE ranks through simulate(),
// timed at --count elements without data or, with --check, with the data
// check. Prints one JSON line; run it under `/usr/bin/time -v` for the peak
// resident size (docs/BENCHMARKS.md, "Simulator at scale"). It calls only
// simulate(), whose signature predates issue 16, so the same file built in
// an older checkout measures the simulator before the change.
//
//   simulator_scale --collective allreduce --algorithm ring --nodes 512 --ranks-per-node 8 --count 67108864
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "collectives/native/algorithm.h"
#include "collectives/native/cost_model.h"
#include "collectives/native/simulator.h"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"The native simulator at one rank count"};
  std::string collective = "allreduce";
  std::string algorithm_name = "ring";
  int nodes = 128;
  int per_node = 8;
  uint64_t count = 1024;
  size_t element_bytes = 4;
  bool check = false;
  app.add_option("--collective", collective)->capture_default_str();
  app.add_option("--algorithm", algorithm_name)->capture_default_str();
  app.add_option("--nodes", nodes)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ranks-per-node", per_node)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--count", count, "elements, as CollectiveArgs::count")->capture_default_str();
  app.add_option("--element-bytes", element_bytes)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--check", check, "move real data and check it");
  CLI11_PARSE(app, argc, argv);
  const myriad::Topology topology = myriad::Topology::uniform(nodes, per_node);
  myriad::CollectiveArgs args;
  args.kind = myriad::parse_op_kind(collective);
  args.size = topology.size();
  args.count = count;
  args.element_bytes = element_bytes;
  args.topology = &topology;
  const myriad::Algorithm* algorithm = myriad::find_algorithm(args.kind, algorithm_name);
  if (algorithm == nullptr) {
    std::fprintf(stderr, "simulator_scale: no algorithm %s for %s\n", algorithm_name.c_str(),
                 collective.c_str());
    return 2;
  }
  myriad::SimulationOptions options;
  options.check_data = check;
  const auto start = std::chrono::steady_clock::now();
  const myriad::SimulationResult result =
      myriad::simulate(args, *algorithm, topology, myriad::CostModel::defaults(), options);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"ranks\":%d,\"ok\":%s,\"estimated_s\":%g,\"messages\":%llu,\"wall_s\":%.2f}\n", args.size,
              result.ok ? "true" : "false", result.seconds, static_cast<unsigned long long>(result.messages),
              wall);
  if (!result.ok) std::fprintf(stderr, "simulator_scale: %s\n", result.error.c_str());
  return result.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulator_scale: %s\n", e.what());
    return 1;
  }
}
