// UniqueFd: owns one file descriptor and closes it when destroyed.
//
// Move-only; not thread-safe (one owner at a time). close() errors are
// ignored: the descriptors the launcher owns (pipes, epoll, signalfd, log
// files it also fsyncs nowhere) carry no data that a failed close would lose.
#pragma once

#include <unistd.h>

#include <utility>

namespace myriad::launcher {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace myriad::launcher
