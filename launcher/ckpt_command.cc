// `myriad ckpt`: look at checkpoint directories without a job.
//   ls DIR                  committed steps: size, world size, age; incomplete saves
//   verify DIR [--step N]   re-checks every checksum; exit 0 when every step
//                           checked verifies, 1 otherwise (each bad chunk named)
//   inspect DIR [--step N]  the tensor table of a step (latest by default)
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/reader.h"
#include "launcher/commands.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

namespace ck = myriad::checkpoint;

// Exit code of `verify` when a step fails (2 stays the usage error's).
constexpr int kVerifyFailedExitCode = 1;

struct CkptOptions {
  std::string dir;
  std::optional<uint64_t> step;
};

std::string human_bytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string human_age(int64_t created_unix_ms) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t s = std::max<int64_t>(0, (now - created_unix_ms) / 1000);
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  if (s < 172800) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

void require_dir(const std::string& dir) {
  if (!ck::is_directory(dir)) raise(ErrorCode::InvalidArgument, "{}: not a directory", dir);
}

int list(const CkptOptions& o) {
  require_dir(o.dir);
  std::optional<uint64_t> latest;
  std::string pointer_problem;
  try {
    latest = ck::read_latest_pointer(o.dir);
  } catch (const Error& e) {
    pointer_problem = e.message();
  }
  std::cout << fmt::format("{:<16} {:>10} {:>6} {:>6}  {}\n", "STEP", "SIZE", "RANKS", "AGE", "NOTE");
  for (uint64_t step : ck::list_steps(o.dir)) {
    try {
      ck::Manifest m = ck::read_manifest(o.dir, step);
      std::cout << fmt::format("{:<16} {:>10} {:>6} {:>6}  {}\n", step, human_bytes(m.total_bytes()),
                               m.world_size, human_age(m.created_unix_ms), latest == step ? "latest" : "");
    } catch (const Error& e) {
      std::cout << fmt::format("{:<16} {:>10} {:>6} {:>6}  damaged: {}\n", step, "?", "?", "?", e.message());
    }
  }
  for (const std::string& name : ck::list_dir(o.dir)) {
    if (name.find(ck::kTmpMarker) != std::string::npos && ck::is_directory(o.dir + "/" + name)) {
      std::cout << fmt::format("{}: incomplete save (removed by the next save)\n", name);
    }
  }
  if (!pointer_problem.empty()) std::cout << "latest: " << pointer_problem << "\n";
  return 0;
}

int verify(const CkptOptions& o) {
  require_dir(o.dir);
  std::vector<uint64_t> steps = o.step ? std::vector<uint64_t>{*o.step} : ck::list_steps(o.dir);
  if (steps.empty()) raise(ErrorCode::InvalidArgument, "{}: no committed step to verify", o.dir);
  bool all_ok = true;
  for (uint64_t step : steps) {
    ck::VerifyResult v = ck::verify_step(o.dir, step);
    if (v.ok()) {
      std::cout << fmt::format("step {}: ok ({} checked)\n", step, human_bytes(v.bytes_checked));
      continue;
    }
    all_ok = false;
    std::cout << fmt::format("step {}: FAILED, {} problem(s)\n", step, v.problems.size());
    for (const std::string& p : v.problems) std::cout << "  " << p << "\n";
  }
  try {
    if (auto latest = ck::read_latest_pointer(o.dir);
        latest && !ck::is_directory(o.dir + "/" + ck::step_dir_name(*latest))) {
      all_ok = false;
      std::cout << fmt::format("latest: names step {}, which does not exist\n", *latest);
    }
  } catch (const Error& e) {
    all_ok = false;
    std::cout << "latest: " << e.message() << "\n";
  }
  std::cout << (all_ok ? "verdict: ok\n" : "verdict: FAILED\n");
  return all_ok ? 0 : kVerifyFailedExitCode;
}

int inspect(const CkptOptions& o) {
  require_dir(o.dir);
  std::optional<uint64_t> step = o.step ? o.step : ck::latest_step(o.dir);
  if (!step) raise(ErrorCode::InvalidArgument, "{}: no committed step", o.dir);
  ck::Manifest m = ck::read_manifest(o.dir, *step);
  std::cout << fmt::format(
      "step {} of {}: format version {}, {} ranks, run {}, {} in {} files, saved {} ago\n", m.step, o.dir,
      m.format_version, m.world_size, m.run_id, human_bytes(m.total_bytes()), m.files.size(),
      human_age(m.created_unix_ms));
  std::cout << "values: " << m.values.dump() << "\n";
  if (!m.metadata.empty()) std::cout << "metadata: " << m.metadata.dump() << "\n";
  std::cout << fmt::format("{:<32} {:<5} {:<16} {:<10} {:>6} {:>10}\n", "NAME", "DTYPE", "SHAPE", "PLACEMENT",
                           "CHUNKS", "BYTES");
  for (const ck::TensorRecord& t : m.tensors) {
    uint64_t bytes = 0;
    for (const ck::ChunkRecord& c : t.chunks) bytes += c.bytes;
    std::cout << fmt::format("{:<32} {:<5} {:<16} {:<10} {:>6} {:>10}\n", t.name, dtype_name(t.dtype),
                             nlohmann::json(t.shape).dump(), ck::placement_name(t.placement), t.chunks.size(),
                             human_bytes(bytes));
  }
  return 0;
}

}  // namespace

CommandMain add_ckpt_command(CLI::App& app) {
  auto options = std::make_shared<CkptOptions>();
  CLI::App* ckpt = app.add_subcommand("ckpt", "List, verify and inspect checkpoint directories");
  ckpt->require_subcommand(1);
  CLI::App* ls = ckpt->add_subcommand("ls", "Committed steps: size, world size, age");
  ls->add_option("DIR", options->dir, "Checkpoint directory")->required();
  CLI::App* ver = ckpt->add_subcommand("verify", "Re-check every checksum; exit 0 only when all verify");
  ver->add_option("DIR", options->dir, "Checkpoint directory")->required();
  ver->add_option("--step", options->step, "Only this step (default: every committed step)");
  CLI::App* ins = ckpt->add_subcommand("inspect", "The tensor table of a step");
  ins->add_option("DIR", options->dir, "Checkpoint directory")->required();
  ins->add_option("--step", options->step, "The step (default: latest)");
  return [options, ls, ver]() {
    if (ls->parsed()) return list(*options);
    if (ver->parsed()) return verify(*options);
    return inspect(*options);
  };
}

}  // namespace myriad::launcher
