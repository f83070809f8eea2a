// The store's wire format: frame header, opcodes and field encodings, shared
// by TcpStoreServer and TcpStore. docs/store-protocol.md is the specification;
// keep the two in step.
//
// A frame is an 8-byte header followed by `body_bytes` of body:
//   bytes 0-1  magic "MY"
//   byte  2    protocol version (kVersion)
//   byte  3    opcode (Op)
//   bytes 4-7  body length, unsigned 32-bit little-endian
// Body fields are little-endian integers and length-prefixed byte strings.
//
// Decoding failures throw Error(Corruption) naming what was malformed; the
// receiver treats them as a protocol violation and closes the connection.
// Thread-safety: Writer and Reader are plain values; use one per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace myriad::store_protocol {

inline constexpr char kMagic[2] = {'M', 'Y'};
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 8;

enum class Op : uint8_t {
  // Requests (client to server).
  Auth = 1,           // string token                               -> Ok
  Set = 2,            // string key, string value                   -> Ok
  Get = 3,            // string key, i64 timeout_ms                 -> Ok(string value) | Timeout
  Add = 4,            // string key, i64 delta                      -> Ok(i64 value) | Error
  CompareSet = 5,     // string key, string expected, string desired -> Ok(string value)
  Check = 6,          // keys                                       -> Ok(u8 all_set)
  Wait = 7,           // keys, i64 timeout_ms                       -> Ok | Timeout
  Delete = 8,         // string key                                 -> Ok(u8 existed)
  NumKeys = 9,        // (empty)                                    -> Ok(i64 count)
  DeletePrefix = 10,  // string prefix                            -> Ok(i64 deleted)
  // Replies (server to client).
  Ok = 0x80,       // the request's results, as listed above
  Error = 0x81,    // u8 ErrorCode, string message
  Timeout = 0x82,  // keys still missing at the deadline
};

// "AUTH", "SET", ... for logs and errors; "opcode 0xNN" for unknown values.
std::string op_name(uint8_t op);
bool is_request(uint8_t op);

struct Header {
  uint8_t version = 0;
  uint8_t op = 0;
  uint32_t body_bytes = 0;
};

// One received frame: its opcode and body.
struct Frame {
  uint8_t op = 0;
  std::string body;
};

// Decodes a header. Throws Error(Corruption) when the magic is wrong; the
// version and opcode are returned as read, for the caller to judge.
Header decode_header(std::span<const char, kHeaderBytes> bytes);

// Builds one frame: the header is written by finish().
class Writer {
 public:
  explicit Writer(Op op);
  Writer& u8(uint8_t value);
  Writer& i64(int64_t value);
  Writer& str(std::string_view value);
  Writer& keys(const std::vector<std::string>& keys);
  Writer& millis(std::chrono::milliseconds timeout);
  // The length prefix of a string field of `size` bytes whose bytes the
  // caller sends right after the frame (a reply that shares a stored value
  // instead of copying it). Only as the last field.
  Writer& str_header(size_t size);
  // The complete frame (header and body; for str_header, all but the
  // string's bytes). The Writer is left empty.
  std::string finish();

 private:
  void u32(uint32_t value);
  std::string frame_;
  size_t external_ = 0;  // body bytes sent after the frame (str_header)
};

// Reads the fields of one frame's body in order.
class Reader {
 public:
  explicit Reader(std::string_view body) : body_(body) {}
  uint8_t u8();
  int64_t i64();
  std::string str();
  std::vector<std::string> keys();
  std::chrono::milliseconds millis();
  // Throws Corruption when bytes are left over: a body longer than its
  // fields is as malformed as a shorter one.
  void end() const;

 private:
  uint32_t u32();
  std::string_view take(size_t size, std::string_view field);
  std::string_view body_;
};

}  // namespace myriad::store_protocol
