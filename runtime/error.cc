#include "runtime/error.h"

#include <cstring>

namespace myriad {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid_argument";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::PeerFailure: return "peer_failure";
    case ErrorCode::Io: return "io";
    case ErrorCode::Corruption: return "corruption";
    case ErrorCode::Unavailable: return "unavailable";
    case ErrorCode::NotSupported: return "not_supported";
    case ErrorCode::Internal: return "internal";
  }
  return "unknown";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(fmt::format("[{}] {}", error_code_name(code), message)),
      code_(code),
      message_(message) {}

void raise_errno(int err, std::string_view what) {
  throw Error(ErrorCode::Io, fmt::format("{}: {}", what, std::strerror(err)));
}

namespace detail {
void check_failed(const char* expr, const char* file, int line, const std::string& note) {
  std::string message = fmt::format("check failed: {} at {}:{}", expr, file, line);
  if (!note.empty()) message += fmt::format(" ({})", note);
  throw Error(ErrorCode::Internal, message);
}
}  // namespace detail

}  // namespace myriad
