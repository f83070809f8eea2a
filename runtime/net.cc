#include "runtime/net.h"

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad {

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

HostPort parse_host_port(std::string_view text, std::string_view what) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == ':') {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
  }
  if (host.empty() || port.empty()) {
    raise(ErrorCode::InvalidArgument, "{}='{}' is not an address: expected host:port or [v6addr]:port",
          what, text);
  }
  return HostPort{std::string(host),
                  static_cast<uint16_t>(config::parse_int(port, fmt::format("port of {}", what), 1, 65535))};
}

}  // namespace myriad
