// CompletionExecutor: runs completion callbacks off the thread that
// completes operations, where they are free to block.
//
// A framework's continuations (torch Future callbacks, DDP comm hooks) may
// wait for another operation from inside a callback. Run on a
// communicator's progress thread, such a wait would block the very thread
// that has to run the operation waited for; run here, it blocks only one of
// this executor's threads.
//
// Tasks start in submission order, one at a time while the running one
// makes progress: callbacks that issue collectives issue them in the same
// order on every rank. A task presumed blocked — running for at least
// `stall_after` while its thread used less than a quarter of that time on a
// core, and seen asleep (not runnable) at the end of that window and again a
// quarter window later — no longer holds the queue back: the next task
// starts on another thread. A busy task on a loaded host is runnable while
// it waits for a core, so it keeps its turn. A thread is added whenever
// none is idle, up to `max_threads`. Past that bound, tasks wait for a
// thread to return; only `max_threads` tasks that all wait on tasks queued
// behind them can deadlock it. Idle threads beyond one exit after
// `idle_exit`.
//
// Thread-safety: submit() from any thread, tasks included. A task's
// exception is caught and dropped (a task reports its own failure). The
// destructor runs what is queued and waits for every task to return.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace myriad {

// Presumed blocked after this long without using the core: a continuation
// that computes (a comm hook's compression) uses it all along, one that
// waits for a future does not. Short, since a blocked wait costs up to this
// much before its completion can run.
inline constexpr std::chrono::milliseconds kCompletionStallAfter{2};
// Enough for every bucket of a large model to wait at once in a hook.
inline constexpr size_t kCompletionMaxThreads = 64;
inline constexpr std::chrono::milliseconds kCompletionIdleExit{10'000};

struct CompletionExecutorOptions {
  size_t max_threads = kCompletionMaxThreads;
  std::chrono::milliseconds stall_after = kCompletionStallAfter;
  std::chrono::milliseconds idle_exit = kCompletionIdleExit;
};

class CompletionExecutor {
 public:
  explicit CompletionExecutor(CompletionExecutorOptions options = {});
  ~CompletionExecutor();
  CompletionExecutor(const CompletionExecutor&) = delete;
  CompletionExecutor& operator=(const CompletionExecutor&) = delete;

  // Queues `task`; it starts after every task submitted before it.
  void submit(std::function<void()> task);

  // The threads now alive (for tests and diagnostics).
  size_t threads() const;

  // The process's executor for framework callbacks; never destroyed, so
  // that a callback blocked forever cannot hold up the process's exit.
  static CompletionExecutor& shared();

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the threads, which outlive no call but may outlive this
};

}  // namespace myriad
