// WorkControl: a backend's side of a Work, kept out of the public API.
//
// A backend creates the Work it returns, may give it a runner (wait() calls
// it before blocking, so that a not-yet-started operation can run on the
// waiting thread; it returns whether it ran it), sets the source of a
// recv_any() before completing it, and completes it once: a second
// completion is ignored. Users see only Work's own methods.
#pragma once

#include <exception>
#include <functional>
#include <utility>

#include "collectives/work.h"

namespace myriad {

class WorkControl {
 public:
  // Before the Work is shared: the runner is read without a lock afterwards.
  static void set_runner(Work& work, std::function<bool()> runner) { work.set_runner(std::move(runner)); }
  // Before complete(), on the Work of a recv_any().
  static void set_source_rank(Work& work, int rank) { work.set_source_rank(rank); }
  // Whether a caller blocks in wait() on it: the progress thread then polls
  // for the result rather than sleeping (collectives/native/executor.h).
  static bool waited(const Work& work) { return work.waited(); }
  static void complete(Work& work) { work.complete(); }
  // A null error fails the Work with an internal error.
  static void fail(Work& work, std::exception_ptr error) { work.fail(std::move(error)); }
};

}  // namespace myriad
