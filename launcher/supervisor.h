// Supervisor: starts a job's child processes, forwards their output, and
// ends them together.
//
// run() spawns every child (spawn.h: own process group, death signal),
// then watches them with one epoll loop over a signalfd (SIGCHLD, SIGINT,
// SIGTERM, SIGHUP) and the children's output pipes:
//   - a child that fails (non-zero exit or a signal) is reported on stderr
//     ("myriad run: rank 2 (pid 1234) exited with code 3") and the others
//     are stopped: SIGTERM to each process group, SIGKILL after the grace
//     period. The first failure wins; ranks that end while being stopped
//     are not reported as failures.
//   - SIGINT/SIGTERM/SIGHUP to the launcher are forwarded the same way (a
//     second one while stopping kills at once).
//   - after `timeout` the job is stopped the same way.
// When a child exits, its process group is sent SIGKILL so that nothing it
// started outlives it (the group id cannot be reused while members remain).
//
// run() returns the job's exit code: 0 when every child exited 0; the
// first failed child's exit code (128+S when killed by signal S); 128+S
// when the launcher got signal S first; kTimeoutExitCode when the timeout
// came first. It throws when a child cannot be started (spawn.h), after
// killing the ones already started.
//
// Threading: call block_signals() on the main thread before any other
// thread starts (threads inherit the mask, so only the signalfd sees these
// signals), and run() from the main thread. One Supervisor runs one job;
// it is not thread-safe. The destructor kills and reaps any child left.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "launcher/spawn.h"
#include "launcher/unique_fd.h"

namespace myriad::launcher {

inline constexpr std::chrono::milliseconds kDefaultGracePeriod{5000};
// `timeout` and GNU coreutils' timeout(1) exit with 124 when time runs out; scripts test for it.
inline constexpr int kTimeoutExitCode = 124;

struct ChildSpec {
  SpawnRequest spawn;          // stdout_fd/stderr_fd are set by the supervisor when capturing
  bool capture_output = true;  // false: the child writes to the launcher's stdout/stderr directly
  std::string prefix;          // put before every captured line, e.g. "[rank 3] "
  std::string log_path;        // when set, captured lines also go to this file (truncated first)
};

struct SupervisorOptions {
  std::chrono::milliseconds timeout{0};  // 0: no limit
  std::chrono::milliseconds grace_period = kDefaultGracePeriod;
};

class Supervisor {
 public:
  // Blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD in the calling thread and
  // ignores SIGPIPE (a closed console must not kill the launcher). Idempotent.
  static void block_signals();

  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  int run(std::vector<ChildSpec> children);

 private:
  struct Child;
  struct Stream;
  enum class Cause { None, ChildFailed, Signal, Timeout };

  void start(std::vector<ChildSpec> specs);
  void on_signals();
  void reap();
  void on_output(size_t stream_index);
  void close_stream(Stream& stream);
  void stop_all(int signal);
  void kill_all();
  int exit_code() const;

  SupervisorOptions options_;
  std::vector<Child> children_;
  std::vector<Stream> streams_;
  UniqueFd signal_fd_;
  UniqueFd epoll_fd_;
  size_t running_ = 0;
  size_t open_streams_ = 0;
  Cause cause_ = Cause::None;
  int cause_code_ = 0;  // the failed child's exit code, or the signal received
  bool stopping_ = false;
  bool killed_ = false;
  std::chrono::steady_clock::time_point kill_deadline_;
};

}  // namespace myriad::launcher
