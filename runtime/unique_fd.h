// UniqueFd: the one owner of a file descriptor in Myriad.
//
// Closes its descriptor when destroyed or reset. Move-only; not thread-safe
// (one owner at a time). Sockets (runtime/net.h), checkpoint files
// (checkpoint/file_io.h), the launcher's pipes, epoll and signalfd, and the
// files behind shared-memory mappings all hold one.
//
// close() is never retried on EINTR: on Linux the descriptor is released
// either way, and retrying could close a descriptor another thread opened.
// reset() and the destructor ignore close()'s result; an owner whose close
// can report a deferred write error (a file it wrote) calls close().
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace myriad {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the returned descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes the held descriptor (if any) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes the held descriptor; returns 0, or close()'s errno. Invalid
  // afterwards either way.
  int close() {
    if (fd_ < 0) return 0;
    return ::close(release()) == 0 ? 0 : errno;
  }

 private:
  int fd_ = -1;
};

}  // namespace myriad
