// Reading checkpoints: list steps, follow `latest`, load a State in place
// (resharding on the way), and verify every checksum of a step.
//
// Nothing here needs a communicator: each rank reads, with pread, only the
// chunks that overlap the rows it holds, and verifies each chunk's XXH3-64
// before its bytes are used. With a snapshot directory (the memory tier,
// checkpoint/memory_tier.h) a chunk is read from this node's memory, else
// from a buddy replica kept on this node, else from disk; a copy that fails
// its checksum falls through to the next source with a warning. A step
// committed in memory is loadable even when the disk lacks it. Any number of ranks (M) may load a step saved
// by N ranks, for sharded (even, uneven) and replicated tensors.
//
// Errors: Error(Corruption) for a checksum mismatch, a truncated file, a
// malformed manifest or pointer, naming the step directory, file, byte
// offset and tensor; Error(NotSupported) for an unknown format version;
// Error(InvalidArgument) when the State does not match the step (a tensor
// the step lacks, another dtype or shape); Error(Io) when a file cannot be
// read. After a failed load the tensors' contents are unspecified (some
// chunks may have been copied) and State::values is unchanged; with
// LoadOptions::fallback an older step that verifies overwrites everything.
//
// Thread-safety: the functions share no state; concurrent loads are fine.
// A load that races a save into the same directory sees the steps committed
// at the moment it reads `latest`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/file_system.h"
#include "checkpoint/manifest.h"
#include "checkpoint/state.h"

namespace myriad::checkpoint {

// Committed steps of `dir`, ascending (a missing directory has none).
std::vector<uint64_t> list_steps(const std::string& dir);
// The step `latest` names; nullopt when there is no `latest`. A malformed
// pointer is Error(Corruption).
std::optional<uint64_t> read_latest_pointer(const std::string& dir);
// The same through `fs` (a save's retention looks names up through its
// FileSystem); the forms above use the POSIX one.
std::vector<uint64_t> list_steps(FileSystem& fs, const std::string& dir);
std::optional<uint64_t> read_latest_pointer(FileSystem& fs, const std::string& dir);
// The step a load without an explicit step uses: `latest`, or the newest
// committed step when there is no pointer; nullopt when there is none.
std::optional<uint64_t> latest_step(const std::string& dir);
// Reads and checks step's manifest.
Manifest read_manifest(const std::string& dir, uint64_t step);

struct LoadOptions {
  std::optional<uint64_t> step{};  // nullopt: latest_step()
  // On a step that fails to verify, load the next older one that does,
  // logging each skipped step and why.
  bool fallback = false;
  int rank = 0;  // for the log lines only
  // The node's snapshot directory: nullopt reads MYRIAD_SNAPSHOT_DIR; ""
  // reads the disk only.
  std::optional<std::string> snapshot_dir{};
};

struct LoadResult {
  uint64_t step = 0;
  // Where the bytes came from: "memory", "buddy", "disk", or a '+'-joined
  // mix in that order ("memory+disk"); with no bytes, the manifest's source.
  std::string source = "disk";
  std::vector<std::string> skipped;  // "step N: reason", newest first
  uint64_t bytes_read = 0;           // from all sources
  uint64_t memory_bytes = 0;         // from this node's snapshots
  uint64_t buddy_bytes = 0;          // from replicas kept on this node
  uint64_t disk_bytes = 0;
  // Copies present but unusable ("memory copy: <path>: offset <o>: ..."):
  // the chunk was read from the next source.
  std::vector<std::string> fallbacks;
  double seconds = 0;
};

LoadResult load_checkpoint(State& state, const std::string& dir, const LoadOptions& options = {});

// Loads one step without fallback (the step must exist on disk or be
// committed in memory); options.step and options.fallback are not used.
LoadResult load_step(State& state, const std::string& dir, uint64_t step, const LoadOptions& options = {});

struct VerifyResult {
  uint64_t step = 0;
  std::vector<std::string> problems;  // one line per bad file, header or chunk
  uint64_t bytes_checked = 0;
  bool ok() const { return problems.empty(); }
};
// Re-checks the manifest, every data file's size, header and checksum, and
// every chunk's checksum; names every problem found rather than stopping at
// the first. Throws only when `dir` cannot be listed.
VerifyResult verify_step(const std::string& dir, uint64_t step);

}  // namespace myriad::checkpoint
