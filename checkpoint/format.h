// The on-disk names and binary layout of a checkpoint, version 1
// (docs/checkpoint-format.md is the specification; this header is its code).
//
// All functions are pure and thread-safe. Decoding functions throw
// Error(Corruption) naming the file and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct XXH3_state_s;  // <xxhash.h>

namespace myriad::checkpoint {

inline constexpr uint32_t kCheckpointFormatVersion = 1;
inline constexpr size_t kHeaderBytes = 64;
// Chunks start at multiples of this in a data file.
inline constexpr size_t kChunkAlignment = 64;
inline constexpr char kFileMagic[8] = {'M', 'Y', 'R', 'D', 'C', 'K', 'P', 'T'};
inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kLatestName = "latest";
inline constexpr std::string_view kTmpMarker = ".tmp-";

// "step-000000123".
std::string step_dir_name(uint64_t step);
// The step of a committed step directory's name; nullopt for anything else
// (temporary directories, other files).
std::optional<uint64_t> parse_step_dir_name(std::string_view name);
// "rank-00003.bin".
std::string rank_file_name(int rank);

struct FileHeader {
  uint32_t version = kCheckpointFormatVersion;
  uint32_t rank = 0;
  uint64_t step = 0;
  uint32_t world_size = 0;
  uint32_t header_bytes = kHeaderBytes;
  uint64_t data_bytes = 0;
};

// Writes the 64-byte header into `out`.
void encode_header(const FileHeader& header, unsigned char* out);
// Reads a header; throws Corruption (bad magic) naming `path`. The version is
// returned as found: the caller decides what it accepts.
FileHeader decode_header(const unsigned char* in, const std::string& path);

// XXH3-64 (seed 0) and its 16-digit lower-case hex form.
uint64_t checksum(const void* data, size_t bytes);
// checksum() of bytes fed in pieces: update() each piece, digest() for the
// checksum of all of them so far; reset() starts again. Owns its state.
class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;
  void reset();
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  ::XXH3_state_s* state_;
};
std::string checksum_hex(uint64_t value);
// Parses 16 hex digits; nullopt when `text` is not that.
std::optional<uint64_t> parse_checksum_hex(std::string_view text);

// `value` rounded up to a multiple of kChunkAlignment.
inline uint64_t align_up(uint64_t value) {
  return (value + kChunkAlignment - 1) / kChunkAlignment * kChunkAlignment;
}

}  // namespace myriad::checkpoint
