// Checkpoint save against the disk: run as the ranks of a job,
//   myriad run -np 2 build/.../checkpoint_vs_dd --dir /path/on/disk --mib 256
// Each rank holds --mib MiB. Interleaved, --pairs times:
//   A: Checkpointer::save of the state, then wait(): the time the caller was
//      blocked (the snapshot) and the time to a committed step;
//   B: every rank at once writes the same bytes with
//      `dd if=/dev/zero bs=4M oflag=direct conv=fsync` into the same directory;
//   and, for the blocking time, a plain memcpy of the rank's bytes.
// Rank 0 prints one line per pair and the medians: persist throughput of the
// job (all ranks' bytes / time to commit) against dd's (all ranks' bytes /
// time until the last dd ended), and the snapshot's copy rate against memcpy.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "checkpoint/checkpointer.h"
#include "checkpoint/file_io.h"
#include "collectives/communicator.h"
#include "runtime/world.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace ck = myriad::checkpoint;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The slowest rank's value: a job's phase ends when its last rank is done.
double max_over_ranks(myriad::Communicator& comm, double value) {
  comm.allreduce(myriad::TensorView{&value, 1, myriad::DType::F64}, {.op = myriad::ReduceOp::Max})->wait();
  return value;
}

}  // namespace

static int run(int argc, char** argv) {
  CLI::App app{"Checkpoint persist throughput and snapshot time against dd oflag=direct"};
  std::string dir;
  int mib = 256;
  int pairs = 5;
  app.add_option("--dir", dir, "Directory on the disk to measure (created; its contents are removed)")
      ->required();
  app.add_option("--mib", mib, "MiB of state per rank");
  app.add_option("--pairs", pairs, "Interleaved measurements");
  CLI11_PARSE(app, argc, argv);

  auto world = std::shared_ptr<myriad::World>(myriad::World::join(myriad::Env::process()));
  auto comm = myriad::Communicator::create(world);
  const int rank = comm->rank(), size = comm->size();
  const size_t bytes = static_cast<size_t>(mib) << 20;
  const double job_bytes = static_cast<double>(bytes) * size;

  std::vector<float> weights(bytes / sizeof(float));
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<float>(i % 1000);
  std::vector<float> copy(weights.size());
  ck::State state;
  const int64_t rows = static_cast<int64_t>(weights.size() / 1024);
  state.add_sharded("weights", {weights.data(), weights.size(), myriad::DType::F32}, {rows * size, 1024},
                    rows * rank);
  state.values = {{"mib_per_rank", mib}};

  const std::string ckpt_dir = dir + "/ckpt";
  if (rank == 0) ck::make_dir(dir);
  comm->barrier()->wait();
  ck::Checkpointer checkpointer(comm, {.keep_last = 1, .run_id = ""});
  // Warm-up save: the snapshot buffer is allocated and touched once, as in a
  // training run that checkpoints repeatedly.
  checkpointer.save(state, ckpt_dir, 0).wait();

  std::vector<double> blocked, persist, dd, memcpy_s;
  for (int p = 0; p < pairs; ++p) {
    comm->barrier()->wait();
    auto start = Clock::now();
    ck::SaveHandle h = checkpointer.save(state, ckpt_dir, static_cast<uint64_t>(p) + 1);
    const double b = h.blocking_seconds();
    h.wait();
    const double a = max_over_ranks(*comm, seconds_since(start));
    const double blocked_max = max_over_ranks(*comm, b);

    comm->barrier()->wait();
    const std::string out = fmt::format("{}/dd-{}.bin", dir, rank);
    const std::string cmd = fmt::format(
        "dd if=/dev/zero of={} bs=4M count={} oflag=direct conv=fsync status=none", out, bytes / (4 << 20));
    start = Clock::now();
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "dd failed: " << cmd << "\n";
      return 1;
    }
    const double d = max_over_ranks(*comm, seconds_since(start));
    std::remove(out.c_str());

    start = Clock::now();
    std::memcpy(copy.data(), weights.data(), bytes);
    const double m = max_over_ranks(*comm, seconds_since(start));

    blocked.push_back(blocked_max);
    persist.push_back(a);
    dd.push_back(d);
    memcpy_s.push_back(m);
    if (rank == 0) {
      std::cout << fmt::format(
          "pair {}: save blocked {:.1f} ms, committed in {:.3f} s ({:.0f} MB/s); dd {:.3f} s ({:.0f} MB/s); "
          "memcpy "
          "{:.1f} ms\n",
          p, b * 1e3, a, job_bytes / a / 1e6, d, job_bytes / d / 1e6, m * 1e3);
    }
  }
  if (rank == 0) {
    const double mb = median(blocked), mp = median(persist), md = median(dd), mm = median(memcpy_s);
    std::cout << fmt::format(
        "ranks {} x {} MiB: median save blocked {:.1f} ms (memcpy of the same bytes {:.1f} ms, ratio "
        "{:.2f}); "
        "persist {:.0f} MB/s vs dd oflag=direct {:.0f} MB/s: {:.0f}% of the disk's bandwidth\n",
        size, mib, mb * 1e3, mm * 1e3, mb / mm, job_bytes / mp / 1e6, job_bytes / md / 1e6, 100 * md / mp);
    ck::remove_tree(ckpt_dir);
  }
  comm->barrier()->wait();
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_vs_dd: " << e.what() << "\n";
    return 1;
  }
}
