// ProcessWatch: tells whether the processes of local peers still run,
// without a syscall per query on the fast path of the caller.
//
// Uses a pidfd per process (pidfd_open; readable once the process has
// exited, zombie or not, and immune to pid reuse) and one poll() over all of
// them. Where pidfd_open is unavailable it falls back to kill(pid, 0), which
// cannot see a zombie; the shm transport then still notices a peer whose
// parent has reaped it.
//
// Move-only (it owns the pidfds). Thread-safety: none; the owning transport's progress thread uses it.
#pragma once

#include <sys/types.h>

#include <vector>

#include "runtime/unique_fd.h"

namespace myriad {

class ProcessWatch {
 public:
  ProcessWatch() = default;
  // pids[i] <= 0 means unknown: never reported as exited.
  explicit ProcessWatch(std::vector<pid_t> pids);

  // Checks every process (one syscall) and returns whether process i has
  // exited; once true, stays true.
  const std::vector<bool>& poll();
  // Closes the pidfds: later polls fall back to kill(pid, 0).
  void close();

 private:
  std::vector<pid_t> pids_;
  std::vector<UniqueFd> pidfds_;  // invalid: no pidfd (unknown pid or fallback)
  std::vector<bool> exited_;
};

}  // namespace myriad
