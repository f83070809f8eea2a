// spawn_process: fork and exec one child that cannot outlive the launcher.
//
// The child runs in its own session and process group (so that a signal to
// the group reaches everything it starts, and the scheduler's autogroups
// give each rank its own share of the CPUs, not one share for all the
// launcher's ranks), has PR_SET_PDEATHSIG=SIGKILL (so that it
// dies with the launcher even when the launcher is killed by SIGKILL), an
// empty signal mask and default signal dispositions, stdin from /dev/null
// (a rank in a background process group would be stopped reading a
// terminal), and no descriptor of the launcher but 0, 1 and 2.
//
// Call it from the main thread: the death signal fires when the *thread*
// that forked exits. Between fork and exec the child calls only
// async-signal-safe functions (the launcher has other threads, e.g. the
// store server), so everything exec needs is prepared before the fork.
//
// Failure: when exec fails the child exits and spawn_process throws
// Error(InvalidArgument) naming `label`, the path and errno's text; a failed
// fork or pipe is Error(Io). Nothing is left running after a throw.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/unique_fd.h"

namespace myriad::launcher {

struct SpawnRequest {
  std::string label;                 // "rank 3", "mpirun": names the child in errors
  std::string path;                  // what execve runs (already resolved)
  std::vector<std::string> argv;     // argv[0] included
  std::vector<std::string> environ;  // "NAME=VALUE" entries
  int stdin_fd = -1;                 // -1: /dev/null
  int stdout_fd = -1;                // -1: inherit the launcher's
  int stderr_fd = -1;
};

// A child forked but not yet known to have exec'd.
struct PendingSpawn {
  pid_t pid = -1;        // also the child's process group id
  UniqueFd exec_report;  // closes at exec; carries errno when exec fails; invalid: nothing to wait for
  std::string label;
  std::string path;
};

// Forks the child; it goes on to exec without waiting for the caller.
PendingSpawn start_process(const SpawnRequest& request);
// Waits until the child has exec'd (returns its pid) or failed to (reaps it and throws).
// Forking every rank first and then awaiting them lets the ranks exec in parallel.
pid_t await_exec(PendingSpawn& pending);
// Sends `signal` to the child's process group; to the child alone while it
// has not yet made its group (between fork and setsid).
void signal_group(pid_t pid, int signal);
// start_process + await_exec.
pid_t spawn_process(const SpawnRequest& request);

// "SIGKILL" for 9 (falls back to "signal 9" for unnamed signals).
std::string signal_name(int signal);

}  // namespace myriad::launcher
