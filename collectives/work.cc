#include "collectives/work.h"

#include <utility>

namespace myriad {

bool Work::test() const {
  std::lock_guard lock(mutex_);
  return done_;
}

bool Work::run_here() {
  waited_.store(true, std::memory_order_relaxed);
  return runner_ && !test() && runner_();
}

void Work::wait() {
  run_here();
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] { return done_; });
  if (error_) std::rethrow_exception(error_);
}

void Work::wait(std::chrono::milliseconds timeout) {
  waited_.store(true, std::memory_order_relaxed);
  std::unique_lock lock(mutex_);
  if (!done_cv_.wait_for(lock, timeout, [&] { return done_; })) {
    raise(ErrorCode::Timeout, "Timed out: {} (sequence {}) did not complete within the {} ms wait",
          descriptor_.to_string(), descriptor_.seq, timeout.count());
  }
  if (error_) std::rethrow_exception(error_);
}

std::optional<Error> Work::error() const {
  std::exception_ptr error = exception();
  if (!error) return std::nullopt;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    return Error(ErrorCode::Internal, e.what());
  }
}

std::exception_ptr Work::exception() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void Work::on_complete(std::function<void(Work&)> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!done_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback(*this);
}

int Work::source_rank() const {
  std::lock_guard lock(mutex_);
  return source_rank_;
}

void Work::set_source_rank(int rank) {
  std::lock_guard lock(mutex_);
  source_rank_ = rank;
}

void Work::complete() {
  finish(nullptr);
}

void Work::fail(std::exception_ptr error) {
  finish(error ? std::move(error)
               : std::make_exception_ptr(Error(ErrorCode::Internal, "failed without an error")));
}

void Work::finish(std::exception_ptr error) {
  std::vector<std::function<void(Work&)>> callbacks;
  {
    std::lock_guard lock(mutex_);
    if (done_) return;
    done_ = true;
    error_ = std::move(error);
    callbacks.swap(callbacks_);
  }
  done_cv_.notify_all();
  // Outside the lock: a callback may inspect this Work.
  for (auto& callback : callbacks) callback(*this);
}

}  // namespace myriad
