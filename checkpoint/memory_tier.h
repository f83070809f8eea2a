// MemoryTier: a rank's snapshots kept in files of the node's snapshot
// directory (MYRIAD_SNAPSHOT_DIR, a tmpfs directory the node's agent owns),
// so that they outlive a crash of the worker (docs/checkpoint-format.md,
// "Memory tier").
//
//   SNAPDIR/step-N/rank-RRRRR.bin       this node's ranks' snapshots of step N
//   SNAPDIR/step-N/manifest.json        step N's committed manifest
//   SNAPDIR/replicas/step-N/rank-S.bin  copies of other nodes' ranks (buddies)
//
// Snapshot::take copies straight into a mapping of the rank's file
// (snapshot_buffer), reusing the file, and while it is still mapped the
// mapping, of the oldest step beyond `keep`: no fresh page is touched on
// the caller's thread in the steady state. A step is usable from memory only
// once its manifest is there, which each rank writes after the disk commit.
//
// Ownership: the tier owns the mappings it keeps for reuse; the directory
// belongs to the agent (the tier creates what it needs below it). Files of
// the same step and rank are written by one rank only; ranks of a node share
// step directories and remove them once empty.
//
// File operations on names (mkdir, rename, removal, the manifest) go through
// the FileSystem given (the Checkpointer's); a snapshot file is created and
// mapped with plain POSIX calls, because a mapping needs a descriptor.
//
// Thread-safety: snapshot_buffer() and adopt() are for the caller's thread;
// write_manifest(), replica_buffer() and publish_replica() for the persist
// thread (they touch other files). Errors are Error(Io) naming the path; a
// failure leaves older steps intact, and the caller falls back (process
// memory for a snapshot; a replica is then missing and a load uses disk).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/file_system.h"
#include "checkpoint/snapshot.h"
#include "runtime/config.h"

namespace myriad::checkpoint {

inline constexpr std::string_view kReplicasName = "replicas";
inline constexpr int kDefaultSnapshotKeep = 2;

// SNAPDIR/step-N and SNAPDIR/replicas/step-N.
std::string memory_step_dir(const std::string& snapshot_dir, uint64_t step);
std::string replica_step_dir(const std::string& snapshot_dir, uint64_t step);
// Steps of `snapshot_dir` whose manifest is present, ascending.
std::vector<uint64_t> memory_steps(const std::string& snapshot_dir);
// `configured` when set; else MYRIAD_SNAPSHOT_DIR; "" means no memory tier.
std::string resolve_snapshot_dir(const std::optional<std::string>& configured, const Env& env);

// A size for log lines: "64 B", "730.0 KiB", "1.5 MiB", "2.0 GiB".
std::string size_text(uint64_t bytes);

struct MemoryUsage {
  uint64_t bytes = 0;     // sizes of every file: own snapshots, replicas, manifests
  int steps = 0;          // step directories of this node's ranks
  int replica_steps = 0;  // step directories of replicas
};
// What `snapshot_dir` holds now (a missing directory holds nothing). For the
// agent's end-of-job report and the per-save log line; never throws.
MemoryUsage memory_usage(const std::string& snapshot_dir);

class MemoryTier {
 public:
  MemoryTier(std::string root, int keep, int rank, FileSystem& fs = posix_file_system());
  const std::string& root() const { return root_; }
  int keep() const { return keep_; }

  // A mapping of SNAPDIR/step-N/rank-R.bin sized `bytes`, for take(). Removes
  // step N's manifest first (a step saved again is not usable from memory
  // until its new commit), reuses the oldest own step beyond keep and
  // removes the others beyond it.
  SnapshotBuffer snapshot_buffer(uint64_t step, size_t bytes);
  // Takes back a mapping whose persist has ended, for reuse.
  void adopt(SnapshotBuffer buffer);

  // Writes step N's committed manifest (write-temp-then-rename).
  void write_manifest(uint64_t step, const std::string& text);
  // A mapping of a temporary replica file of rank `source` sized `bytes`.
  SnapshotBuffer replica_buffer(uint64_t step, int source, size_t bytes);
  // Renames the filled replica into place, then drops the buffer.
  void publish_replica(uint64_t step, int source, SnapshotBuffer buffer);

 private:
  std::string root_;
  int keep_;
  int rank_;
  FileSystem* fs_;                                  // not owned: outlives the tier
  std::map<std::string, SnapshotBuffer> mappings_;  // by the path of the file they map
};

}  // namespace myriad::checkpoint
