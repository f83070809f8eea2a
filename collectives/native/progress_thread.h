// ProgressThread: runs a communicator's operations one at a time, in the
// order they were submitted, on its own thread, so that callers never block
// unless they wait on a Work.
//
// Thread-safety: submit() from any thread; the tasks run on the progress
// thread only. The destructor runs the tasks already queued, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace myriad {

class ProgressThread {
 public:
  explicit ProgressThread(std::string name);
  ~ProgressThread();
  ProgressThread(const ProgressThread&) = delete;
  ProgressThread& operator=(const ProgressThread&) = delete;

  void submit(std::function<void()> task);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace myriad
