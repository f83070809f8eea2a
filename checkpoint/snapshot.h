// Snapshot: one rank's part of a save, copied into host memory in the exact
// layout of its data file (docs/checkpoint-format.md), so that persisting is
// one sequential write.
//
// take() is the only part of a save the caller waits for: it plans the
// chunks and copies the tensors. seal() (on the persist thread) fills in the
// header and the checksums. A Snapshot owns its buffer; it is not
// thread-safe, and is handed from the caller's thread to the persist thread
// once.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/manifest.h"
#include "checkpoint/state.h"

namespace myriad::checkpoint {

// Default upper bound of a chunk: a rank that loads part of a tensor reads
// and verifies whole chunks, so smaller chunks mean less read amplification
// and more manifest entries.
inline constexpr uint64_t kDefaultChunkBytes = 16ull << 20;

// A byte buffer that is reused from save to save: the first touch of fresh
// pages costs more than the copy itself, and it would land on the caller.
class SnapshotBuffer {
 public:
  static constexpr size_t kBufferAlignment = 4096;  // O_DIRECT's requirement on Linux block devices

  unsigned char* data() { return data_.get(); }
  const unsigned char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // Makes room for `bytes` (keeping the allocation when it is large enough).
  void resize(size_t bytes);

 private:
  struct Free {
    void operator()(unsigned char* p) const { std::free(p); }
  };
  std::unique_ptr<unsigned char, Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

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
  // Writes the header and computes the chunk and file checksums.
  void seal();
};

}  // namespace myriad::checkpoint
