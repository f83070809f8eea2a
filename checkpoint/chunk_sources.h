// ChunkSources: where a load reads a step's chunks from — this node's
// memory tier, the buddy replicas kept on this node, then the disk
// (docs/checkpoint-format.md, "Memory tier", "Restore").
//
// For each chunk the first copy that exists and whose checksum verifies is
// used; a copy that is missing is skipped silently, one that is truncated,
// unreadable or fails its checksum is skipped with a warning naming the file
// and offset (kept in fallbacks()). When no copy verifies, the last error is
// thrown (Error(Corruption) or Error(Io), naming the file, offset and
// tensor; earlier copies' reasons appended).
//
// Owns the files it opens (closed by the destructor). Not thread-safe: one
// load uses one ChunkSources.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/file_io.h"
#include "checkpoint/manifest.h"

namespace myriad::checkpoint {

enum class Tier : uint8_t { Memory = 0, Buddy = 1, Disk = 2 };
inline constexpr size_t kTierCount = 3;
// "memory", "buddy", "disk".
std::string_view tier_name(Tier tier);

// Reads chunk `c` of `file` into `out` and checks its size and checksum;
// Error(Corruption) names the file, offset and tensor.
void read_chunk(const File& file, const ChunkRecord& c, const std::string& tensor, unsigned char* out);

class ChunkSources {
 public:
  // Step directories of each tier, in the order they are tried; "" leaves a
  // tier out.
  ChunkSources(std::string memory_dir, std::string buddy_dir, std::string disk_dir, int rank);

  // Reads chunk `c` of tensor `tensor` into `out` (c.bytes bytes) and
  // verifies it.
  void read(const ChunkRecord& c, const std::string& tensor, unsigned char* out);

  uint64_t bytes(Tier tier) const { return bytes_[static_cast<size_t>(tier)]; }
  // One line per copy that was present but unusable.
  const std::vector<std::string>& fallbacks() const { return fallbacks_; }

 private:
  // The open file `name` of tier `tier`, or nullptr when it has none.
  const File* open(size_t tier, const std::string& name, const std::string& tensor);

  std::array<std::string, kTierCount> dirs_;
  int rank_;
  std::array<uint64_t, kTierCount> bytes_{};
  std::map<std::string, std::unique_ptr<File>> files_;  // by path; null: absent
  std::vector<std::string> fallbacks_;
};

}  // namespace myriad::checkpoint
