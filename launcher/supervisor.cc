#include "launcher/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <utility>

#include "launcher/output_forwarder.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

using Clock = std::chrono::steady_clock;

// After the last child exits, output still in flight is drained for at most
// this long: a grandchild that left the child's process group could hold a
// pipe open forever.
constexpr std::chrono::milliseconds kOutputDrainTimeout{1000};
constexpr size_t kReadChunkBytes = 64 << 10;
// A line kept for a failure report is cut at this length.
constexpr size_t kTailLineBytes = 512;
// Reads of a failed child's pipes before its failure is reported.
constexpr int kMaxDrainReads = 64;
constexpr int kMaxEvents = 64;
// Marks the signalfd in epoll data; stream indexes are small.
constexpr uint64_t kSignalTag = ~uint64_t{0};

sigset_t supervised_signals() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) ::sigaddset(&set, sig);
  return set;
}

int status_code(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), signal_name(WTERMSIG(status)));
  }
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

int timeout_ms(Clock::time_point now, std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  if (*deadline <= now) return 0;
  // Round up so that the loop does not spin on a deadline a fraction of a millisecond away.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now);
  return static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
}

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

}  // namespace

template <typename... Args>
void Supervisor::say(fmt::format_string<Args...> format, Args&&... args) const {
  std::string line = options_.name + ": " + fmt::format(format, std::forward<Args>(args)...) + "\n";
  write_all(STDERR_FILENO, line);
}

struct Supervisor::Child {
  ChildSpec spec;
  pid_t pid = -1;
  bool running = false;
  UniqueFd log;
  UniqueFd stream_logs[2];
  std::deque<std::string> stderr_tail;  // filled by its stderr stream
};

struct Supervisor::Stream {
  UniqueFd fd;
  std::unique_ptr<LineForwarder> forwarder;
  size_t child = 0;
  bool is_stderr = false;
  std::string partial;  // stderr only: the line being collected for the tail
};

void Supervisor::block_signals() {
  sigset_t set = supervised_signals();
  if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) raise(ErrorCode::Internal, "pthread_sigmask failed");
  ::signal(SIGPIPE, SIG_IGN);
}

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {}

Supervisor::~Supervisor() {
  // Reached with children running only when run() threw: leave nothing behind.
  for (Child& child : children_) {
    if (!child.running) continue;
    signal_group(child.pid, SIGKILL);
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    child.running = false;
  }
}

void Supervisor::start(std::vector<ChildSpec> specs) {
  std::vector<PendingSpawn> pending;
  pending.reserve(specs.size());
  children_.reserve(specs.size());
  streams_.reserve(specs.size() * 2);
  for (ChildSpec& spec : specs) {
    Child& child = children_.emplace_back();
    child.spec = std::move(spec);
    if (!child.spec.log_path.empty()) {
      child.log.reset(
          ::open(child.spec.log_path.c_str(),
                 O_WRONLY | O_CREAT | (child.spec.append_log ? 0 : O_TRUNC) | O_APPEND | O_CLOEXEC, 0644));
      if (!child.log.valid()) {
        raise_errno(
            errno, fmt::format("{}: cannot open log file '{}'", child.spec.spawn.label, child.spec.log_path));
      }
    }
    for (int i = 0; i < 2; ++i) {
      const std::string& path = child.spec.stream_log_paths[i];
      if (path.empty()) continue;
      child.stream_logs[i].reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      if (!child.stream_logs[i].valid()) {
        raise_errno(errno, fmt::format("{}: cannot open log file '{}'", child.spec.spawn.label, path));
      }
    }
    UniqueFd write_ends[2];
    if (child.spec.capture_output) {
      for (int i = 0; i < 2; ++i) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
          raise_errno(errno, fmt::format("{}: pipe for its output", child.spec.spawn.label));
        }
        write_ends[i].reset(fds[1]);
        ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
        Stream& stream = streams_.emplace_back();
        stream.fd.reset(fds[0]);
        stream.child = children_.size() - 1;
        stream.is_stderr = i == 1;
        int console = !child.spec.to_console[i] ? -1 : (i == 0 ? STDOUT_FILENO : STDERR_FILENO);
        int log = child.stream_logs[i].valid() ? child.stream_logs[i].fd() : child.log.fd();
        stream.forwarder = std::make_unique<LineForwarder>(child.spec.prefix, console, log);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = streams_.size() - 1;
        if (::epoll_ctl(epoll_fd_.fd(), EPOLL_CTL_ADD, fds[0], &event) != 0) raise_errno(errno, "epoll_ctl");
        ++open_streams_;
      }
      child.spec.spawn.stdout_fd = write_ends[0].fd();
      child.spec.spawn.stderr_fd = write_ends[1].fd();
    }
    std::optional<pid_t> forked;
    if (child.spec.fork_server) forked = child.spec.fork_server(child.spec.spawn);
    if (forked) {
      pending.push_back(PendingSpawn{.pid = *forked,
                                     .exec_report = UniqueFd(),
                                     .label = child.spec.spawn.label,
                                     .path = child.spec.spawn.path});
    } else {
      pending.push_back(start_process(child.spec.spawn));
    }
    child.pid = pending.back().pid;
    child.running = true;
    ++running_;
    // write_ends close here: the child holds the only write side, so its exit gives EOF.
  }
  // A child whose exec failed has been reaped by await_exec; the destructor kills the rest.
  for (size_t i = 0; i < pending.size(); ++i) {
    try {
      await_exec(pending[i]);
    } catch (...) {
      children_[i].running = false;
      --running_;
      throw;
    }
  }
}

int Supervisor::run(std::vector<ChildSpec> children) {
  MYRIAD_CHECK(children_.empty(), "a Supervisor runs one job");
  block_signals();
  sigset_t set = supervised_signals();
  signal_fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd_.valid()) raise_errno(errno, "signalfd");
  epoll_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) raise_errno(errno, "epoll_create1");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kSignalTag;
  if (::epoll_ctl(epoll_fd_.fd(), EPOLL_CTL_ADD, signal_fd_.fd(), &event) != 0) {
    raise_errno(errno, "epoll_ctl");
  }

  start(std::move(children));
  std::optional<Clock::time_point> job_deadline;
  if (options_.timeout.count() > 0) job_deadline = Clock::now() + options_.timeout;
  std::optional<Clock::time_point> drain_deadline;
  std::optional<Clock::time_point> next_monitor;
  if (options_.monitor && options_.monitor_interval.count() > 0) {
    next_monitor = Clock::now() + options_.monitor_interval;
  }

  epoll_event events[kMaxEvents];
  while (running_ > 0 || (open_streams_ > 0 && (!drain_deadline || Clock::now() < *drain_deadline))) {
    Clock::time_point now = Clock::now();
    std::optional<Clock::time_point> next;
    auto consider = [&next](Clock::time_point t) { next = next ? std::min(*next, t) : t; };
    if (job_deadline && !stopping_) consider(*job_deadline);
    if (stopping_ && !killed_) consider(kill_deadline_);
    if (killed_ && running_ > 0) consider(killed_at_ + options_.abandon_after);
    if (next_monitor && !stopping_) consider(*next_monitor);
    if (drain_deadline) consider(*drain_deadline);

    int n = ::epoll_wait(epoll_fd_.fd(), events, kMaxEvents, timeout_ms(now, next));
    if (n < 0 && errno != EINTR) raise_errno(errno, "epoll_wait");
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kSignalTag) {
        on_signals();
      } else {
        on_output(events[i].data.u64);
      }
    }

    now = Clock::now();
    if (job_deadline && !stopping_ && now >= *job_deadline) {
      cause_ = Cause::Timeout;
      say("the job did not finish within --timeout {}; stopping {} running process(es)",
          format_duration(options_.timeout), running_);
      stop_all(SIGTERM);
    }
    if (next_monitor && !stopping_ && now >= *next_monitor && running_ > 0) {
      // The monitor reports its reason to its owner itself (the agent
      // records it with the round); here it only stops the job.
      if (options_.monitor()) {
        cause_ = Cause::Monitor;
        stop_all(SIGTERM);
      }
      next_monitor = Clock::now() + options_.monitor_interval;
    }
    if (stopping_ && !killed_ && now >= kill_deadline_) kill_all();
    if (killed_ && running_ > 0 && now >= killed_at_ + options_.abandon_after) abandon_rest();
    if (running_ == 0 && !drain_deadline) drain_deadline = Clock::now() + kOutputDrainTimeout;
  }
  for (Stream& stream : streams_) {
    if (stream.fd.valid()) close_stream(stream);
  }
  if (first_failure_) {
    const std::deque<std::string>& tail = children_[first_failure_->index].stderr_tail;
    first_failure_->stderr_tail.assign(tail.begin(), tail.end());
  }
  return exit_code();
}

void Supervisor::on_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.fd(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) {
      reap();
      continue;
    }
    if (!stopping_) {
      cause_ = Cause::Signal;
      cause_code_ = sig;
      say("received {}; stopping {} running process(es)", signal_name(sig), running_);
      stop_all(sig);
    } else if (!killed_) {
      say("received {} again; killing {} running process(es) now", signal_name(sig), running_);
      kill_all();
    }
  }
  // SIGCHLD merges: one notice may stand for several exits, and one may have been read above already.
  reap();
}

void Supervisor::reap() {
  for (Child& child : children_) {
    if (!child.running) continue;
    int status = 0;
    pid_t pid = ::waitpid(child.pid, &status, WNOHANG);
    if (pid != child.pid) continue;
    child.running = false;
    --running_;
    // Whatever the child left in its process group goes with it.
    signal_group(child.pid, SIGKILL);
    bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (!failed || stopping_) continue;
    if (options_.report_exits)
      say("{} (pid {}) {}", child.spec.spawn.label, child.pid, describe_status(status));
    if (!first_failure_) {
      // The tail so far: the stream may still hold lines, read before run() returns (the tail is then
      // renewed).
      first_failure_ = ChildExit{.index = static_cast<size_t>(&child - children_.data()),
                                 .label = child.spec.spawn.label,
                                 .pid = child.pid,
                                 .code = status_code(status),
                                 .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                                 .description = describe_status(status),
                                 .when = std::chrono::system_clock::now(),
                                 .stderr_tail = {}};
      // What the child wrote before it exited is in its pipes: read it first, so that the tail holds its last
      // words (a traceback) when the failure is reported.
      drain_output(first_failure_->index);
      first_failure_->stderr_tail.assign(child.stderr_tail.begin(), child.stderr_tail.end());
      if (options_.on_first_failure) options_.on_first_failure(*first_failure_);
    }
    if (!options_.stop_on_failure) continue;
    cause_ = Cause::ChildFailed;
    cause_code_ = status_code(status);
    if (running_ > 0) {
      say("stopping {} other running process(es) after the failure of {}", running_, child.spec.spawn.label);
    }
    stop_all(SIGTERM);
  }
}

bool Supervisor::on_output(size_t stream_index) {
  Stream& stream = streams_[stream_index];
  if (!stream.fd.valid()) return false;
  // One read per event (epoll is level-triggered): a rank that prints without pause cannot starve the others.
  char buffer[kReadChunkBytes];
  ssize_t n = ::read(stream.fd.fd(), buffer, sizeof(buffer));
  if (n > 0) {
    std::string_view data(buffer, static_cast<size_t>(n));
    stream.forwarder->feed(data);
    if (stream.is_stderr) keep_tail(stream, data);
    return true;
  }
  if (n == 0 || (errno != EAGAIN && errno != EINTR)) close_stream(stream);
  return false;
}

void Supervisor::drain_output(size_t child_index) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i].child != child_index) continue;
    // Bounded: a grandchild that keeps writing cannot hold the report back for long.
    for (int reads = 0; reads < kMaxDrainReads && on_output(i); ++reads) {
    }
  }
}

void Supervisor::keep_tail(Stream& stream, std::string_view data) {
  std::deque<std::string>& tail = children_[stream.child].stderr_tail;
  for (char c : data) {
    if (c != '\n') {
      if (stream.partial.size() < kTailLineBytes) stream.partial += c;
      continue;
    }
    tail.push_back(std::move(stream.partial));
    stream.partial.clear();
    if (tail.size() > kStderrTailLines) tail.pop_front();
  }
}

void Supervisor::close_stream(Stream& stream) {
  if (stream.is_stderr && !stream.partial.empty()) keep_tail(stream, "\n");
  stream.forwarder->finish();
  ::epoll_ctl(epoll_fd_.fd(), EPOLL_CTL_DEL, stream.fd.fd(), nullptr);
  stream.fd.reset();
  --open_streams_;
}

void Supervisor::stop_all(int signal) {
  stopping_ = true;
  kill_deadline_ = Clock::now() + options_.grace_period;
  for (Child& child : children_) {
    if (child.running) signal_group(child.pid, signal);
  }
}

void Supervisor::kill_all() {
  killed_ = true;
  killed_at_ = Clock::now();
  if (running_ > 0 && Clock::now() >= kill_deadline_) {
    say("{} process(es) still running after the grace period of {}; sending SIGKILL", running_,
        format_duration(options_.grace_period));
  }
  for (Child& child : children_) {
    if (child.running) signal_group(child.pid, SIGKILL);
  }
}

void Supervisor::abandon_rest() {
  for (Child& child : children_) {
    if (!child.running) continue;
    say("{} (pid {}) is still running {} after SIGKILL (stuck in the kernel?); abandoning it",
        child.spec.spawn.label, child.pid, format_duration(options_.abandon_after));
    abandoned_.push_back(child.pid);
    child.running = false;
    --running_;
  }
}

int Supervisor::exit_code() const {
  switch (cause_) {
    case Cause::None: return 0;
    case Cause::ChildFailed: return cause_code_;
    case Cause::Signal: return 128 + cause_code_;
    case Cause::Timeout: return kTimeoutExitCode;
    case Cause::Monitor: return kMonitorExitCode;
  }
  return 1;
}

}  // namespace myriad::launcher
