// Work: the handle of one asynchronous operation.
//
// Every collective returns a Work at once; the communicator's progress
// thread runs the operation and completes the Work, successfully or with the
// operation's error. The caller may test(), wait() (optionally bounded), read
// the error, or register callbacks.
//
// Thread-safety: every method is safe from any thread. Callbacks registered
// before completion run on the thread that completes the Work (the progress
// thread) and must not block; a callback registered after completion runs
// at once on the caller's thread.
//
// After a failure: wait() rethrows the operation's error every time it is
// called; error() returns it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "collectives/types.h"
#include "runtime/error.h"

namespace myriad {

class Work {
 public:
  // A receive's descriptor carries its peer as `root` (-1: any source).
  explicit Work(OpDescriptor descriptor)
      : descriptor_(descriptor), source_rank_(descriptor.kind == OpKind::Recv ? descriptor.root : -1) {}
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  const OpDescriptor& descriptor() const { return descriptor_; }

  // True once the operation has finished, successfully or not.
  bool test() const;
  // Waits for completion and rethrows the operation's error. An operation
  // that has not started yet may run on the calling thread (see run_here()).
  void wait();
  // Runs the operation on the calling thread if its backend allows that
  // (native: it is the next of its communicator's operations and none is
  // running); returns whether it did. For callers that wait through their
  // own means (a framework's Work object) and want wait()'s shortcut. Like
  // wait(), it tells the backend that a caller now waits for the result
  // (its progress thread then polls for it rather than sleeping).
  bool run_here();
  // Waits at most `timeout`; throws Error(Timeout) naming the operation if it
  // is still running then (the operation itself goes on).
  void wait(std::chrono::milliseconds timeout);
  // The error of a failed operation; nullopt while running or on success.
  std::optional<Error> error() const;
  std::exception_ptr exception() const;

  // The rank a receive's message came from: recv()'s peer, and for
  // recv_any() the rank that sent it, set before the Work completes; -1 for
  // a recv_any() not complete yet and for operations that receive nothing.
  int source_rank() const;

  // Runs `callback` once the operation completes.
  void on_complete(std::function<void(Work&)> callback);

 private:
  // The backend's side (collectives/work_control.h): the runner, the source
  // of a recv_any() and completion are not for users.
  friend class WorkControl;
  void set_runner(std::function<bool()> runner) { runner_ = std::move(runner); }
  void set_source_rank(int rank);
  // Whether a caller waits on the result (wait() or run_here() was called;
  // never cleared): the backend's progress thread then polls for it.
  bool waited() const { return waited_.load(std::memory_order_relaxed); }
  void complete();
  void fail(std::exception_ptr error);
  void finish(std::exception_ptr error);

  const OpDescriptor descriptor_;
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::exception_ptr error_;
  int source_rank_ = -1;
  std::vector<std::function<void(Work&)>> callbacks_;
  std::function<bool()> runner_;  // set before the Work is shared; read-only after
  std::atomic<bool> waited_{false};
};

using WorkPtr = std::shared_ptr<Work>;

}  // namespace myriad
