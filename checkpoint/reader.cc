#include "checkpoint/reader.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>

#include "checkpoint/chunk_sources.h"
#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/memory_tier.h"
#include "runtime/error.h"
#include "runtime/event_log.h"
#include "runtime/heartbeat.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {
namespace {

// Block size of the streaming file checksum in verify_step.
constexpr size_t kVerifyBlockBytes = 8u << 20;

std::string step_path(const std::string& dir, uint64_t step) {
  return dir + "/" + step_dir_name(step);
}

// The manifest of `step` from this node's memory, when it is there and
// sound; else nullopt (a bad one is a warning and a fallback: the disk has
// its own copy).
std::optional<Manifest> memory_manifest(const std::string& snapshot_dir, uint64_t step, int rank,
                                        std::vector<std::string>& fallbacks) {
  if (snapshot_dir.empty()) return std::nullopt;
  const std::string path = memory_step_dir(snapshot_dir, step) + "/" + std::string(kManifestName);
  if (!path_exists(path)) return std::nullopt;
  try {
    Manifest m = parse_manifest(read_text_file(path), path);
    if (m.step != step)
      raise(ErrorCode::Corruption, "{}: says step {}, its directory step {}", path, m.step, step);
    return m;
  } catch (const Error& e) {
    MYRIAD_LOG_WARN("checkpoint: rank {}: memory manifest unusable, reading the disk's: {}", rank,
                    e.message());
    fallbacks.push_back("memory manifest: " + e.message());
    return std::nullopt;
  }
}

}  // namespace

std::vector<uint64_t> list_steps(const std::string& dir) {
  return list_steps(posix_file_system(), dir);
}

std::vector<uint64_t> list_steps(FileSystem& fs, const std::string& dir) {
  std::vector<uint64_t> steps;
  if (!fs.is_directory(dir)) return steps;
  for (const std::string& name : fs.list_dir(dir)) {
    if (auto step = parse_step_dir_name(name); step && fs.is_directory(dir + "/" + name)) {
      steps.push_back(*step);
    }
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::optional<uint64_t> read_latest_pointer(const std::string& dir) {
  return read_latest_pointer(posix_file_system(), dir);
}

std::optional<uint64_t> read_latest_pointer(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + std::string(kLatestName);
  if (!fs.exists(path)) return std::nullopt;
  std::string text = fs.read_file(path);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  auto step = parse_step_dir_name(text);
  if (!step) raise(ErrorCode::Corruption, "{}: does not name a step ('{}')", path, text.substr(0, 64));
  return step;
}

std::optional<uint64_t> latest_step(const std::string& dir) {
  if (auto step = read_latest_pointer(dir)) return step;
  std::vector<uint64_t> steps = list_steps(dir);
  if (steps.empty()) return std::nullopt;
  return steps.back();
}

Manifest read_manifest(const std::string& dir, uint64_t step) {
  const std::string path = step_path(dir, step) + "/" + std::string(kManifestName);
  if (!path_exists(path)) {
    if (!is_directory(step_path(dir, step))) raise(ErrorCode::Io, "{}: no such step", step_path(dir, step));
    raise(ErrorCode::Corruption, "{}: missing", path);
  }
  Manifest m = parse_manifest(read_text_file(path), path);
  if (m.step != step)
    raise(ErrorCode::Corruption, "{}: says step {}, its directory step {}", path, m.step, step);
  return m;
}

LoadResult load_step(State& state, const std::string& dir, uint64_t step, const LoadOptions& options) {
  validate_state(state);
  const auto start = std::chrono::steady_clock::now();
  const std::string snapshot_dir = resolve_snapshot_dir(options.snapshot_dir, Env::process());
  LoadResult result;
  result.step = step;
  // Memory and replicas are used only for a step whose manifest is in
  // memory: without it the step was not committed when they were written.
  std::optional<Manifest> in_memory = memory_manifest(snapshot_dir, step, options.rank, result.fallbacks);
  const Manifest m = in_memory ? std::move(*in_memory) : read_manifest(dir, step);
  ChunkSources files(in_memory ? memory_step_dir(snapshot_dir, step) : "",
                     in_memory ? replica_step_dir(snapshot_dir, step) : "", step_path(dir, step),
                     options.rank);
  std::vector<unsigned char> scratch;
  for (TensorEntry& t : state.tensors) {
    const TensorRecord* rec = m.find(t.name);
    if (rec == nullptr) {
      raise(ErrorCode::InvalidArgument, "tensor '{}' is not in {}", t.name, step_path(dir, step));
    }
    if (rec->dtype != t.view.dtype || rec->shape != t.global_shape) {
      raise(ErrorCode::InvalidArgument, "tensor '{}': the state has {} {}, {} has {} {}", t.name,
            dtype_name(t.view.dtype), nlohmann::json(t.global_shape).dump(), step_path(dir, step),
            dtype_name(rec->dtype), nlohmann::json(rec->shape).dump());
    }
    const uint64_t row_bytes = row_elements(t.global_shape) * dtype_size(t.view.dtype);
    if (row_bytes == 0) continue;
    const uint64_t lo = t.placement == Placement::Sharded ? static_cast<uint64_t>(t.row_offset) : 0;
    const uint64_t hi = lo + t.view.bytes() / row_bytes;
    auto* dest = static_cast<unsigned char*>(t.view.data);
    uint64_t covered = 0;
    for (const ChunkRecord& c : rec->chunks) {
      const uint64_t from = std::max(lo, c.row), to = std::min(hi, c.row + c.rows);
      if (from >= to) continue;  // not one of this rank's rows: never read
      if (c.bytes != c.rows * row_bytes) {
        raise(ErrorCode::Corruption, "{}/{}: offset {}: chunk of tensor '{}' has {} bytes for {} rows of {}",
              step_path(dir, step), c.file, c.offset, t.name, c.bytes, c.rows, row_bytes);
      }
      if (from == c.row && to == c.row + c.rows) {
        // The whole chunk is ours: read it in place, no extra copy.
        files.read(c, t.name, dest + (from - lo) * row_bytes);
      } else {
        scratch.resize(c.bytes);
        files.read(c, t.name, scratch.data());
        std::memcpy(dest + (from - lo) * row_bytes, scratch.data() + (from - c.row) * row_bytes,
                    (to - from) * row_bytes);
      }
      result.bytes_read += c.bytes;
      covered += to - from;
    }
    if (covered != hi - lo) {
      raise(ErrorCode::Corruption, "{}: rows of tensor '{}' in [{}, {}) are in no chunk",
            step_path(dir, step) + "/" + std::string(kManifestName), t.name, lo, hi);
    }
  }
  state.values = m.values;
  result.memory_bytes = files.bytes(Tier::Memory);
  result.buddy_bytes = files.bytes(Tier::Buddy);
  result.disk_bytes = files.bytes(Tier::Disk);
  for (const std::string& f : files.fallbacks()) result.fallbacks.push_back(f);
  std::string source;
  for (size_t tier = 0; tier < kTierCount; ++tier) {
    if (files.bytes(static_cast<Tier>(tier)) == 0) continue;
    source += (source.empty() ? "" : "+") + std::string(tier_name(static_cast<Tier>(tier)));
  }
  result.source = source.empty() ? (in_memory ? "memory" : "disk") : source;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

LoadResult load_checkpoint(State& state, const std::string& dir, const LoadOptions& options) {
  LoadOptions resolved = options;
  resolved.snapshot_dir = resolve_snapshot_dir(options.snapshot_dir, Env::process());
  // Steps committed in memory count as much as the disk's: a restarted
  // worker restores from memory even when the disk lost the step's files.
  const std::vector<uint64_t> in_memory = memory_steps(*resolved.snapshot_dir);
  std::optional<uint64_t> target = resolved.step;
  std::vector<std::string> skipped;
  if (!target) {
    try {
      target = latest_step(dir);
    } catch (const Error& e) {
      if (!resolved.fallback || e.code() != ErrorCode::Corruption) throw;
      skipped.push_back(e.message());
      MYRIAD_LOG_WARN("checkpoint: {}; using the newest committed step", e.message());
      std::vector<uint64_t> steps = list_steps(dir);
      if (!steps.empty()) target = steps.back();
    }
  }
  if (!resolved.step && !in_memory.empty() && (!target || in_memory.back() > *target)) {
    target = in_memory.back();
  }
  if (!target) raise(ErrorCode::Io, "{}: no committed checkpoint", dir);

  std::vector<uint64_t> candidates{*target};
  if (resolved.fallback) {
    std::vector<uint64_t> steps = list_steps(dir);
    steps.insert(steps.end(), in_memory.begin(), in_memory.end());
    std::sort(steps.rbegin(), steps.rend());
    steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
    for (uint64_t s : steps) {
      if (s < *target) candidates.push_back(s);
    }
  }
  for (uint64_t step : candidates) {
    try {
      LoadResult result = load_step(state, dir, step, resolved);
      result.skipped = skipped;
      MYRIAD_LOG_INFO(
          "checkpoint: rank {} restored step {} from memory ({}), buddy ({}), disk ({}) in {:.3f} s ({}){}",
          resolved.rank, step, size_text(result.memory_bytes), size_text(result.buddy_bytes),
          size_text(result.disk_bytes), result.seconds, step_path(dir, step),
          skipped.empty() ? "" : fmt::format(", after skipping {} newer step(s)", skipped.size()));
      // For the job's goodput ledger (under an agent): the restore's source and duration.
      append_event(nlohmann::json{{"event", "restore_done"},
                                  {"rank", resolved.rank},
                                  {"step", step},
                                  {"source", result.source},
                                  {"seconds", result.seconds},
                                  {"memory_bytes", result.memory_bytes},
                                  {"buddy_bytes", result.buddy_bytes},
                                  {"disk_bytes", result.disk_bytes}});
      heartbeat::beat();
      return result;
    } catch (const Error& e) {
      const bool unusable = e.code() == ErrorCode::Corruption || e.code() == ErrorCode::NotSupported;
      if (!resolved.fallback || !unusable) throw;
      skipped.push_back(fmt::format("step {}: {}", step, e.message()));
      MYRIAD_LOG_WARN("checkpoint: rank {} skips step {}: {}", resolved.rank, step, e.message());
    }
  }
  std::string reasons;
  for (const std::string& s : skipped) reasons += "\n  " + s;
  raise(ErrorCode::Corruption, "{}: no step verifies:{}", dir, reasons);
}

VerifyResult verify_step(const std::string& dir, uint64_t step) {
  VerifyResult result;
  result.step = step;
  Manifest m;
  try {
    m = read_manifest(dir, step);
  } catch (const Error& e) {
    result.problems.push_back(e.message());
    return result;
  }
  const std::string step_dir = step_path(dir, step);
  std::map<std::string, std::unique_ptr<File>> open;
  for (const FileRecord& f : m.files) {
    const std::string path = step_dir + "/" + f.name;
    try {
      auto file = std::make_unique<File>(File::open_read(path));
      const uint64_t size = file->size();
      if (size != f.bytes) {
        result.problems.push_back(fmt::format("{}: {} bytes, the manifest says {}{}", path, size, f.bytes,
                                              size < f.bytes ? " (truncated)" : ""));
      }
      unsigned char head[kHeaderBytes] = {};
      if (file->pread_some(head, kHeaderBytes, 0) != kHeaderBytes) {
        result.problems.push_back(
            fmt::format("{}: offset 0: shorter than its {}-byte header", path, kHeaderBytes));
      } else {
        FileHeader h = decode_header(head, path);
        if (h.version != kCheckpointFormatVersion || h.rank != static_cast<uint32_t>(f.rank) ||
            h.step != step) {
          result.problems.push_back(
              fmt::format("{}: offset 0: header says version {} rank {} step {}, expected {} {} {}", path,
                          h.version, h.rank, h.step, kCheckpointFormatVersion, f.rank, step));
        }
      }
      StreamingChecksum hash;
      std::vector<unsigned char> block(kVerifyBlockBytes);
      uint64_t at = 0;
      for (;;) {
        size_t n = file->pread_some(block.data(), block.size(), at);
        if (n == 0) break;
        hash.update(block.data(), n);
        at += n;
      }
      const uint64_t sum = hash.digest();
      result.bytes_checked += at;
      if (sum != f.xxh3) {
        result.problems.push_back(fmt::format("{}: file checksum mismatch (stored {}, computed {})", path,
                                              checksum_hex(f.xxh3), checksum_hex(sum)));
      }
      open.emplace(f.name, std::move(file));
    } catch (const Error& e) {
      result.problems.push_back(e.message());
    }
  }
  std::vector<unsigned char> scratch;
  for (const TensorRecord& t : m.tensors) {
    for (const ChunkRecord& c : t.chunks) {
      auto it = open.find(c.file);
      if (it == open.end()) {
        result.problems.push_back(
            fmt::format("{}/{}: offset {}: chunk of tensor '{}' is in a file that cannot be read", step_dir,
                        c.file, c.offset, t.name));
        continue;
      }
      try {
        scratch.resize(c.bytes);
        read_chunk(*it->second, c, t.name, scratch.data());
      } catch (const Error& e) {
        result.problems.push_back(e.message());
      }
    }
  }
  return result;
}

}  // namespace myriad::checkpoint
