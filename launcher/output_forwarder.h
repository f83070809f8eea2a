// LineForwarder: turns one rank stream (its stdout or stderr pipe) into
// whole lines on the launcher's console, each with the rank's prefix.
//
// feed() takes whatever a read() returned and writes every line it
// completes, prefix + line + '\n', with one write() to the console (and
// the line without the prefix to the rank's log file, when there is one).
// A line is never split across writes by the forwarder, so output of
// different ranks never interleaves mid-line. A line longer than
// kMaxLineBytes is written in pieces of that size so that a rank printing
// without newlines cannot exhaust the launcher's memory. finish() writes a
// partial last line (adding the newline) when the stream ends.
//
// A console that refuses writes (EPIPE: `myriad run ... | head`) is
// dropped silently and the log file still gets every line; the launcher
// must ignore SIGPIPE. Not thread-safe: one forwarder belongs to the one
// thread that reads its pipe. The forwarder does not own the descriptors.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace myriad::launcher {

inline constexpr size_t kMaxLineBytes = 1 << 20;

class LineForwarder {
 public:
  // `prefix` may be empty (--no-tag-output); `log_fd` is -1 for none.
  LineForwarder(std::string prefix, int console_fd, int log_fd);

  void feed(std::string_view data);
  void finish();

 private:
  void emit(std::string_view line);

  std::string prefix_;
  int console_fd_;
  int log_fd_;
  std::string partial_;
  std::string out_;  // reused buffer for prefix + line + '\n'
};

// Writes all of `data`, retrying on EINTR and short writes. Returns false
// (with errno set) when the descriptor fails.
bool write_all(int fd, std::string_view data);

}  // namespace myriad::launcher
