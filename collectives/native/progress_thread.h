// ProgressThread: runs a communicator's operations one at a time, in the
// order they were submitted, on its own thread, so that callers never block
// unless they wait on a Work.
//
// A caller about to block on an operation that has not started yet may run
// it on its own thread instead (run_if_next): waking the progress thread
// and then being woken by it costs two thread hand-offs, which on a machine
// with few cores are most of a small operation's latency. Order is kept:
// only the next task in line runs that way, and never beside another one.
//
// Thread-safety: submit() and run_if_next() from any thread; tasks never run
// concurrently. The destructor runs the tasks already queued, waits for one
// running on a caller's thread, then joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace myriad {

// How long the progress thread, woken from idle by a submission, leaves the
// task to its submitter before starting it. Framework callers (Python) take
// tens of microseconds from submitting to waiting, and the thread wakes
// sooner than that; when it takes the task, the caller pays two thread
// switches (~200 us per 4 KiB all-reduce from Python on a loaded 2-core
// host). An operation nobody waits on starts at most this much later.
inline constexpr std::chrono::microseconds kSubmitterGrace{100};

class ProgressThread {
 public:
  explicit ProgressThread(const std::string& name);
  ~ProgressThread();  // stop()
  ProgressThread(const ProgressThread&) = delete;
  ProgressThread& operator=(const ProgressThread&) = delete;

  // True on a progress thread (of any communicator) while it runs a task:
  // nobody waits there, so polling would only take the core from the
  // caller's own work (the computation that communication overlaps).
  static bool on_progress_thread();

  // Queues `task`; returns its ticket (increasing from 1).
  uint64_t submit(std::function<void()> task);

  // Runs the task with `ticket` on the calling thread if it is the next in
  // line and no task is running; returns whether it ran it.
  bool run_if_next(uint64_t ticket);

  // Runs what is queued, waits for a task running on a caller's thread, and
  // joins the thread. Idempotent; later submissions are a programming error.
  void stop();

 private:
  struct Task {
    uint64_t ticket;
    std::function<void()> run;
  };
  void loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  uint64_t next_ticket_ = 1;
  bool running_ = false;  // a task runs, on the progress thread or a caller's
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace myriad
