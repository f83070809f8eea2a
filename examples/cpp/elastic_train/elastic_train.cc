// elastic_train: a deterministic "training" loop that survives restarts.
// Copy it as the skeleton of a C++ program run by the elastic service:
//
//   myriad run --emulated-nodes 2 --nnodes 1:2 --nproc-per-node 2 --max-restarts 3
//       ./elastic_train --steps 200 --ckpt-dir /tmp/ckpt --ckpt-every 10    (one line)
//
// What it shows:
//   - joining the job and building a Communicator from the environment;
//   - a step per heartbeat::step(), so that the agent sees progress (and a
//     rank that stops making it is hung);
//   - checkpoints every --ckpt-every steps with the checkpoint service
//     (asynchronous: training waits only for the snapshot), and a restore
//     from the newest one at start, in whatever world size the new round has;
//   - a failure reported the torchrun way (TORCHELASTIC_ERROR_FILE), so that
//     `myriad run` names the error when it gives up.
// The restore itself appears in the goodput ledger: the checkpoint service
// appends its restore_done event (source, seconds) to MYRIAD_EVENTS_FILE.
//
// The arithmetic is exact (int64): the parameters after step S are the same
// whatever the world size and wherever restarts happened, so a test compares
// the final "checksum" line with a run that had no failure. A global batch
// of --batch samples per step is split among the ranks (sample i on rank
// i % world); each sample's gradient is a deterministic integer function of
// (parameter, step, sample, index); the gradients are summed by an allreduce
// and params -= sum / batch (integer division, so exact on every rank).
//
// Output: "resumed from step N (source S)" on each rank after a restore,
// "checkpoint step N started" on rank 0 after each save is snapshotted, and
// "checksum <16 hex digits>" (XXH3-64 of the parameters) on rank 0 at the end.
// Exit codes: 0, 3 for --fail-at-step, 1 for an error (printed on stderr).
#include <unistd.h>
#include <xxhash.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpointer.h"
#include "collectives/communicator.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/heartbeat.h"
#include "runtime/world.h"

namespace {

using myriad::checkpoint::Checkpointer;
using myriad::checkpoint::LoadResult;
using myriad::checkpoint::State;

// The exit code of --fail-at-step: what a script's own bug would return.
constexpr int kInjectedFailureExit = 3;
// Gradients of one sample lie in [-kGradRange, kGradRange].
constexpr int64_t kGradRange = 1000;

struct Flags {
  int64_t steps = 100;
  int64_t param_count = 1024;
  int64_t batch = 8;
  int64_t ckpt_every = 10;
  std::string ckpt_dir;
  int keep_last = 2;
  int64_t step_ms = 0;
  int64_t fail_at_step = -1;
};

uint64_t mix(uint64_t x) {  // splitmix64's finalizer: a cheap, well-spread integer hash
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t initial_param(int64_t index) {
  return static_cast<int64_t>(mix(static_cast<uint64_t>(index)) % 1'000'000);
}

// The gradient of parameter `index` (value `param`) for sample `sample` at step `step`.
int64_t sample_grad(int64_t param, int64_t step, int64_t sample, int64_t index) {
  uint64_t h = mix(static_cast<uint64_t>(param) ^
                   mix(static_cast<uint64_t>(step) * 1'000'003ULL + static_cast<uint64_t>(sample) * 7919ULL +
                       static_cast<uint64_t>(index)));
  return static_cast<int64_t>(h % (2 * kGradRange + 1)) - kGradRange;
}

// Writes torchrun's error file format, which the agent reads to name the
// root cause: {"message": {"message": TEXT, "extraInfo": {"timestamp": ...}}}.
void write_error_file(const std::string& text) {
  std::optional<std::string> path =
      myriad::config::get_string(myriad::Env::process(), "TORCHELASTIC_ERROR_FILE");
  if (!path) return;
  nlohmann::json doc{{"message",
                      {{"message", text},
                       {"extraInfo",
                        {{"timestamp", std::to_string(std::chrono::system_clock::to_time_t(
                                           std::chrono::system_clock::now()))}}}}}};
  std::ofstream(*path) << doc.dump() << '\n';
}

std::string hex64(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

int train(const Flags& flags) {
  std::shared_ptr<myriad::World> world = myriad::World::join(myriad::Env::process());
  // The communicator's id names its keys in the job's store, which outlives
  // a round: the round's generation in the id keeps a restarted rank from
  // reading the endpoints its predecessor published.
  std::string generation =
      myriad::config::get_string(myriad::Env::process(), "MYRIAD_RESTART_COUNT").value_or("0");
  std::shared_ptr<myriad::Communicator> comm =
      myriad::Communicator::create(world, myriad::CommunicatorOptions{.id = "train-g" + generation});
  const int rank = comm->rank();
  const int size = comm->size();
  const size_t count = static_cast<size_t>(flags.param_count);

  std::vector<int64_t> params(count);
  for (size_t j = 0; j < count; ++j) params[j] = initial_param(static_cast<int64_t>(j));
  std::vector<int64_t> grad(count);

  // The parameters are replicated (every rank holds them whole), so a step
  // saved by N ranks loads in a round of any size.
  State state;
  state.add_replicated("params", myriad::TensorView{params.data(), count, myriad::DType::I64},
                       {flags.param_count});
  state.values["step"] = 0;
  std::unique_ptr<Checkpointer> checkpointer;
  int64_t start = 0;
  if (!flags.ckpt_dir.empty()) {
    checkpointer = std::make_unique<Checkpointer>(
        comm, myriad::checkpoint::CheckpointerOptions{.keep_last = flags.keep_last});
    // Every committed step is on disk (the memory tier only adds a faster
    // copy), so the disk says whether there is anything to resume from.
    if (myriad::checkpoint::latest_step(flags.ckpt_dir)) {
      // fallback: a step that fails to verify (a torn file) gives way to an older one.
      LoadResult loaded = checkpointer->load(state, flags.ckpt_dir, {.fallback = true, .rank = rank});
      start = state.values.value("step", int64_t{0});
      std::printf("resumed from step %lld (source %s)\n", static_cast<long long>(start),
                  loaded.source.c_str());
      std::fflush(stdout);
    }
  }

  for (int64_t step = start; step < flags.steps; ++step) {
    if (step == flags.fail_at_step) {
      // The same text on every rank: the agent tells a bug that repeats from a
      // fault by the exit code, this text and the step, not by the rank.
      std::string text = "injected failure at step " + std::to_string(step) + " (--fail-at-step)";
      std::fprintf(stderr, "elastic_train: %s\n", text.c_str());
      write_error_file(text);
      return kInjectedFailureExit;
    }
    std::fill(grad.begin(), grad.end(), 0);
    for (int64_t sample = rank; sample < flags.batch; sample += size) {
      for (size_t j = 0; j < count; ++j)
        grad[j] += sample_grad(params[j], step, sample, static_cast<int64_t>(j));
    }
    comm->allreduce(myriad::TensorView{grad.data(), count, myriad::DType::I64})->wait();
    for (size_t j = 0; j < count; ++j) params[j] -= grad[j] / flags.batch;
    myriad::heartbeat::step(static_cast<uint64_t>(step));
    if (flags.step_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(flags.step_ms));

    const int64_t done = step + 1;
    if (checkpointer && flags.ckpt_every > 0 && done % flags.ckpt_every == 0) {
      // The checkpoint's step is the number of steps done: a restore resumes at that step.
      state.values["step"] = done;
      checkpointer->save(state, flags.ckpt_dir, static_cast<uint64_t>(done));
      if (rank == 0) {
        std::printf("checkpoint step %lld started\n", static_cast<long long>(done));
        std::fflush(stdout);
      }
    }
  }
  if (checkpointer) checkpointer->wait_all();
  if (rank == 0) {
    std::printf("checksum %s\n", hex64(XXH3_64bits(params.data(), params.size() * sizeof(int64_t))).c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    CLI::App app{"elastic_train: a deterministic training loop that checkpoints and resumes"};
    app.add_option("--steps", flags.steps, "Training steps")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--param-count", flags.param_count, "Parameters (int64)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--batch", flags.batch, "Global batch: samples per step, split among the ranks")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--ckpt-dir", flags.ckpt_dir, "Checkpoint directory (empty: no checkpoints)");
    app.add_option("--ckpt-every", flags.ckpt_every, "Steps between checkpoints")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--keep-last", flags.keep_last, "Committed checkpoints kept (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--step-ms", flags.step_ms, "Sleep after each step (milliseconds)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--fail-at-step", flags.fail_at_step,
                   "Every rank exits with code 3 at this step (-1: never)")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    return train(flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elastic_train: %s\n", e.what());
    return 1;
  }
}
