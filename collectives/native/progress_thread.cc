#include "collectives/native/progress_thread.h"

#include <pthread.h>

namespace myriad {
namespace {
thread_local bool t_progress_thread = false;
}  // namespace

bool ProgressThread::on_progress_thread() {
  return t_progress_thread;
}

ProgressThread::ProgressThread(const std::string& name) {
  thread_ = std::thread([this] { loop(); });
  // Thread names show in top and debuggers; the kernel keeps 15 characters.
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

ProgressThread::~ProgressThread() {
  stop();
}

void ProgressThread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t ProgressThread::submit(std::function<void()> task) {
  uint64_t ticket = 0;
  {
    std::lock_guard lock(mutex_);
    ticket = next_ticket_++;
    queue_.push_back(Task{ticket, std::move(task)});
  }
  cv_.notify_one();
  return ticket;
}

bool ProgressThread::run_if_next(uint64_t ticket) {
  Task task;
  {
    std::lock_guard lock(mutex_);
    if (running_ || queue_.empty() || queue_.front().ticket != ticket) return false;
    task = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
  }
  // Tasks report their own failures through their Work; running_ must be
  // cleared whatever happens, or the progress thread would stop for good.
  struct Done {
    ProgressThread* self;
    ~Done() {
      {
        std::lock_guard lock(self->mutex_);
        self->running_ = false;
      }
      self->cv_.notify_all();
    }
  } done{this};
  task.run();
  return true;
}

void ProgressThread::loop() {
  t_progress_thread = true;
  auto ready = [&] { return !running_ && (stopping_ || !queue_.empty()); };
  while (true) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      const bool idle = !ready();
      cv_.wait(lock, ready);
      if (queue_.empty()) return;
      if (idle && !stopping_) {
        // Woken from idle by a submission: leave the task to its submitter
        // for a moment, in case it is about to wait on it (run_if_next).
        const uint64_t ticket = queue_.front().ticket;
        cv_.wait_for(lock, kSubmitterGrace, [&] {
          return stopping_ || running_ || queue_.empty() || queue_.front().ticket != ticket;
        });
        if (!ready() || queue_.empty()) continue;  // a waiter took it; or stopping
      }
      task = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    task.run();
    {
      std::lock_guard lock(mutex_);
      running_ = false;
    }
  }
}

}  // namespace myriad
