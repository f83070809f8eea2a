// fork_ranks: see process.h.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <thread>

#include "tests/harness/process.h"

namespace myriad::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollInterval{5};

[[noreturn]] void run_rank(int rank, const std::function<int(int)>& fn, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kRankExceptionExit);
  int code = kRankExceptionExit;
  try {
    code = fn(rank);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: uncaught exception: %s\n", rank, e.what());
  } catch (...) {
    std::fprintf(stderr, "rank %d: uncaught exception of unknown type\n", rank);
  }
  std::fflush(nullptr);
  // _exit, not exit: the parent's atexit handlers and static destructors are not the rank's.
  ::_exit(code);
}

}  // namespace

bool RanksResult::all_succeeded() const {
  for (const ExitStatus& status : ranks) {
    if (!status.exited || status.code != 0) return false;
  }
  return !ranks.empty();
}

std::string RanksResult::describe() const {
  std::string out;
  for (size_t rank = 0; rank < ranks.size(); ++rank) {
    out += "rank " + std::to_string(rank) + ": " + ranks[rank].describe() + "\n";
  }
  return out;
}

RanksResult fork_ranks(int n, const std::function<int(int rank)>& fn, std::chrono::milliseconds timeout) {
  if (n < 0) throw std::invalid_argument("fork_ranks: negative rank count");
  RanksResult result;
  result.ranks.resize(static_cast<size_t>(n));
  std::vector<pid_t> pids;
  std::fflush(nullptr);  // or every child would flush this process's buffered output again
  pid_t parent = ::getpid();
  for (int rank = 0; rank < n; ++rank) {
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      for (pid_t started : pids) {
        ::kill(-started, SIGKILL);
        ::waitpid(started, nullptr, 0);
      }
      throw std::runtime_error(std::string("fork_ranks: fork: ") + std::strerror(err));
    }
    if (pid == 0) run_rank(rank, fn, parent);
    ::setpgid(pid, pid);
    pids.push_back(pid);
  }

  Clock::time_point deadline = Clock::now() + timeout;
  size_t left = pids.size();
  std::vector<bool> done(pids.size(), false);
  while (left > 0) {
    bool expired = Clock::now() >= deadline;
    for (size_t rank = 0; rank < pids.size(); ++rank) {
      if (done[rank]) continue;
      if (expired) ::kill(-pids[rank], SIGKILL);
      int status = 0;
      pid_t got = ::waitpid(pids[rank], &status, expired ? 0 : WNOHANG);
      if (got != pids[rank]) continue;
      ExitStatus& out = result.ranks[rank];
      out.exited = WIFEXITED(status);
      out.code = out.exited ? WEXITSTATUS(status) : -1;
      out.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      out.timed_out = expired;
      // Anything the rank started goes with it.
      ::kill(-pids[rank], SIGKILL);
      done[rank] = true;
      --left;
    }
    if (left > 0) std::this_thread::sleep_for(kPollInterval);
  }
  return result;
}

}  // namespace myriad::test
