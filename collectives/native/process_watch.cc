#include "collectives/native/process_watch.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "runtime/error.h"

namespace myriad {

ProcessWatch::ProcessWatch(std::vector<pid_t> pids)
    : pids_(std::move(pids)), pidfds_(pids_.size(), -1), exited_(pids_.size(), false) {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    const long fd = ::syscall(SYS_pidfd_open, pids_[i], 0);
    if (fd >= 0) {
      pidfds_[i] = static_cast<int>(fd);
    } else if (errno == ESRCH) {
      exited_[i] = true;
    } else if (errno != ENOSYS && errno != EPERM && errno != EINVAL) {
      close();
      raise_errno(errno, fmt::format("pidfd_open({})", pids_[i]));
    }
  }
}

ProcessWatch::~ProcessWatch() {
  close();
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept
    : pids_(std::move(other.pids_)), pidfds_(std::move(other.pidfds_)), exited_(std::move(other.exited_)) {
  other.pidfds_.clear();
}

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    close();
    pids_ = std::move(other.pids_);
    pidfds_ = std::move(other.pidfds_);
    exited_ = std::move(other.exited_);
    other.pidfds_.clear();
  }
  return *this;
}

void ProcessWatch::close() {
  for (int& fd : pidfds_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

const std::vector<bool>& ProcessWatch::poll() {
  std::vector<pollfd> fds;
  std::vector<size_t> index;
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (exited_[i] || pids_[i] <= 0) continue;
    if (pidfds_[i] >= 0) {
      fds.push_back(pollfd{pidfds_[i], POLLIN, 0});
      index.push_back(i);
    } else if (::kill(pids_[i], 0) != 0 && errno == ESRCH) {
      exited_[i] = true;
    }
  }
  if (fds.empty()) return exited_;
  int rc;
  do {
    rc = ::poll(fds.data(), fds.size(), 0);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) raise_errno(errno, "poll on peer pidfds");
  for (size_t k = 0; k < fds.size(); ++k) {
    if (fds[k].revents != 0) exited_[index[k]] = true;
  }
  return exited_;
}

}  // namespace myriad
