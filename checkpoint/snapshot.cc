#include "checkpoint/snapshot.h"

#include <algorithm>
#include <cstring>

#include "checkpoint/format.h"
#include "runtime/error.h"

namespace myriad::checkpoint {

void SnapshotBuffer::resize(size_t bytes) {
  if (bytes > capacity_) {
    data_.reset(new unsigned char[bytes]);  // default-initialized: the copy writes every byte
    capacity_ = bytes;
  }
  size_ = bytes;
}

Snapshot Snapshot::take(const State& state, uint64_t step, int rank, int world_size, uint64_t chunk_bytes,
                        SnapshotBuffer reuse) {
  validate_state(state);
  Snapshot snap;
  snap.step = step;
  snap.rank = rank;
  snap.world_size = world_size;
  snap.file_name = rank_file_name(rank);
  snap.values = state.values;

  // Plan: whole rows, at most chunk_bytes (but at least one row) per chunk.
  struct Copy {
    const unsigned char* from;
    uint64_t to;
    uint64_t bytes;
  };
  std::vector<Copy> copies;
  uint64_t end = kHeaderBytes;
  for (const TensorEntry& t : state.tensors) {
    TensorRecord record{t.name, t.view.dtype, t.global_shape, t.placement, {}};
    const bool writes = t.placement == Placement::Sharded || rank == 0;
    const uint64_t row_bytes = row_elements(t.global_shape) * dtype_size(t.view.dtype);
    const uint64_t rows = row_bytes == 0 ? 0 : t.view.bytes() / row_bytes;
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, chunk_bytes / std::max<uint64_t>(row_bytes, 1));
    for (uint64_t r = 0; writes && r < rows; r += rows_per_chunk) {
      const uint64_t n = std::min(rows_per_chunk, rows - r);
      ChunkRecord chunk{
          snap.file_name, align_up(end), n * row_bytes, static_cast<uint64_t>(t.row_offset) + r, n, 0};
      copies.push_back(
          {static_cast<const unsigned char*>(t.view.data) + r * row_bytes, chunk.offset, chunk.bytes});
      end = chunk.offset + chunk.bytes;
      record.chunks.push_back(chunk);
    }
    snap.tensors.push_back(std::move(record));
  }

  snap.buffer = std::move(reuse);
  snap.buffer.resize(end);
  unsigned char* out = snap.buffer.data();
  uint64_t at = kHeaderBytes;
  std::memset(out, 0, kHeaderBytes);
  for (const Copy& c : copies) {
    if (c.to > at) std::memset(out + at, 0, c.to - at);  // alignment padding
    std::memcpy(out + c.to, c.from, c.bytes);
    at = c.to + c.bytes;
  }
  return snap;
}

void Snapshot::seal() {
  FileHeader header;
  header.rank = static_cast<uint32_t>(rank);
  header.step = step;
  header.world_size = static_cast<uint32_t>(world_size);
  header.data_bytes = buffer.size() - kHeaderBytes;
  encode_header(header, buffer.data());
  for (TensorRecord& t : tensors) {
    for (ChunkRecord& c : t.chunks) c.xxh3 = checksum(buffer.data() + c.offset, c.bytes);
  }
  file_xxh3 = checksum(buffer.data(), buffer.size());
}

}  // namespace myriad::checkpoint
