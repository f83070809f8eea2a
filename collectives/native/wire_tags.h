// The tag spaces of the native backend's messages, so that the messages of
// different jobs never match each other's receives (transport.h: a posted
// receive takes only its own tag).
//
//   collective #seq         seq                  (bits 0-61)
//   its start-of-op handshake  seq | kHandshakeBit
//   point-to-point          kPointToPointBit | the caller's tag
//
// Constants only: no ownership, thread-safe.
#pragma once

#include <cstdint>

namespace myriad {

inline constexpr uint64_t kHandshakeBit = uint64_t{1} << 62;
inline constexpr uint64_t kPointToPointBit = uint64_t{1} << 63;

}  // namespace myriad
