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
    : pids_(std::move(pids)), pidfds_(pids_.size()), exited_(pids_.size(), false) {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    const long fd = ::syscall(SYS_pidfd_open, pids_[i], 0);
    if (fd >= 0) {
      pidfds_[i].reset(static_cast<int>(fd));
    } else if (errno == ESRCH) {
      exited_[i] = true;
    } else if (errno != ENOSYS && errno != EPERM && errno != EINVAL) {
      raise_errno(errno, fmt::format("pidfd_open({})", pids_[i]));  // the members close what is open
    }
  }
}

void ProcessWatch::close() {
  for (UniqueFd& fd : pidfds_) fd.reset();
}

const std::vector<bool>& ProcessWatch::poll() {
  std::vector<pollfd> fds;
  std::vector<size_t> index;
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (exited_[i] || pids_[i] <= 0) continue;
    if (pidfds_[i].valid()) {
      fds.push_back(pollfd{pidfds_[i].fd(), POLLIN, 0});
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
