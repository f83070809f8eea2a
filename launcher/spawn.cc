#include "launcher/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/error.h"

namespace myriad::launcher {
namespace {

// Exit codes of a child that never reached exec (only seen if exec reporting itself fails).
constexpr int kExitSetupFailed = 126;
constexpr int kExitExecFailed = 127;

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const char* path, char* const* argv, char* const* envp, pid_t parent,
                             int stdin_fd, int stdout_fd, int stderr_fd, int report_fd) {
  auto fail = [report_fd](int exit_code) {
    int err = errno;
    ssize_t ignored = ::write(report_fd, &err, sizeof(err));
    (void)ignored;
    ::_exit(exit_code);
  };
  if (::setsid() < 0) fail(kExitSetupFailed);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(kExitSetupFailed);
  // The launcher may have died between fork and prctl; then nobody would kill us.
  if (::getppid() != parent) ::_exit(kExitSetupFailed);
  if (::dup2(stdin_fd, STDIN_FILENO) < 0) fail(kExitSetupFailed);
  if (stdout_fd >= 0 && ::dup2(stdout_fd, STDOUT_FILENO) < 0) fail(kExitSetupFailed);
  if (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0) fail(kExitSetupFailed);
  // Every other descriptor closes at exec (report_fd too, which tells the parent exec succeeded).
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(kExitSetupFailed);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &default_action, nullptr);
  }
  sigset_t empty;
  ::sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  ::execve(path, argv, envp);
  fail(kExitExecFailed);
  ::_exit(kExitExecFailed);
}

}  // namespace

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

PendingSpawn start_process(const SpawnRequest& request) {
  std::vector<char*> argv = pointers(request.argv);
  std::vector<char*> envp = pointers(request.environ);
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) raise_errno(errno, fmt::format("{}: open /dev/null for stdin", request.label));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) raise_errno(errno, fmt::format("{}: pipe", request.label));
  PendingSpawn pending{
      .pid = -1, .exec_report = UniqueFd(report[0]), .label = request.label, .path = request.path};
  UniqueFd report_write(report[1]);

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) raise_errno(errno, fmt::format("{}: fork", request.label));
  if (pid == 0) {
    exec_child(request.path.c_str(), argv.data(), envp.data(), parent,
               request.stdin_fd >= 0 ? request.stdin_fd : dev_null.fd(), request.stdout_fd, request.stderr_fd,
               report_write.fd());
  }
  // The child makes its own session (setsid fails in a process group leader, so the parent
  // cannot make the group for it); a signal sent before then goes to the child (signal_group).
  pending.pid = pid;
  return pending;
}

void signal_group(pid_t pid, int signal) {
  if (::kill(-pid, signal) != 0 && errno == ESRCH) ::kill(pid, signal);
}

pid_t await_exec(PendingSpawn& pending) {
  if (!pending.exec_report.valid()) return pending.pid;  // started by other means (a fork server)
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(pending.exec_report.fd(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  pending.exec_report.reset();
  if (n == 0) return pending.pid;  // the report pipe closed at exec: the program is running

  int status = 0;
  while (::waitpid(pending.pid, &status, 0) < 0 && errno == EINTR) {
  }
  raise(ErrorCode::InvalidArgument, "{}: cannot execute '{}': {}", pending.label, pending.path,
        n == sizeof(child_errno) ? std::strerror(child_errno) : "the child failed before exec");
}

pid_t spawn_process(const SpawnRequest& request) {
  PendingSpawn pending = start_process(request);
  return await_exec(pending);
}

}  // namespace myriad::launcher
