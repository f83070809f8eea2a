#include "checkpoint/chunk_sources.h"

#include <algorithm>

#include "checkpoint/format.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::checkpoint {

std::string_view tier_name(Tier tier) {
  switch (tier) {
    case Tier::Memory: return "memory";
    case Tier::Buddy: return "buddy";
    case Tier::Disk: return "disk";
  }
  return "?";
}

void read_chunk(const File& file, const ChunkRecord& c, const std::string& tensor, unsigned char* out) {
  // Read and hash in cache-sized blocks: each block is hashed while it is
  // still in the cache, so the chunk crosses memory once, not twice (a load
  // from the memory tier is bound by that traffic).
  constexpr size_t kBlockBytes = 256u << 10;
  StreamingChecksum sum;
  size_t n = 0;
  while (n < c.bytes) {
    const size_t want = std::min<size_t>(kBlockBytes, c.bytes - n);
    const size_t got = file.pread_some(out + n, want, c.offset + n);
    sum.update(out + n, got);
    n += got;
    if (got < want) break;
  }
  if (n != c.bytes) {
    raise(ErrorCode::Corruption,
          "{}: offset {}: chunk of tensor '{}' (rows [{}, {})) is truncated: {} of {} bytes present",
          file.path(), c.offset, tensor, c.row, c.row + c.rows, n, c.bytes);
  }
  if (const uint64_t computed = sum.digest(); computed != c.xxh3) {
    raise(ErrorCode::Corruption,
          "{}: offset {}: checksum mismatch in chunk of tensor '{}' (rows [{}, {}), {} bytes; stored {}, "
          "computed {})",
          file.path(), c.offset, tensor, c.row, c.row + c.rows, c.bytes, checksum_hex(c.xxh3),
          checksum_hex(computed));
  }
}

ChunkSources::ChunkSources(std::string memory_dir, std::string buddy_dir, std::string disk_dir, int rank)
    : dirs_{std::move(memory_dir), std::move(buddy_dir), std::move(disk_dir)}, rank_(rank) {}

const File* ChunkSources::open(size_t tier, const std::string& name, const std::string& tensor) {
  const std::string path = dirs_[tier] + "/" + name;
  auto it = files_.find(path);
  if (it != files_.end()) return it->second.get();
  std::unique_ptr<File> file;
  if (path_exists(path)) {
    file = std::make_unique<File>(File::open_read(path));
  } else if (tier == static_cast<size_t>(Tier::Disk)) {
    raise(ErrorCode::Corruption, "{}: missing (it holds chunks of tensor '{}')", path, tensor);
  }
  return files_.emplace(path, std::move(file)).first->second.get();
}

void ChunkSources::read(const ChunkRecord& c, const std::string& tensor, unsigned char* out) {
  std::string reasons;
  for (size_t tier = 0; tier < kTierCount; ++tier) {
    if (dirs_[tier].empty()) continue;
    const bool last = tier + 1 == kTierCount;
    try {
      const File* file = open(tier, c.file, tensor);
      if (file == nullptr) continue;
      read_chunk(*file, c, tensor, out);
      bytes_[tier] += c.bytes;
      return;
    } catch (const Error& e) {
      if (last) {
        if (reasons.empty()) throw;
        raise(e.code(), "{} (after{})", e.message(), reasons);
      }
      // A bad copy in memory is no reason to fail the load: the next tier
      // has another copy, verified the same way.
      const std::string line = fmt::format("{} copy: {}", tier_name(static_cast<Tier>(tier)), e.message());
      MYRIAD_LOG_WARN("checkpoint: rank {}: {}; trying the next source", rank_, line);
      fallbacks_.push_back(line);
      reasons += "\n  " + line;
    }
  }
  raise(ErrorCode::Corruption,
        "{}: offset {}: no source holds a verified copy of this chunk of tensor '{}'{}", c.file, c.offset,
        tensor, reasons);
}

}  // namespace myriad::checkpoint
