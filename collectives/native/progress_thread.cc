#include "collectives/native/progress_thread.h"

#include <pthread.h>

namespace myriad {

ProgressThread::ProgressThread(std::string name) {
  thread_ = std::thread([this] { loop(); });
  // Thread names show in top and debuggers; the kernel keeps 15 characters.
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

ProgressThread::~ProgressThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProgressThread::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ProgressThread::loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace myriad
