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
//   - with a monitor, it is called every monitor_interval; a reason it
//     returns stops the job the same way (an agent: another node failed, a
//     rank stopped beating).
//   - with stop_on_failure off (the launcher over its agents), a failed
//     child is reported and the others go on: they coordinate by themselves.
//   - a child still running `abandon_after` past its SIGKILL (stuck in the
//     kernel) is reported and abandoned, so that run() always returns.
//
// run() returns the job's exit code: 0 when every child exited 0; the
// first failed child's exit code (128+S when killed by signal S); 128+S
// when the launcher got signal S first; kTimeoutExitCode when the timeout
// came first; kMonitorExitCode when the monitor stopped it. It throws when
// a child cannot be started (spawn.h), after killing the ones already
// started. first_failure() then tells which child failed first, how, when,
// and the last lines of its stderr.
//
// Threading: call block_signals() on the main thread before any other
// thread starts (threads inherit the mask, so only the signalfd sees these
// signals), and run() from the main thread. One Supervisor runs one job;
// it is not thread-safe. The destructor kills and reaps any child left.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "elastic/workers.h"
#include "launcher/spawn.h"
#include "runtime/unique_fd.h"

namespace myriad::launcher {

// `timeout` and GNU coreutils' timeout(1) exit with 124 when time runs out; scripts test for it.
inline constexpr int kTimeoutExitCode = 124;
// What run() returns when the monitor stopped the job (the caller knows why).
inline constexpr int kMonitorExitCode = 125;
// A child still running this long after SIGKILL is stuck in the kernel (e.g. D state on a dead
// file system): it is reported and abandoned instead of blocking the job's end forever.
inline constexpr std::chrono::milliseconds kDefaultAbandonAfter{10000};
// Lines of a child's stderr kept for the failure report.
inline constexpr size_t kStderrTailLines = 20;

struct ChildSpec {
  SpawnRequest spawn;          // stdout_fd/stderr_fd are set by the supervisor when capturing
  bool capture_output = true;  // false: the child writes to the launcher's stdout/stderr directly
  std::string prefix;          // put before every captured line, e.g. "[rank 3] "
  std::string log_path;        // when set, captured lines also go to this file (truncated first)
  bool append_log = false;     // append to log_path instead (a restarted rank keeps its earlier lines)
  // Per stream (0 stdout, 1 stderr): a file for that stream alone, used instead of log_path
  // (torchrun's --redirects/--tee layout; appended to), and whether its lines reach the console.
  std::array<std::string, 2> stream_log_paths;
  std::array<bool, 2> to_console = {true, true};
  // When set, starts the child instead of fork and exec (a fork server, zygote.h): its pid, which
  // must be this process's child, or nullopt to fall back to exec.
  std::function<std::optional<pid_t>(const SpawnRequest&)> fork_server;
};

// How a child ended, for the report of a failure.
struct ChildExit {
  size_t index = 0;  // in run()'s vector
  std::string label;
  pid_t pid = -1;
  int code = 0;             // exit code, or 128+S for signal S
  int signal = 0;           // the signal that killed it, 0 when it exited
  std::string description;  // "exited with code 3", "was killed by signal 9 (SIGKILL)"
  std::chrono::system_clock::time_point when;
  std::vector<std::string> stderr_tail;  // its last lines of stderr (captured children only)
};

struct SupervisorOptions {
  std::chrono::milliseconds timeout{0};  // 0: no limit
  std::chrono::milliseconds grace_period = elastic::kDefaultGracePeriod;
  std::string name = "myriad run";  // prefix of the supervisor's own messages
  bool stop_on_failure = true;      // false: a failed child does not stop the others
  bool report_exits = true;         // false: a failed child is not reported on stderr (the caller does)
  std::chrono::milliseconds monitor_interval{0};
  // Called every monitor_interval (when set); a returned reason stops every child.
  std::function<std::optional<std::string>()> monitor;
  std::chrono::milliseconds abandon_after = kDefaultAbandonAfter;
  // Called once, at once, when the first child fails on its own (its stderr tail as read so far).
  std::function<void(const ChildExit&)> on_first_failure;
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

  // The first child that failed on its own (not while being stopped).
  const std::optional<ChildExit>& first_failure() const { return first_failure_; }
  // The signal that stopped the job (SIGINT, SIGTERM, SIGHUP to this process); 0 when none did.
  int received_signal() const { return cause_ == Cause::Signal ? cause_code_ : 0; }
  // Children left running after abandon_after (their pids).
  const std::vector<pid_t>& abandoned() const { return abandoned_; }

 private:
  struct Child;
  struct Stream;
  enum class Cause { None, ChildFailed, Signal, Timeout, Monitor };

  void start(std::vector<ChildSpec> specs);
  void on_signals();
  void reap();
  bool on_output(size_t stream_index);  // true when it read something
  void drain_output(size_t child_index);
  void close_stream(Stream& stream);
  void keep_tail(Stream& stream, std::string_view data);
  void stop_all(int signal);
  void kill_all();
  void abandon_rest();
  template <typename... Args>
  void say(fmt::format_string<Args...> format, Args&&... args) const;
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
  std::chrono::steady_clock::time_point killed_at_;
  std::optional<ChildExit> first_failure_;
  std::vector<pid_t> abandoned_;
};

}  // namespace myriad::launcher
