// StickyFailure: the first error of a transport, kept and rethrown by every
// later call (a failed transport never limps on; the caller rebuilds it).
//
// Thread-safety: every method is thread-safe. The progress thread checks
// failed() on its hot path (one acquire load); abort() on another thread
// records its error with set().
#pragma once

#include <atomic>
#include <mutex>
#include <optional>

#include "runtime/error.h"

namespace myriad {

class StickyFailure {
 public:
  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // Records `error` unless an error is already recorded; returns whether
  // this call recorded it.
  bool set(const Error& error) {
    std::lock_guard lock(mutex_);
    if (error_) return false;
    error_.emplace(error);
    failed_.store(true, std::memory_order_release);
    return true;
  }

  // Throws the recorded error. Precondition: failed().
  [[noreturn]] void rethrow() const {
    std::lock_guard lock(mutex_);
    MYRIAD_CHECK(error_.has_value());
    throw Error(*error_);  // a copy: the recorded error stays for the next caller
  }

  void throw_if_failed() const {
    if (failed()) [[unlikely]]
      rethrow();
  }

  // Records `error` (unless one is recorded already) and throws the first.
  [[noreturn]] void fail(const Error& error) {
    set(error);
    rethrow();
  }

 private:
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::optional<Error> error_;
};

}  // namespace myriad
