#include "launcher/output_forwarder.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/logging.h"

namespace myriad::launcher {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

LineForwarder::LineForwarder(std::string prefix, int console_fd, int log_fd)
    : prefix_(std::move(prefix)), console_fd_(console_fd), log_fd_(log_fd) {}

void LineForwarder::feed(std::string_view data) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(data);
      // Cap the buffer: emit full-size pieces of an endless line.
      while (partial_.size() >= kMaxLineBytes) {
        emit(std::string_view(partial_).substr(0, kMaxLineBytes));
        partial_.erase(0, kMaxLineBytes);
      }
      return;
    }
    if (partial_.empty()) {
      emit(data.substr(0, newline));
    } else {
      partial_.append(data.substr(0, newline));
      emit(partial_);
      partial_.clear();
    }
    data.remove_prefix(newline + 1);
  }
}

void LineForwarder::finish() {
  if (partial_.empty()) return;
  emit(partial_);
  partial_.clear();
}

void LineForwarder::emit(std::string_view line) {
  out_.assign(prefix_);
  out_.append(line);
  out_.push_back('\n');
  if (console_fd_ >= 0 && !write_all(console_fd_, out_)) {
    console_fd_ = -1;  // a closed console stays closed; the log file keeps the output
  }
  if (log_fd_ >= 0 && !write_all(log_fd_, std::string_view(out_).substr(prefix_.size()))) {
    MYRIAD_LOG_WARN("writing the log file of '{}' failed ({}); its further lines go to the console only",
                    prefix_, std::strerror(errno));
    log_fd_ = -1;
  }
}

}  // namespace myriad::launcher
