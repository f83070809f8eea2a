#include "checkpoint/commit.h"

#include <algorithm>
#include <map>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/reader.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {
namespace {

using nlohmann::json;

}  // namespace

json persist_report(const Snapshot& snapshot, uint64_t file_bytes) {
  json tensors = json::array();
  for (const TensorRecord& t : snapshot.tensors) tensors.push_back(tensor_to_json(t));
  return {{"ok", true},
          {"file", snapshot.file_name},
          {"bytes", file_bytes},
          {"xxh3", checksum_hex(snapshot.file_xxh3)},
          {"tensors", std::move(tensors)}};
}

json failure_report(const std::string& error) {
  return {{"ok", false}, {"error", error}};
}

Manifest merge_reports(const std::vector<json>& reports, const Snapshot& rank0, const std::string& run_id) {
  Manifest m;
  m.format_version = kCheckpointFormatVersion;
  m.step = rank0.step;
  m.world_size = static_cast<int>(reports.size());
  m.run_id = run_id;
  m.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  m.metadata = rank0.metadata.is_null() ? json::object() : rank0.metadata;
  m.values = rank0.values;
  std::map<std::string, size_t> index;  // tensor name -> position in m.tensors
  for (size_t rank = 0; rank < reports.size(); ++rank) {
    const json& r = reports[rank];
    m.files.push_back({r.at("file").get<std::string>(), static_cast<int>(rank), r.at("bytes").get<uint64_t>(),
                       *parse_checksum_hex(r.at("xxh3").get<std::string>())});
    for (const json& t : r.at("tensors")) {
      TensorRecord record = tensor_from_json(t);
      auto [it, fresh] = index.try_emplace(record.name, m.tensors.size());
      if (fresh) {
        if (record.placement == Placement::Replicated && rank != 0) {
          raise(ErrorCode::InvalidArgument, "replicated tensor '{}' is saved by rank {} but not by rank 0",
                record.name, rank);
        }
        m.tensors.push_back(std::move(record));
        continue;
      }
      TensorRecord& seen = m.tensors[it->second];
      if (seen.dtype != record.dtype || seen.shape != record.shape || seen.placement != record.placement) {
        raise(ErrorCode::InvalidArgument,
              "tensor '{}': rank {} saves it as {} {} {}, an earlier rank as {} {} {}", record.name, rank,
              dtype_name(record.dtype), json(record.shape).dump(), placement_name(record.placement),
              dtype_name(seen.dtype), json(seen.shape).dump(), placement_name(seen.placement));
      }
      for (ChunkRecord& c : record.chunks) seen.chunks.push_back(std::move(c));
    }
  }
  // Every row of every tensor saved exactly once: a load must find each row.
  for (TensorRecord& t : m.tensors) {
    std::sort(t.chunks.begin(), t.chunks.end(), [](const auto& a, const auto& b) { return a.row < b.row; });
    const uint64_t rows = row_elements(t.shape) == 0 ? 0 : row_count(t.shape);
    uint64_t next = 0;
    for (const ChunkRecord& c : t.chunks) {
      if (c.row != next) {
        raise(ErrorCode::InvalidArgument, "sharded tensor '{}': rows [{}, {}) are {}", t.name,
              std::min(next, c.row), std::max(next, c.row),
              c.row > next ? "saved by no rank" : "saved by two ranks");
      }
      next = c.row + c.rows;
    }
    if (next != rows) {
      raise(ErrorCode::InvalidArgument, "sharded tensor '{}': rows [{}, {}) are saved by no rank", t.name,
            next, rows);
    }
  }
  return m;
}

void commit_step(FileSystem& fs, const Manifest& manifest, const CommitPaths& paths) {
  // 1. The manifest last: every data file it names is already fsynced by its
  //    rank (the agreement said so), so a manifest never points at data that
  //    a crash could lose. fsync it before the rename publishes it.
  write_file_durably(fs, paths.tmp_dir + "/" + std::string(kManifestName), manifest_to_text(manifest));
  // 2. fsync the temporary directory: the names of the data files and the
  //    manifest must be durable before the directory becomes a step.
  fs.sync_dir(paths.tmp_dir);
  // 3. The rename is the commit point: step-N/ appears whole or not at all.
  const std::string final_dir = paths.dir + "/" + step_dir_name(manifest.step);
  if (fs.is_directory(final_dir)) {
    // Saving a step again (after a restart from an older one): swap, so that
    // step-N/ is the old or the new step at every instant, then drop the old.
    fs.exchange(paths.tmp_dir, final_dir);
    // 4a. fsync the parent before the old step's files go: a power loss may
    //     keep some of the removals below and lose an unsynced swap, which
    //     would leave step-N/ the old step with files missing. No second
    //     fsync after the removal: the one that publishes `latest` (5) makes
    //     it durable, and until then a surviving old copy is only a leftover.
    fs.sync_dir(paths.dir);
    fs.remove_tree(paths.tmp_dir);
  } else {
    fs.rename(paths.tmp_dir, final_dir);
    // 4. fsync the parent so the rename survives a power loss before `latest`
    //    can name the step (a file system may persist the rename of `latest`
    //    below without this one).
    fs.sync_dir(paths.dir);
  }
  // 5. `latest` by write-temp-then-rename: readers see the old or new pointer.
  replace_file_atomically(fs, paths.dir + "/" + std::string(kLatestName),
                          paths.dir + "/" + std::string(kLatestName) + std::string(kTmpMarker) + paths.run_id,
                          step_dir_name(manifest.step) + "\n");
}

void apply_retention(FileSystem& fs, const std::string& dir, int keep_last, const std::string& run_id) {
  if (keep_last <= 0) return;
  std::vector<uint64_t> steps = list_steps(fs, dir);
  std::optional<uint64_t> latest = read_latest_pointer(fs, dir);
  std::sort(steps.rbegin(), steps.rend());
  for (size_t i = static_cast<size_t>(keep_last); i < steps.size(); ++i) {
    if (latest && steps[i] == *latest) continue;
    const std::string path = dir + "/" + step_dir_name(steps[i]);
    // Renamed out of the steps first: a crash in the middle of the removal
    // leaves a *.tmp-* directory (cleaned by the next save), never a step
    // with missing files.
    const std::string doomed = path + std::string(kTmpMarker) + run_id + "-removed";
    fs.rename(path, doomed);
    // Durable before the removal starts: a power loss may keep some of the
    // file removals and lose an unsynced rename, leaving a damaged step.
    fs.sync_dir(dir);
    fs.remove_tree(doomed);
  }
}

void remove_leftovers(FileSystem& fs, const std::string& dir, const std::string& keep) {
  for (const std::string& name : fs.list_dir(dir)) {
    if (name.find(kTmpMarker) == std::string::npos || name == keep) continue;
    MYRIAD_LOG_INFO("checkpoint: removing {}/{}, left by an interrupted save", dir, name);
    fs.remove_tree(dir + "/" + name);
  }
}

}  // namespace myriad::checkpoint
