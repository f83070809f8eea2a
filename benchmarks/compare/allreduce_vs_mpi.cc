// All-reduce: Myriad's native backend against the MPI library's
// MPI_Allreduce, interleaved in one MPI program so that both see the same
// placement of the ranks on the cores (docs/BENCHMARKS.md explains why only
// interleaved ratios are meaningful on the project's machines).
//
//   mpirun -np 2 allreduce_vs_mpi [--min-bytes 4096] [--max-bytes 268435456]
//                                 [--nodes N] [--algorithms ring,hierarchical]
//
// Rank 0 starts a rendezvous store and hands its port to the others through
// MPI. For each size (f32 sum, in place) the program runs blocks of
// iterations alternately: Myriad with each requested algorithm (or the
// selector's choice), then MPI, and records per block the slowest rank's
// time. It prints per size the median time of each, busbw as nccl-tests
// defines it (2(n-1)/n x bytes / time), the median and p10/p90 of the
// per-pair ratios MPI time / Myriad time, and for 2 ranks the memory
// bound: the time both ranks take, concurrently, to reduce half the buffer
// and copy the other half — the least memory traffic any 2-rank all-reduce
// must do — as a fraction of Myriad's time.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "kernels/reduce.h"
#include "runtime/bootstrap.h"
#include "runtime/tcp_store.h"

namespace {

using Clock = std::chrono::steady_clock;

// Each timed block lasts about this long, so that block-to-block noise
// (the cores moving between placements) averages out within a block less
// than it would across the whole run.
constexpr double kBlockSeconds = 0.02;
constexpr int kPairs = 15;

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<size_t>(std::lround(p * static_cast<double>(values.size() - 1)));
  return values[index];
}

double slowest(double seconds) {
  double out = 0;
  MPI_Allreduce(&seconds, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

template <typename Fn>
double time_block(int iterations, Fn fn) {
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) fn();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return slowest(elapsed) / iterations;
}

std::shared_ptr<myriad::World> join_world(int rank, int size, int nodes) {
  myriad::BootstrapInfo info = myriad::detect_bootstrap(myriad::Env::process());
  int port = 0;
  char token[33] = {};
  std::unique_ptr<myriad::TcpStoreServer> server;
  if (rank == 0) {
    std::random_device random;
    std::snprintf(token, sizeof(token), "%08x%08x%08x%08x", random(), random(), random(), random());
    server = std::make_unique<myriad::TcpStoreServer>(myriad::TcpStoreServerOptions{.token = token});
    port = server->port();
  }
  MPI_Bcast(&port, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(token, sizeof(token), MPI_CHAR, 0, MPI_COMM_WORLD);
  int job = static_cast<int>(getpid());
  MPI_Bcast(&job, 1, MPI_INT, 0, MPI_COMM_WORLD);
  info.run_id = "bench" + std::to_string(job);
  info.node = "n" + std::to_string(rank / std::max(1, size / nodes));
  auto store = std::make_shared<myriad::TcpStore>(
      myriad::TcpStoreOptions{.port = static_cast<uint16_t>(port), .token = token});
  std::shared_ptr<myriad::World> world = myriad::World::join(info, store);
  // The server must outlive every rank's use of the store: keep it until exit.
  static std::unique_ptr<myriad::TcpStoreServer> keep;
  keep = std::move(server);
  return world;
}

}  // namespace

static int run(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  CLI::App app("Myriad all-reduce against MPI_Allreduce, interleaved");
  uint64_t min_bytes = 4096;
  uint64_t max_bytes = 256ull << 20;
  int nodes = 1;
  std::string algorithms_text;
  app.add_option("--min-bytes", min_bytes, "smallest size");
  app.add_option("--max-bytes", max_bytes, "largest size");
  app.add_option("--nodes", nodes, "emulated nodes (consecutive ranks share a node)");
  app.add_option("--algorithms", algorithms_text, "comma-separated Myriad algorithms; empty: the selector's");
  CLI11_PARSE(app, argc, argv);

  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::shared_ptr<myriad::World> world = join_world(rank, size, nodes);
  std::shared_ptr<myriad::Communicator> comm = myriad::Communicator::create(world);

  std::vector<std::string> algorithms;
  for (size_t at = 0; at <= algorithms_text.size();) {
    size_t comma = algorithms_text.find(',', at);
    if (comma == std::string::npos) comma = algorithms_text.size();
    if (comma > at) algorithms.push_back(algorithms_text.substr(at, comma - at));
    at = comma + 1;
  }
  if (algorithms.empty()) algorithms.push_back("");

  if (rank == 0) {
    std::printf(
        "# %d ranks, %d emulated node(s), f32 sum in place; times are medians over %d interleaved blocks\n",
        size, nodes, kPairs);
    std::printf("%12s %-14s %11s %11s %9s %9s %7s %7s %7s %8s\n", "bytes", "myriad algo", "myriad us",
                "mpi us", "myriad bw", "mpi bw", "ratio", "p10", "p90", "of bound");
  }
  const double bus_factor = 2.0 * (size - 1) / size;
  for (uint64_t bytes = min_bytes; bytes <= max_bytes; bytes *= 4) {
    uint64_t count = bytes / sizeof(float);
    std::vector<float> buffer(count, 1.0f);
    std::vector<float> half_a(count / 2 + 1, 1.0f);
    std::vector<float> half_b(count / 2 + 1, 2.0f);
    std::vector<float> half_c(count / 2 + 1, 0.0f);
    myriad::TensorView view{buffer.data(), count, myriad::DType::F32};

    auto run_mpi = [&] {
      MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    };
    // Warm up both, and size the blocks from MPI's time.
    for (int i = 0; i < 3; ++i) run_mpi();
    double estimate = time_block(3, run_mpi);
    int iterations = std::clamp(static_cast<int>(kBlockSeconds / std::max(estimate, 1e-7)), 1, 2000);
    MPI_Bcast(&iterations, 1, MPI_INT, 0, MPI_COMM_WORLD);

    for (const std::string& algorithm : algorithms) {
      auto run_myriad = [&] { comm->allreduce(view, {.algorithm = algorithm})->wait(); };
      for (int i = 0; i < 3; ++i) run_myriad();
      std::vector<double> ours;
      std::vector<double> theirs;
      std::vector<double> ratios;
      std::vector<double> bounds;
      for (int pair = 0; pair < kPairs; ++pair) {
        double a = time_block(iterations, run_myriad);
        double b = time_block(iterations, run_mpi);
        ours.push_back(a);
        theirs.push_back(b);
        ratios.push_back(b / a);
        if (size == 2) {
          bounds.push_back(time_block(iterations, [&] {
            myriad::kernels::reduce(myriad::kernels::ReduceKind::Sum, half_a.data(), half_b.data(),
                                    count / 2);
            std::memcpy(half_c.data(), half_b.data(), (count / 2) * sizeof(float));
          }));
        }
      }
      if (rank == 0) {
        double t_ours = percentile(ours, 0.5);
        double t_theirs = percentile(theirs, 0.5);
        std::string of_bound =
            bounds.empty() ? "-"
                           : std::to_string(static_cast<int>(100 * percentile(bounds, 0.5) / t_ours)) + "%";
        std::printf("%12llu %-14s %11.1f %11.1f %9.2f %9.2f %7.2f %7.2f %7.2f %8s\n",
                    static_cast<unsigned long long>(bytes),
                    algorithm.empty() ? "(selected)" : algorithm.c_str(), t_ours * 1e6, t_theirs * 1e6,
                    bus_factor * static_cast<double>(bytes) / t_ours / 1e9,
                    bus_factor * static_cast<double>(bytes) / t_theirs / 1e9, percentile(ratios, 0.5),
                    percentile(ratios, 0.1), percentile(ratios, 0.9), of_bound.c_str());
        std::fflush(stdout);
      }
    }
  }
  comm.reset();
  world.reset();
  MPI_Finalize();
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allreduce_vs_mpi: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}
