#include "checkpoint/snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <algorithm>
#include <cstring>

#include "checkpoint/format.h"
#include "runtime/error.h"

namespace myriad::checkpoint {
namespace {

// Block of the one-pass checksum: small enough to stay in L2.
constexpr uint64_t kHashBlockBytes = 256 << 10;

}  // namespace

SnapshotBuffer::~SnapshotBuffer() {
  release();
}

SnapshotBuffer::SnapshotBuffer(SnapshotBuffer&& other) noexcept
    : data_(other.data_),
      size_(other.size_),
      capacity_(other.capacity_),
      fd_(std::move(other.fd_)),
      path_(std::move(other.path_)) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

SnapshotBuffer& SnapshotBuffer::operator=(SnapshotBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

void SnapshotBuffer::release() noexcept {
  if (fd_.valid()) {
    if (data_ != nullptr) ::munmap(data_, capacity_);
    fd_.reset();
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  size_ = capacity_ = 0;
}

SnapshotBuffer SnapshotBuffer::map_file(int fd, std::string path, size_t bytes) {
  SnapshotBuffer buffer;
  buffer.fd_.reset(fd);
  buffer.path_ = std::move(path);
  buffer.resize(bytes);
  return buffer;
}

void SnapshotBuffer::resize(size_t bytes) {
  const size_t capacity = (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
  if (fd_.valid()) {
    // Size the file first, then allocate its blocks: on tmpfs a store into a
    // mapped page that has no block behind it is a SIGBUS, not an error.
    if (::ftruncate(fd_.fd(), static_cast<off_t>(bytes)) != 0) raise_errno(errno, "resize " + path_);
    if (bytes > 0) {
      if (int err = ::posix_fallocate(fd_.fd(), 0, static_cast<off_t>(bytes)); err != 0) {
        raise_errno(err, fmt::format("allocate {} bytes for {}", bytes, path_));
      }
    }
    if (bytes > capacity_ || data_ == nullptr) {
      if (data_ != nullptr) ::munmap(data_, capacity_);
      data_ = nullptr;
      capacity_ = 0;
      void* p = ::mmap(nullptr, std::max<size_t>(capacity, kBufferAlignment), PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd_.fd(), 0);
      if (p == MAP_FAILED) raise_errno(errno, "map " + path_);
      data_ = static_cast<unsigned char*>(p);
      capacity_ = std::max<size_t>(capacity, kBufferAlignment);
    }
    size_ = bytes;
    return;
  }
  if (bytes > capacity_) {
    // Page-aligned so that the persist can write it with O_DIRECT; not
    // zeroed: the copy writes every byte.
    void* p = std::aligned_alloc(kBufferAlignment, capacity);
    if (p == nullptr) raise(ErrorCode::Io, "cannot allocate a {}-byte snapshot buffer", capacity);
    std::free(data_);
    data_ = static_cast<unsigned char*>(p);
    capacity_ = capacity;
  }
  size_ = bytes;
}

Snapshot Snapshot::take(const State& state, uint64_t step, int rank, int world_size, uint64_t chunk_bytes,
                        SnapshotBuffer reuse) {
  return take(state, step, rank, world_size, chunk_bytes, [&reuse](size_t bytes) {
    reuse.resize(bytes);
    return std::move(reuse);
  });
}

Snapshot Snapshot::take(const State& state, uint64_t step, int rank, int world_size, uint64_t chunk_bytes,
                        const BufferSource& source) {
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

  snap.buffer = source(end);
  MYRIAD_CHECK(snap.buffer.size() == end);
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
  write_header();
  compute_checksums();
}

void Snapshot::write_header() {
  FileHeader header;
  header.rank = static_cast<uint32_t>(rank);
  header.step = step;
  header.world_size = static_cast<uint32_t>(world_size);
  header.data_bytes = buffer.size() - kHeaderBytes;
  encode_header(header, buffer.data());
}

void Snapshot::compute_checksums() {
  // One pass over the bytes for both checksums: each block feeds its
  // chunk's hash and the file's while it is still in the cache.
  std::vector<ChunkRecord*> chunks;
  for (TensorRecord& t : tensors) {
    for (ChunkRecord& c : t.chunks) chunks.push_back(&c);
  }
  std::sort(chunks.begin(), chunks.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  StreamingChecksum file_sum;
  StreamingChecksum chunk_sum;
  const unsigned char* data = buffer.data();
  uint64_t at = 0;
  for (ChunkRecord* c : chunks) {
    file_sum.update(data + at, c->offset - at);  // header or padding
    chunk_sum.reset();
    for (uint64_t done = 0; done < c->bytes; done += kHashBlockBytes) {
      const uint64_t n = std::min<uint64_t>(kHashBlockBytes, c->bytes - done);
      chunk_sum.update(data + c->offset + done, n);
      file_sum.update(data + c->offset + done, n);
    }
    c->xxh3 = chunk_sum.digest();
    at = c->offset + c->bytes;
  }
  file_sum.update(data + at, buffer.size() - at);
  file_xxh3 = file_sum.digest();
}

}  // namespace myriad::checkpoint
