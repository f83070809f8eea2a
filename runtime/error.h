// Errors of Myriad.
//
// Every failure a caller can handle is a myriad::Error: an exception with a
// code and a message that names what the user needs to find the fault (rank,
// peer, operation, sequence number, file and offset). docs/errors.md lists
// the codes and which conditions raise them.
//
// Internal invariants use MYRIAD_CHECK, which throws Error with code Internal
// and the source location: a failed check is a bug in Myriad, not in the
// caller's input.
//
// Thread-safety: Error is an immutable value; copy it freely across threads.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace myriad {

enum class ErrorCode {
  InvalidArgument,  // the caller passed something wrong: a flag, a value, a variable
  Timeout,          // a bounded wait ran out
  PeerFailure,      // a peer (rank, store, client) died or broke the protocol
  Io,               // the operating system refused a file or socket operation
  Corruption,       // data failed a checksum or a format check
  Unavailable,      // a service cannot be reached now; trying later may work
  NotSupported,     // the operation exists but not for this backend or type
  Internal,         // a broken invariant inside Myriad: a bug
};

// Stable lower-case name of a code ("invalid_argument", ...).
std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);

  ErrorCode code() const noexcept { return code_; }
  // The message without the "[code] " prefix that what() carries.
  const std::string& message() const noexcept { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

// Throws Error(code, fmt::format(format, args...)).
template <typename... Args>
[[noreturn]] void raise(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

// Throws Error(Io, "<what>: <strerror(err)>"), keeping errno's text.
[[noreturn]] void raise_errno(int err, std::string_view what);

namespace detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& note);
}  // namespace detail

}  // namespace myriad

// MYRIAD_CHECK(cond) / MYRIAD_CHECK(cond, "fmt", args...): an internal
// invariant. Throws Error(Internal) naming the expression and location.
#define MYRIAD_CHECK(cond, ...)                                                     \
  do {                                                                              \
    if (!(cond)) [[unlikely]] {                                                     \
      ::myriad::detail::check_failed(#cond, __FILE__, __LINE__,                     \
                                     ::fmt::format("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                               \
  } while (false)
