// Futex waits and wakes on a 32-bit word in memory shared between processes.
//
// The word must live in a MAP_SHARED mapping: these are the shared futex
// operations (not FUTEX_PRIVATE_FLAG), which the kernel keys by the backing
// page, so a waiter in one process is woken by a wake in another.
//
// Thread-safety: both functions are safe from any thread of any process.
// Failure behaviour: futex_wait returns on a wake, on a value mismatch, on a
// signal or when the timeout passes; callers re-check their condition, so
// spurious returns are harmless. Errors other than those are not expected
// for a valid shared word and are reported as Error(Io).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <ctime>

#include "runtime/error.h"

namespace myriad {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free,
              "a futex word must be a plain 32-bit word");

// Sleeps while *word == expected, for at most `timeout`.
inline void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) return;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>((timeout - secs).count());
  const long rc =
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
  if (rc != 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) raise_errno(errno, "futex wait");
}

// Wakes every process sleeping on `word`.
inline void futex_wake_all(std::atomic<uint32_t>* word) {
  const long rc =
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  if (rc < 0) raise_errno(errno, "futex wake");
}

}  // namespace myriad
