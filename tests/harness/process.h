// The multi-process test harness: run a command, or fork N ranks, with a
// timeout, and collect what they did.
//
// run_command() / start_command() run a program (argv[0] searched in PATH)
// with the test's environment plus `env`, capture its stdout and stderr
// (read by a thread, so a chatty child never blocks on a full pipe), and
// report how it ended. The child leads its own process group; on timeout
// the whole group gets SIGKILL and the result says timed_out. A child
// also gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
//
// fork_ranks() forks N children that run fn(rank) and exit with its return
// value (an exception escaping fn exits kRankExceptionExit and prints it).
// GoogleTest assertions inside fn do not reach the parent: return a
// non-zero code instead. On timeout every child still running is killed and
// its status says so. Call it from a test's main thread, without other
// threads holding locks that fn needs (the child is a fork of this process).
//
// Everything here throws std::runtime_error when the operating system
// refuses (fork, pipe); nothing is left running after a throw. Not
// thread-safe: one test thread uses one RunningCommand.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace myriad::test {

inline constexpr std::chrono::milliseconds kDefaultCommandTimeout{60'000};
inline constexpr int kRankExceptionExit = 99;

// How a process ended.
struct ExitStatus {
  bool exited = false;  // exited by itself (code valid); else killed by `signal`
  int code = -1;
  int signal = 0;
  bool timed_out = false;  // the harness killed it after the timeout

  // The shell's convention: the code, or 128+signal.
  int shell_code() const { return exited ? code : 128 + signal; }
  // "exit code 3", "signal 9 (SIGKILL)", "timed out" — for assertion messages.
  std::string describe() const;
};

struct CommandResult {
  ExitStatus status;
  pid_t pid = -1;
  std::string out;
  std::string err;

  int shell_code() const { return status.shell_code(); }
  // Status and both streams, for an assertion's failure message.
  std::string describe() const;
};

struct CommandOptions {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (or overriding) the test's environment
  std::vector<std::string> unset_env;      // removed from it
  std::chrono::milliseconds timeout = kDefaultCommandTimeout;
};

// A command started in the background: signal it while it runs, then wait.
class RunningCommand {
 public:
  ~RunningCommand();  // kills the process group and waits if wait() was not called
  RunningCommand(const RunningCommand&) = delete;
  RunningCommand& operator=(const RunningCommand&) = delete;

  pid_t pid() const;
  // Sends `signal` to the command's process (not its group).
  void send_signal(int signal);
  // The output captured so far (a copy; thread-safe against the reader).
  std::string out_so_far() const;
  // Waits for the end (at most until the command's timeout, counted from the start).
  CommandResult wait();

 private:
  friend std::unique_ptr<RunningCommand> start_command(const CommandOptions& options);
  struct State;
  explicit RunningCommand(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

std::unique_ptr<RunningCommand> start_command(const CommandOptions& options);
CommandResult run_command(const CommandOptions& options);

struct RanksResult {
  std::vector<ExitStatus> ranks;  // indexed by rank
  bool all_succeeded() const;
  std::string describe() const;  // one "rank R: ..." per rank
};

RanksResult fork_ranks(int n, const std::function<int(int rank)>& fn,
                       std::chrono::milliseconds timeout = kDefaultCommandTimeout);

// True while `pid` is a live process (a zombie counts as dead).
bool process_alive(pid_t pid);
// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns the last result.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// $MYRIAD_BINARY_DIR / $MYRIAD_SOURCE_DIR as set by myriad_add_test (throws when unset).
std::string binary_dir();
std::string source_dir();
// A fresh empty directory under $TMPDIR (or /tmp), removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace myriad::test
