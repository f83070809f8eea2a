#include "collectives/completion_executor.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

namespace myriad {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::nanoseconds cpu_time(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return std::chrono::nanoseconds::zero();
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Whether thread `tid` of this process is asleep (waiting on a lock, a
// condition, I/O), as opposed to running or runnable. A task that used
// little CPU because the host is loaded is runnable, not asleep; only an
// asleep task is presumed blocked, so busy callbacks keep their order on a
// loaded host. Unknown (no /proc) counts as asleep: the CPU test alone
// decides, as before.
bool asleep(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  // "tid (name) S ...": the name may hold spaces and parentheses.
  const char* close_paren = std::strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] != ' ') return true;
  const char state = close_paren[2];
  return state != 'R';
}

}  // namespace

struct CompletionExecutor::State {
  // A task being run, and the last sample of its thread's CPU time.
  struct Running {
    clockid_t clock;
    pid_t tid;
    Clock::time_point sampled_at;
    std::chrono::nanoseconds cpu_at;
    bool suspect = false;  // idle over one window and seen asleep once, at suspect_at
    Clock::time_point suspect_at{};
    bool blocked = false;  // once presumed blocked, it holds nobody back again
  };

  explicit State(CompletionExecutorOptions o) : options(o) {}

  // Whether the next task may start now: no task runs, or every running
  // one is presumed blocked. Otherwise `recheck` is when to look again.
  bool may_start(Clock::time_point now, Clock::time_point& recheck) {
    recheck = Clock::time_point::max();
    bool all_blocked = true;
    for (Running& r : running) {
      if (r.blocked) continue;
      if (r.suspect) {
        if (now - r.suspect_at >= options.stall_after / 4) {
          const std::chrono::nanoseconds cpu = cpu_time(r.clock);
          if ((cpu - r.cpu_at) * 4 < now - r.sampled_at && asleep(r.tid)) {
            // Asleep twice, a quarter window apart, the CPU idle all along:
            // waiting, not taking a lock on its way.
            r.blocked = true;
            continue;
          }
          r.suspect = false;  // running again: a new window starts
          r.sampled_at = now;
          r.cpu_at = cpu;
        }
      } else if (now - r.sampled_at >= options.stall_after) {
        const std::chrono::nanoseconds cpu = cpu_time(r.clock);
        if ((cpu - r.cpu_at) * 4 < now - r.sampled_at && asleep(r.tid)) {
          r.suspect = true;
          r.suspect_at = now;
        } else {
          r.sampled_at = now;  // busy, or runnable on a loaded host
          r.cpu_at = cpu;
        }
      }
      all_blocked = false;
      recheck = std::min(
          recheck, r.suspect ? r.suspect_at + options.stall_after / 4 : r.sampled_at + options.stall_after);
    }
    return all_blocked;
  }

  const CompletionExecutorOptions options;
  std::mutex mutex;
  std::condition_variable cv;      // a task queued or finished; stopping
  std::condition_variable exited;  // the last thread left
  std::deque<std::function<void()>> queue;
  std::list<Running> running;
  size_t threads = 0;
  size_t idle = 0;  // threads not running a task
  bool stopping = false;
};

namespace {

void work(const std::shared_ptr<CompletionExecutor::State>& s);

// Called with threads and idle already counted for the new thread.
void start_thread(const std::shared_ptr<CompletionExecutor::State>& s) {
  try {
    std::thread([s] { work(s); }).detach();
  } catch (const std::system_error&) {
    // Out of threads: the ones there are carry on.
    std::lock_guard lock(s->mutex);
    --s->threads;
    --s->idle;
    if (s->threads == 0) s->exited.notify_all();
  }
}

void work(const std::shared_ptr<CompletionExecutor::State>& s) {
  pthread_setname_np(pthread_self(), "myriad-callback");
  clockid_t clock{};
  if (pthread_getcpuclockid(pthread_self(), &clock) != 0) clock = CLOCK_THREAD_CPUTIME_ID;
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  std::unique_lock lock(s->mutex);
  while (true) {
    if (s->queue.empty()) {
      if (s->stopping) break;
      const bool timed_out = s->cv.wait_for(lock, s->options.idle_exit) == std::cv_status::timeout;
      if (timed_out && s->queue.empty() && s->threads > 1 && !s->stopping) break;
      continue;
    }
    const Clock::time_point now = Clock::now();
    Clock::time_point recheck;
    if (!s->may_start(now, recheck)) {
      s->cv.wait_until(lock, recheck);
      continue;
    }
    std::function<void()> task = std::move(s->queue.front());
    s->queue.pop_front();
    --s->idle;
    auto me = s->running.insert(s->running.end(),
                                {.clock = clock, .tid = tid, .sampled_at = now, .cpu_at = cpu_time(clock)});
    // Keep a thread in reserve for when this task blocks.
    const bool spawn = s->idle == 0 && s->threads < s->options.max_threads && !s->stopping;
    if (spawn) {
      ++s->threads;
      ++s->idle;
    }
    lock.unlock();
    if (spawn) start_thread(s);
    try {
      task();
    } catch (...) {
    }
    task = nullptr;  // what it captured goes now, outside the lock
    lock.lock();
    s->running.erase(me);
    ++s->idle;
    s->cv.notify_all();
  }
  --s->idle;
  --s->threads;
  if (s->threads == 0) s->exited.notify_all();
}

}  // namespace

CompletionExecutor::CompletionExecutor(CompletionExecutorOptions options)
    : state_(std::make_shared<State>(options)) {}

CompletionExecutor::~CompletionExecutor() {
  std::unique_lock lock(state_->mutex);
  state_->stopping = true;
  state_->cv.notify_all();
  state_->exited.wait(lock, [&] { return state_->threads == 0; });
}

void CompletionExecutor::submit(std::function<void()> task) {
  bool spawn = false;
  {
    std::lock_guard lock(state_->mutex);
    state_->queue.push_back(std::move(task));
    if (state_->threads == 0) {
      spawn = true;
      ++state_->threads;
      ++state_->idle;
    }
  }
  state_->cv.notify_one();
  if (spawn) start_thread(state_);
}

size_t CompletionExecutor::threads() const {
  std::lock_guard lock(state_->mutex);
  return state_->threads;
}

CompletionExecutor& CompletionExecutor::shared() {
  static auto* executor = new CompletionExecutor();
  return *executor;
}

}  // namespace myriad
