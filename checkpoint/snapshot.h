// Snapshot: one rank's part of a save, copied into host memory in the exact
// layout of its data file (docs/checkpoint-format.md), so that persisting is
// one sequential write.
//
// take() is the only part of a save the caller waits for: it plans the
// chunks and copies the tensors. seal() (on the persist thread) fills in the
// header and the checksums. A Snapshot owns its buffer; it is not
// thread-safe, and is handed from the caller's thread to the persist thread
// once.
//
// The buffer is process memory, or a shared file mapping (the memory tier,
// checkpoint/memory_tier.h): then the snapshot's bytes live in a file of the
// node's snapshot directory and outlive this process.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/manifest.h"
#include "checkpoint/state.h"
#include "runtime/unique_fd.h"

namespace myriad::checkpoint {

// Default upper bound of a chunk: a rank that loads part of a tensor reads
// and verifies whole chunks, so smaller chunks mean less read amplification
// and more manifest entries.
inline constexpr uint64_t kDefaultChunkBytes = 16ull << 20;

// A byte buffer that is reused from save to save: the first touch of fresh
// pages costs more than the copy itself, and it would land on the caller.
// Either page-aligned process memory or a shared, read-write mapping of a
// file (map_file); moving it keeps the pages, destroying it frees or unmaps
// them (a mapped file itself stays).
class SnapshotBuffer {
 public:
  static constexpr size_t kBufferAlignment = 4096;  // O_DIRECT's requirement on Linux block devices

  SnapshotBuffer() = default;
  ~SnapshotBuffer();
  SnapshotBuffer(SnapshotBuffer&& other) noexcept;
  SnapshotBuffer& operator=(SnapshotBuffer&& other) noexcept;
  SnapshotBuffer(const SnapshotBuffer&) = delete;
  SnapshotBuffer& operator=(const SnapshotBuffer&) = delete;

  // Maps the open file `fd` (ownership taken; closed by the destructor),
  // sized to `bytes` with its blocks allocated, so that a store into the
  // mapping never faults for want of space. Throws Error(Io) naming `path`.
  static SnapshotBuffer map_file(int fd, std::string path, size_t bytes);

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  bool mapped() const { return fd_.valid(); }
  // The mapped file's path ("" for process memory) and descriptor (-1).
  const std::string& path() const { return path_; }
  int fd() const { return fd_.fd(); }
  // After the file was renamed.
  void set_path(std::string path) { path_ = std::move(path); }
  // Makes room for `bytes` (keeping the allocation or mapping when it is
  // large enough); a mapped file is resized and its blocks allocated.
  void resize(size_t bytes);

 private:
  void release() noexcept;

  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // allocation or mapping length
  UniqueFd fd_;
  std::string path_;
};

// Gives take() a buffer of exactly `bytes`.
using BufferSource = std::function<SnapshotBuffer(size_t bytes)>;

// The implicit move is noexcept; nlohmann::json's calls assert_invariant(),
// which tidy cannot see through.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct Snapshot {
  uint64_t step = 0;
  int rank = 0;
  int world_size = 1;
  std::string file_name;              // rank_file_name(rank)
  std::vector<TensorRecord> tensors;  // this rank's chunks; xxh3 set by seal()
  nlohmann::json values;              // rank 0's are the ones saved
  nlohmann::json metadata;
  SnapshotBuffer buffer;  // header + chunks, exactly the file's bytes
  uint64_t file_xxh3 = 0;

  // Plans this rank's chunks of `state` (validated) and copies them into
  // `reuse` (which becomes this snapshot's buffer).
  static Snapshot take(const State& state, uint64_t step, int rank, int world_size, uint64_t chunk_bytes,
                       SnapshotBuffer reuse);
  // The same, with the buffer from `source` (called once the size is known).
  static Snapshot take(const State& state, uint64_t step, int rank, int world_size, uint64_t chunk_bytes,
                       const BufferSource& source);
  // Writes the header and computes the chunk and file checksums.
  void seal();
  // seal() in its two parts, so that the checksums can be computed while the
  // bytes are being written: the header first (the file's checksum covers
  // it), then the checksums, which only read the buffer.
  void write_header();
  void compute_checksums();
};

}  // namespace myriad::checkpoint
