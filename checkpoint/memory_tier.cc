#include "checkpoint/memory_tier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "runtime/error.h"

namespace myriad::checkpoint {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kReceivingMarker = ".tmp-receiving";

std::string join(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

bool same_file(int fd, const std::string& path) {
  struct stat a {};
  struct stat b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// Removes a step directory once no rank file is left in it (ranks of a node
// share step directories; the last one out removes the manifest with it).
void tidy(FileSystem& fs, const std::string& dir) {
  for (const std::string& name : fs.list_dir(dir)) {
    if (name.starts_with("rank-")) return;
  }
  fs.remove_tree(dir);
}

// Makes room for step `step`'s file `name` in `area` (the own or the replica
// area): of the other steps holding a file `name`, the newest keep - 1 stay;
// the oldest beyond them is renamed to `target` (unless `target` exists) so
// that its pages are reused, the rest are removed. Returns the path that was
// renamed, or "".
std::string recycle(FileSystem& fs, const std::string& area, uint64_t step, const std::string& name, int keep,
                    const std::string& target) {
  std::vector<uint64_t> steps;
  for (const std::string& entry : fs.list_dir(area)) {
    auto s = parse_step_dir_name(entry);
    if (s && *s != step && fs.exists(join(join(area, entry), name))) steps.push_back(*s);
  }
  std::sort(steps.rbegin(), steps.rend());
  std::string reused;
  for (size_t i = static_cast<size_t>(std::max(keep - 1, 0)); i < steps.size(); ++i) {
    const std::string dir = join(area, step_dir_name(steps[i]));
    const std::string path = join(dir, name);
    if (i + 1 == steps.size() && !fs.exists(target)) {
      fs.rename(path, target);
      reused = path;
    } else {
      fs.remove_file(path);
    }
    tidy(fs, dir);
  }
  return reused;
}

void count_files(const fs::path& dir, uint64_t& bytes) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const uintmax_t n = entry.file_size(ec);
    if (!ec) bytes += n;
  }
}

int count_steps(const fs::path& area, uint64_t& bytes) {
  int steps = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(area, ec)) {
    if (!entry.is_directory(ec) || !parse_step_dir_name(entry.path().filename().string())) continue;
    ++steps;
    count_files(entry.path(), bytes);
  }
  return steps;
}

}  // namespace

std::string memory_step_dir(const std::string& snapshot_dir, uint64_t step) {
  return join(snapshot_dir, step_dir_name(step));
}

std::string replica_step_dir(const std::string& snapshot_dir, uint64_t step) {
  return join(join(snapshot_dir, kReplicasName), step_dir_name(step));
}

std::vector<uint64_t> memory_steps(const std::string& snapshot_dir) {
  std::vector<uint64_t> steps;
  if (snapshot_dir.empty() || !is_directory(snapshot_dir)) return steps;
  for (const std::string& name : list_dir(snapshot_dir)) {
    auto step = parse_step_dir_name(name);
    if (step && path_exists(join(join(snapshot_dir, name), kManifestName))) steps.push_back(*step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string resolve_snapshot_dir(const std::optional<std::string>& configured, const Env& env) {
  if (configured) return *configured;
  return config::get_string(env, "MYRIAD_SNAPSHOT_DIR").value_or("");
}

std::string size_text(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

MemoryUsage memory_usage(const std::string& snapshot_dir) {
  MemoryUsage usage;
  if (snapshot_dir.empty()) return usage;
  usage.steps = count_steps(snapshot_dir, usage.bytes);
  usage.replica_steps = count_steps(fs::path(snapshot_dir) / kReplicasName, usage.bytes);
  return usage;
}

MemoryTier::MemoryTier(std::string root, int keep, int rank, FileSystem& fs)
    : root_(std::move(root)), keep_(std::max(keep, 1)), rank_(rank), fs_(&fs) {}

SnapshotBuffer MemoryTier::snapshot_buffer(uint64_t step, size_t bytes) {
  fs_->make_dir(root_);
  const std::string dir = memory_step_dir(root_, step);
  fs_->make_dir(dir);
  // Saving a step again: its old manifest must not describe the new bytes.
  fs_->remove_file(join(dir, kManifestName));
  const std::string target = join(dir, rank_file_name(rank_));
  const std::string reused = recycle(*fs_, root_, step, rank_file_name(rank_), keep_, target);
  // Still mapped from an earlier save: its pages are in this process's page
  // table already, so the copy takes no page fault at all.
  auto it = mappings_.find(reused.empty() ? target : reused);
  if (it != mappings_.end()) {
    SnapshotBuffer buffer = std::move(it->second);
    mappings_.erase(it);
    if (same_file(buffer.fd(), target)) {
      buffer.set_path(target);
      buffer.resize(bytes);
      return buffer;
    }
  }
  // Drop mappings of files that were removed: they would pin their memory.
  for (auto m = mappings_.begin(); m != mappings_.end();) {
    m = same_file(m->second.fd(), m->first) ? std::next(m) : mappings_.erase(m);
  }
  const int fd = ::open(target.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) raise_errno(errno, "create " + target);
  try {
    return SnapshotBuffer::map_file(fd, target, bytes);
  } catch (...) {
    ::unlink(target.c_str());  // no partial file may pass for a snapshot
    throw;
  }
}

void MemoryTier::adopt(SnapshotBuffer buffer) {
  if (!buffer.mapped() || !same_file(buffer.fd(), buffer.path())) return;
  const std::string path = buffer.path();
  mappings_.insert_or_assign(path, std::move(buffer));
}

void MemoryTier::write_manifest(uint64_t step, const std::string& text) {
  fs_->make_dir(root_);
  const std::string dir = memory_step_dir(root_, step);
  fs_->make_dir(dir);
  // Temp then rename: a worker killed in the middle leaves no partial
  // manifest, which would make the step look usable. Each rank of the node
  // writes the same text under its own temporary name.
  replace_file_atomically(
      *fs_, join(dir, kManifestName),
      join(dir, std::string(kManifestName) + std::string(kTmpMarker) + fmt::format("rank-{}", rank_)), text);
}

SnapshotBuffer MemoryTier::replica_buffer(uint64_t step, int source, size_t bytes) {
  const std::string area = join(root_, kReplicasName);
  fs_->make_dir(root_);
  fs_->make_dir(area);
  const std::string dir = replica_step_dir(root_, step);
  fs_->make_dir(dir);
  const std::string name = rank_file_name(source);
  const std::string tmp = join(dir, name + std::string(kReceivingMarker));
  recycle(*fs_, area, step, name, keep_, tmp);
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) raise_errno(errno, "create " + tmp);
  try {
    return SnapshotBuffer::map_file(fd, tmp, bytes);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void MemoryTier::publish_replica(uint64_t step, int source, SnapshotBuffer buffer) {
  // Renamed only once every byte arrived: a replica file is whole or absent.
  fs_->rename(buffer.path(), join(replica_step_dir(root_, step), rank_file_name(source)));
}

}  // namespace myriad::checkpoint
