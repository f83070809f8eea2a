// Checkpointer: sharded, asynchronous, atomic saves of a State, and loads.
//
// save(state, dir, step) takes a snapshot (copies this rank's tensors into
// host memory: the only part the caller waits for) and returns a SaveHandle
// at once; a background thread then writes this rank's data file and fsyncs
// it, the ranks agree through a collective that every file is durable, and
// rank 0 commits the step (docs/checkpoint-format.md, "Commit protocol").
// A save completes on every rank only once its step is committed.
//
// Collective: the constructor and save() must be called by every rank of the
// communicator, in the same order, with the same dir and step. The
// constructor splits private communicators from the given one, so that the
// background agreement never shares a sequence with the caller's own
// collectives: training may run collectives on `comm` while a save
// persists.
//
// One save at a time: save() while the previous persist runs waits for it,
// or, with CheckpointerOptions::skip_if_busy, returns a skipped handle (the
// ranks agree on skipping, so that no rank saves alone). Saves never
// interleave.
//
// Errors: save() throws Error(InvalidArgument) for a bad State at once
// (nothing is started). A failure in the background (disk full, an
// unwritable directory, a dead peer) fails the handle on every rank, names
// the ranks and their reasons, and commits nothing: earlier steps and
// `latest` are untouched. Such an error is never silent: if the handle's
// wait() has not reported it, the next save(), load() or wait_all() throws
// it. A collective failure (a dead peer) breaks the private communicators
// for good; build a new Checkpointer.
//
// Memory tier and buddies: with a snapshot directory (MYRIAD_SNAPSHOT_DIR,
// set by the node's agent) the snapshot is taken straight into a file there
// (checkpoint/memory_tier.h), each rank writes the committed manifest next
// to it, and with replicas = 1 each rank then sends its snapshot to its
// buddy on another node (checkpoint/replication.h), all before the save's
// handle completes (so wait() means: committed, usable from memory and
// replicated, or the replication's failure recorded); load() reads memory,
// then the buddy's copy, then disk. A failed replication is a warning and
// SaveHandle::replication_error(), never a failed save: the step is
// committed on disk by then. A memory tier that cannot hold a snapshot
// (tmpfs full) is a warning; the snapshot is then taken into process memory.
//
// Files: every file operation of a save (data files, manifest, renames,
// fsyncs, removals, the memory tier's names) goes through
// CheckpointerOptions::file_system, the POSIX layer unless a test gives its
// own (checkpoint/file_system.h).
//
// Thread-safety: one thread uses a Checkpointer (as one thread issues a
// rank's collectives); SaveHandle methods are safe from any thread. The
// destructor waits for a running persist (the peers are waiting for this
// rank's agreement) and does not throw.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/file_system.h"
#include "checkpoint/memory_tier.h"
#include "checkpoint/reader.h"
#include "checkpoint/replication.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/state.h"
#include "collectives/communicator.h"

namespace myriad::checkpoint {

struct CheckpointerOptions {
  int keep_last = 0;          // committed steps kept; 0 keeps all
  bool skip_if_busy = false;  // a save while a persist runs is skipped instead of waiting
  uint64_t chunk_bytes = kDefaultChunkBytes;
  std::string run_id{};  // names temporary files; empty: MYRIAD_RUN_ID, else chosen by rank 0
  // The node's snapshot directory; nullopt: MYRIAD_SNAPSHOT_DIR; "": no memory tier.
  std::optional<std::string> snapshot_dir{};
  std::optional<int> snapshot_keep{};  // steps kept in memory per rank (>= 1); nullopt: MYRIAD_SNAPSHOT_KEEP
  std::optional<int> replicas{};       // 0 or 1 buddy copies; nullopt: MYRIAD_CKPT_REPLICAS
  // Each rank's persist write rate in MB/s, 0 unlimited; nullopt: MYRIAD_CKPT_WRITE_MBPS.
  std::optional<int64_t> write_mbps{};
  // The file layer every save writes through; null: posix_file_system().
  // Shared with the caller, who may keep it to inspect what was done.
  std::shared_ptr<FileSystem> file_system{};
};

class SaveHandle {
 public:
  SaveHandle() = default;
  // Blocks until the step is committed (or skipped); rethrows the save's
  // error, every time it is called.
  void wait() const;
  // True once the save has finished, committed, failed or skipped.
  bool done() const;
  // True when skip_if_busy skipped this save.
  bool skipped() const;
  uint64_t step() const;
  // Seconds the caller was blocked in save() (the snapshot).
  double blocking_seconds() const;
  // After wait(): why this rank's buddy replication failed; "" when it
  // succeeded or was not asked for.
  std::string replication_error() const;

 private:
  friend class Checkpointer;
  struct Status;
  std::shared_ptr<Status> status_;
};

class Checkpointer {
 public:
  Checkpointer(const std::shared_ptr<Communicator>& comm, CheckpointerOptions options = {});
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Snapshots `state` as step `step` of `dir` (created if missing) and
  // persists it in the background. `metadata` (a JSON object) goes into the
  // manifest as is.
  SaveHandle save(const State& state, const std::string& dir, uint64_t step,
                  const nlohmann::json& metadata = nlohmann::json::object());
  // Waits for the running persist, if any, and throws its unreported error.
  void wait_all();
  // Waits for the running persist, then load_checkpoint() for this rank.
  LoadResult load(State& state, const std::string& dir, LoadOptions options = {});

  const std::string& run_id() const { return run_id_; }
  // The node's snapshot directory ("" without a memory tier).
  const std::string& snapshot_dir() const { return snapshot_dir_; }
  // Bytes of snapshots and replicas in this node's snapshot directory.
  uint64_t memory_bytes() const;
  // Saves whose buddy replication failed on this rank.
  int replication_failures() const { return replication_failures_.load(); }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  // The background phase; `caller_error` set: only take part in the
  // agreement, so that the peers fail instead of waiting.
  void persist(Snapshot snapshot, std::string dir, const std::shared_ptr<SaveHandle::Status>& status,
               std::exception_ptr caller_error);
  void join_and_surface();
  // Memory tier (checkpointer_memory.cc): set up from every rank's node and
  // settings; a buffer for take(); after the commit, the manifest into
  // memory and the replicas (returns the replication's error, "" if none).
  void setup_memory(const std::vector<nlohmann::json>& infos);
  SnapshotBuffer snapshot_buffer(uint64_t step, size_t bytes);
  std::string keep_in_memory(const Snapshot& snapshot, const std::string& manifest_text);

  std::shared_ptr<Communicator> persist_comm_;  // used by the background thread only
  std::shared_ptr<Communicator> control_comm_;  // used by the caller's thread only
  CheckpointerOptions options_;
  FileSystem* fs_ = nullptr;  // options_.file_system, or the POSIX one
  std::string run_id_;
  int rank_ = 0;
  int size_ = 1;
  std::thread worker_;
  std::shared_ptr<SaveHandle::Status> last_;
  SnapshotBuffer spare_;  // the previous snapshot's buffer, handed back by the worker before it ends
  std::string snapshot_dir_;
  std::unique_ptr<MemoryTier> tier_;  // null without a snapshot directory
  uint64_t write_rate_ = 0;           // persist bytes per second per rank, 0 unlimited
  BuddyPlan buddies_;
  bool any_memory_ = false;  // some rank keeps snapshots in memory: rank 0 broadcasts the manifest
  std::atomic<int> replication_failures_{0};
};

}  // namespace myriad::checkpoint
