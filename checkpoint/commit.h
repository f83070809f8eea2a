// Commit: rank 0's part of a save once every rank's data file is durable —
// build the manifest from the ranks' reports, write it last, rename the
// temporary directory into place, move `latest`, apply retention
// (docs/checkpoint-format.md, "Commit protocol").
//
// Every file operation goes through the FileSystem given (the POSIX one in
// a job; a test's fault-injecting one to simulate power losses).
//
// Functions throw Error(Io) for a refused file operation and
// Error(InvalidArgument) when the ranks' reports disagree (a tensor with
// different dtypes or shapes, rows saved twice or by no rank). Thread-safe:
// they share nothing, but two commits into one directory must not overlap
// (Checkpointer guarantees it: saves never interleave).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/file_system.h"
#include "checkpoint/manifest.h"
#include "checkpoint/snapshot.h"

namespace myriad::checkpoint {

// What a rank tells the others after persisting: its file and chunks, or
// its error.
nlohmann::json persist_report(const Snapshot& snapshot, uint64_t file_bytes);
nlohmann::json failure_report(const std::string& error);

// Builds the manifest of `step` from every rank's report (indexed by rank).
Manifest merge_reports(const std::vector<nlohmann::json>& reports, const Snapshot& rank0,
                       const std::string& run_id);

struct CommitPaths {
  std::string dir;      // the checkpoint directory
  std::string tmp_dir;  // dir/step-N.tmp-<run id>
  std::string run_id;
};
// Writes the manifest into tmp_dir and makes the step committed and `latest`.
void commit_step(FileSystem& fs, const Manifest& manifest, const CommitPaths& paths);
// Removes committed steps beyond the newest `keep_last` (0 keeps all),
// never the one `latest` names.
void apply_retention(FileSystem& fs, const std::string& dir, int keep_last, const std::string& run_id);
// Removes the *.tmp-* entries of `dir` other than `keep` (left by a crash).
void remove_leftovers(FileSystem& fs, const std::string& dir, const std::string& keep);

}  // namespace myriad::checkpoint
