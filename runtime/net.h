// Networking basics shared by the store, the launcher and the TCP transport:
// host:port addresses and a move-only socket that closes itself.
//
// Functions throw Error(InvalidArgument) for malformed addresses (naming
// `what`, e.g. the variable or flag the text came from) and Error(Io) or
// Error(Unavailable) for failures of the operating system or the peer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace myriad {

struct HostPort {
  std::string host;
  uint16_t port = 0;

  // "host:port"; an IPv6 host is written in brackets.
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" or "[v6addr]:port". `what` names the source in errors.
HostPort parse_host_port(std::string_view text, std::string_view what);

}  // namespace myriad
