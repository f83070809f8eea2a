// run_command / start_command: see process.h.
#include "tests/harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace myriad::test {
namespace {

using Clock = std::chrono::steady_clock;

// After the command exits, its output is drained this long at most: a
// descendant that escaped its process group may hold the pipes open.
constexpr std::chrono::milliseconds kDrainTimeout{2000};
constexpr std::chrono::milliseconds kPollInterval{5};
constexpr int kExecFailedExit = 127;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string resolve(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string search = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = search.find(':', start);
    if (end == std::string::npos) end = search.size();
    std::string candidate = search.substr(start, end - start) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return name;  // exec fails and the child reports it on stderr
}

std::vector<std::string> compose_env(const CommandOptions& options) {
  std::vector<std::string> out;
  for (char** p = environ; *p != nullptr; ++p) {
    std::string entry(*p);
    std::string name = entry.substr(0, entry.find('='));
    if (options.env.count(name) != 0) continue;
    bool unset = false;
    for (const std::string& u : options.unset_env) unset = unset || u == name;
    if (!unset) out.push_back(entry);
  }
  for (const auto& [name, value] : options.env) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ExitStatus::describe() const {
  std::string text = exited ? "exit code " + std::to_string(code)
                            : "signal " + std::to_string(signal) + " (SIG" +
                                  (::sigabbrev_np(signal) ? ::sigabbrev_np(signal) : "?") + ")";
  return timed_out ? text + ", killed by the harness after its timeout" : text;
}

std::string CommandResult::describe() const {
  return "pid " + std::to_string(pid) + " ended with " + status.describe() + "\n--- stdout ---\n" + out +
         "--- stderr ---\n" + err + "--- end ---";
}

struct RunningCommand::State {
  pid_t pid = -1;
  Clock::time_point deadline;
  int out_fd = -1;
  int err_fd = -1;
  std::thread reader;
  std::atomic<bool> stop_reading{false};
  std::atomic<bool> reader_done{false};
  mutable std::mutex mutex;
  std::string out;
  std::string err;
  bool waited = false;

  void read_loop() {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    std::string* sinks[2] = {&out, &err};
    int open = 2;
    char buffer[16384];
    while (open > 0 && !stop_reading.load()) {
      int n = ::poll(fds, 2, static_cast<int>(kPollInterval.count() * 10));
      if (n <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        ssize_t got = ::read(fds[i].fd, buffer, sizeof(buffer));
        if (got > 0) {
          std::lock_guard<std::mutex> lock(mutex);
          sinks[i]->append(buffer, static_cast<size_t>(got));
        } else if (got == 0 || errno != EINTR) {
          fds[i].fd = -1;
          --open;
        }
      }
    }
    reader_done = true;
  }
};

RunningCommand::RunningCommand(std::unique_ptr<State> state) : state_(std::move(state)) {}

RunningCommand::~RunningCommand() {
  if (state_->waited) return;
  ::kill(-state_->pid, SIGKILL);
  ::kill(state_->pid, SIGKILL);
  try {
    wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "RunningCommand: waiting for pid %d: %s\n", static_cast<int>(state_->pid), e.what());
  }
}

pid_t RunningCommand::pid() const {
  return state_->pid;
}

void RunningCommand::send_signal(int signal) {
  ::kill(state_->pid, signal);
}

std::string RunningCommand::out_so_far() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->out;
}

CommandResult RunningCommand::wait() {
  State& s = *state_;
  CommandResult result;
  result.pid = s.pid;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(s.pid, &status, WNOHANG);
    if (done == s.pid) break;
    if (done < 0 && errno != EINTR) fail("waitpid");
    if (Clock::now() >= s.deadline) {
      ::kill(-s.pid, SIGKILL);
      ::kill(s.pid, SIGKILL);
      while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
      }
      result.status.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  s.waited = true;
  result.status.exited = WIFEXITED(status);
  result.status.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.status.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

  Clock::time_point drain_end = Clock::now() + kDrainTimeout;
  while (!s.reader_done.load() && Clock::now() < drain_end) std::this_thread::sleep_for(kPollInterval);
  s.stop_reading = true;
  s.reader.join();
  ::close(s.out_fd);
  ::close(s.err_fd);
  std::lock_guard<std::mutex> lock(s.mutex);
  result.out = s.out;
  result.err = s.err;
  return result;
}

std::unique_ptr<RunningCommand> start_command(const CommandOptions& options) {
  if (options.argv.empty()) throw std::invalid_argument("start_command: empty argv");
  std::vector<std::string> args = options.argv;
  std::vector<std::string> env = compose_env(options);
  std::string path = resolve(args[0]);
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail("pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    fail("pipe");
  }
  std::fflush(nullptr);  // or the child would flush this process's buffered output a second time
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExecFailedExit);
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    sigset_t empty;
    ::sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(path.c_str(), argv.data(), envp.data());
    const char* message = "harness: exec failed: ";
    ssize_t ignored = ::write(STDERR_FILENO, message, std::strlen(message));
    ignored = ::write(STDERR_FILENO, path.c_str(), path.size());
    (void)ignored;
    ::_exit(kExecFailedExit);
  }
  ::setpgid(pid, pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  auto state = std::make_unique<RunningCommand::State>();
  state->pid = pid;
  state->deadline = Clock::now() + options.timeout;
  state->out_fd = out_pipe[0];
  state->err_fd = err_pipe[0];
  RunningCommand::State* raw = state.get();
  state->reader = std::thread([raw] { raw->read_loop(); });
  return std::unique_ptr<RunningCommand>(new RunningCommand(std::move(state)));
}

CommandResult run_command(const CommandOptions& options) {
  return start_command(options)->wait();
}

}  // namespace myriad::test
