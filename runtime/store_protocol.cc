#include "runtime/store_protocol.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "runtime/error.h"

namespace myriad::store_protocol {
namespace {

// A negative timeout on the wire means "do not wait"; larger than this is
// clamped so that deadlines computed from it cannot overflow (about 10 years).
constexpr int64_t kMaxWireTimeoutMs = int64_t{10} * 365 * 24 * 3600 * 1000;

void put_le(std::string& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view in) {
  uint64_t value = 0;
  for (size_t i = 0; i < in.size(); ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

}  // namespace

std::string op_name(uint8_t op) {
  switch (static_cast<Op>(op)) {
    case Op::Auth: return "AUTH";
    case Op::Set: return "SET";
    case Op::Get: return "GET";
    case Op::Add: return "ADD";
    case Op::CompareSet: return "COMPARE_SET";
    case Op::Check: return "CHECK";
    case Op::Wait: return "WAIT";
    case Op::Delete: return "DELETE";
    case Op::NumKeys: return "NUM_KEYS";
    case Op::DeletePrefix: return "DELETE_PREFIX";
    case Op::Ok: return "OK";
    case Op::Error: return "ERROR";
    case Op::Timeout: return "TIMEOUT";
  }
  return fmt::format("opcode 0x{:02x}", op);
}

bool is_request(uint8_t op) {
  return op >= static_cast<uint8_t>(Op::Auth) && op <= static_cast<uint8_t>(Op::DeletePrefix);
}

Header decode_header(std::span<const char, kHeaderBytes> bytes) {
  if (bytes[0] != kMagic[0] || bytes[1] != kMagic[1]) {
    raise(ErrorCode::Corruption, "not a store frame: bad magic bytes 0x{:02x}{:02x}",
          static_cast<unsigned char>(bytes[0]), static_cast<unsigned char>(bytes[1]));
  }
  Header header;
  header.version = static_cast<uint8_t>(bytes[2]);
  header.op = static_cast<uint8_t>(bytes[3]);
  header.body_bytes = static_cast<uint32_t>(get_le(std::string_view(bytes.data() + 4, 4)));
  return header;
}

Writer::Writer(Op op) {
  frame_.reserve(kHeaderBytes + 64);
  frame_.push_back(kMagic[0]);
  frame_.push_back(kMagic[1]);
  frame_.push_back(static_cast<char>(kVersion));
  frame_.push_back(static_cast<char>(op));
  put_le(frame_, 0, 4);  // body length, filled in by finish()
}

Writer& Writer::u8(uint8_t value) {
  frame_.push_back(static_cast<char>(value));
  return *this;
}

Writer& Writer::i64(int64_t value) {
  put_le(frame_, static_cast<uint64_t>(value), 8);
  return *this;
}

void Writer::u32(uint32_t value) {
  put_le(frame_, value, 4);
}

Writer& Writer::str(std::string_view value) {
  if (value.size() > UINT32_MAX) {
    raise(ErrorCode::InvalidArgument, "a store key or value of {} bytes is over the 4 GiB field limit",
          value.size());
  }
  u32(static_cast<uint32_t>(value.size()));
  frame_.append(value);
  return *this;
}

Writer& Writer::keys(const std::vector<std::string>& keys) {
  if (keys.size() > UINT32_MAX) raise(ErrorCode::InvalidArgument, "too many store keys: {}", keys.size());
  u32(static_cast<uint32_t>(keys.size()));
  for (const std::string& key : keys) str(key);
  return *this;
}

Writer& Writer::millis(std::chrono::milliseconds timeout) {
  return i64(std::clamp<int64_t>(timeout.count(), 0, kMaxWireTimeoutMs));
}

Writer& Writer::str_header(size_t size) {
  if (size > UINT32_MAX) {
    raise(ErrorCode::InvalidArgument, "a store value of {} bytes is over the 4 GiB field limit", size);
  }
  u32(static_cast<uint32_t>(size));
  external_ += size;
  return *this;
}

std::string Writer::finish() {
  size_t body = frame_.size() - kHeaderBytes + std::exchange(external_, 0);
  if (body > UINT32_MAX) {
    raise(ErrorCode::InvalidArgument, "a store frame of {} bytes is over the 4 GiB frame limit", body);
  }
  for (size_t i = 0; i < 4; ++i) frame_[4 + i] = static_cast<char>((body >> (8 * i)) & 0xff);
  return std::exchange(frame_, std::string());
}

std::string_view Reader::take(size_t size, std::string_view field) {
  if (size > body_.size()) {
    raise(ErrorCode::Corruption, "truncated frame body: {} needs {} bytes, {} left", field, size,
          body_.size());
  }
  std::string_view out = body_.substr(0, size);
  body_.remove_prefix(size);
  return out;
}

uint8_t Reader::u8() {
  return static_cast<uint8_t>(take(1, "u8")[0]);
}
uint32_t Reader::u32() {
  return static_cast<uint32_t>(get_le(take(4, "u32")));
}
int64_t Reader::i64() {
  return static_cast<int64_t>(get_le(take(8, "i64")));
}

std::string Reader::str() {
  uint32_t size = u32();
  return std::string(take(size, "string"));
}

std::vector<std::string> Reader::keys() {
  uint32_t count = u32();
  // Each key takes at least its 4-byte length: a count the body cannot hold
  // is rejected before reserving memory for it.
  if (count > body_.size() / 4) {
    raise(ErrorCode::Corruption, "key count {} does not fit in the {} bytes left", count, body_.size());
  }
  std::vector<std::string> keys;
  keys.reserve(count);
  for (uint32_t i = 0; i < count; ++i) keys.push_back(str());
  return keys;
}

std::chrono::milliseconds Reader::millis() {
  return std::chrono::milliseconds(std::clamp<int64_t>(i64(), 0, kMaxWireTimeoutMs));
}

void Reader::end() const {
  if (!body_.empty()) raise(ErrorCode::Corruption, "{} unexpected bytes after the last field", body_.size());
}

}  // namespace myriad::store_protocol
