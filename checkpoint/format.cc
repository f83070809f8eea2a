#include "checkpoint/format.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cstring>
#include <new>

#include "runtime/error.h"

namespace myriad::checkpoint {
namespace {

template <typename T>
void put(unsigned char* out, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[offset + i] = static_cast<unsigned char>(value >> (8 * i));
}

template <typename T>
T get(const unsigned char* in, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(in[offset + i]) << (8 * i);
  return value;
}

}  // namespace

std::string step_dir_name(uint64_t step) {
  return fmt::format("step-{:09d}", step);
}

std::optional<uint64_t> parse_step_dir_name(std::string_view name) {
  constexpr std::string_view kPrefix = "step-";
  if (!name.starts_with(kPrefix) || name.size() < kPrefix.size() + 9 || name.size() > kPrefix.size() + 20) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kPrefix.size());
  uint64_t step = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    step = step * 10 + static_cast<uint64_t>(c - '0');
  }
  // Only the canonical spelling names a step: "step-0000000001" is not step 1.
  if (step_dir_name(step) != name) return std::nullopt;
  return step;
}

std::string rank_file_name(int rank) {
  return fmt::format("rank-{:05d}.bin", rank);
}

void encode_header(const FileHeader& header, unsigned char* out) {
  std::memset(out, 0, kHeaderBytes);
  std::memcpy(out, kFileMagic, sizeof(kFileMagic));
  put<uint32_t>(out, 8, header.version);
  put<uint32_t>(out, 12, header.rank);
  put<uint64_t>(out, 16, header.step);
  put<uint32_t>(out, 24, header.world_size);
  put<uint32_t>(out, 28, header.header_bytes);
  put<uint64_t>(out, 32, header.data_bytes);
}

FileHeader decode_header(const unsigned char* in, const std::string& path) {
  if (std::memcmp(in, kFileMagic, sizeof(kFileMagic)) != 0) {
    raise(ErrorCode::Corruption, "{}: offset 0: not a Myriad checkpoint data file (bad magic)", path);
  }
  FileHeader header;
  header.version = get<uint32_t>(in, 8);
  header.rank = get<uint32_t>(in, 12);
  header.step = get<uint64_t>(in, 16);
  header.world_size = get<uint32_t>(in, 24);
  header.header_bytes = get<uint32_t>(in, 28);
  header.data_bytes = get<uint64_t>(in, 32);
  return header;
}

uint64_t checksum(const void* data, size_t bytes) {
  return XXH3_64bits(data, bytes);
}

StreamingChecksum::StreamingChecksum() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  reset();
}

StreamingChecksum::~StreamingChecksum() {
  XXH3_freeState(state_);
}

void StreamingChecksum::reset() {
  XXH3_64bits_reset(state_);
}

void StreamingChecksum::update(const void* data, size_t bytes) {
  XXH3_64bits_update(state_, data, bytes);
}

uint64_t StreamingChecksum::digest() const {
  return XXH3_64bits_digest(state_);
}

std::string checksum_hex(uint64_t value) {
  return fmt::format("{:016x}", value);
}

std::optional<uint64_t> parse_checksum_hex(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return value;
}

}  // namespace myriad::checkpoint
