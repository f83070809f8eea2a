// Wire format of the tcp transport (docs/transports.md, "TCP framing").
//
// A connection opens with one Hello each way (the connecting rank speaks
// first), then carries frames: a FrameHeader, followed by `bytes` of payload
// for Data (the message) and Abort (the reason text, UTF-8), none for
// Goodbye. Integers are little-endian, as every host Myriad runs on.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace myriad {

static_assert(std::endian::native == std::endian::little, "the tcp wire format is little-endian");

inline constexpr uint32_t kTcpHelloMagic = 0x4854594d;  // "MYTH"
// Bumped whenever Hello or FrameHeader changes; peers of two versions refuse
// each other in the hello.
inline constexpr uint16_t kTcpProtocolVersion = 1;
inline constexpr uint16_t kTcpFrameMagic = 0x4d46;  // "FM": catches a stream that lost its framing
// Longest comm id a hello carries.
inline constexpr uint32_t kTcpMaxCommIdBytes = 256;
// Longest abort reason a frame carries; longer reasons are cut.
inline constexpr uint64_t kTcpMaxReasonBytes = 4096;

struct Hello {
  uint32_t magic;
  uint16_t version;
  uint16_t reserved;
  int32_t rank;
  int32_t size;
  uint32_t comm_id_bytes;  // followed by the comm id
};
static_assert(sizeof(Hello) == 20);

enum class FrameType : uint8_t { Data = 1, Abort = 2, Goodbye = 3 };

struct FrameHeader {
  uint16_t magic;
  uint8_t type;  // a FrameType
  uint8_t reserved[5];
  uint64_t tag;    // Data: the message's tag
  uint64_t bytes;  // payload length
};
static_assert(sizeof(FrameHeader) == 24);

inline FrameHeader make_frame_header(FrameType type, uint64_t tag, uint64_t bytes) {
  return FrameHeader{kTcpFrameMagic, static_cast<uint8_t>(type), {}, tag, bytes};
}

}  // namespace myriad
