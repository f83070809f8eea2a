// CompletionExecutor: order while tasks make progress, a task waiting for a
// later one does not deadlock (a thread is added), the thread bound, and
// waits from Work callbacks handed to it.
#include "collectives/completion_executor.h"

#include <gtest/gtest.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "collectives/native/progress_thread.h"
#include "collectives/work.h"
#include "collectives/work_control.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;

TEST(CompletionExecutor, RunsTasksOneAtATimeInSubmissionOrder) {
  std::vector<int> order;
  std::mutex mutex;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  {
    // A long stall time: a busy task descheduled on a loaded host is not
    // taken for a blocked one.
    CompletionExecutorOptions options;
    options.stall_after = 200ms;
    CompletionExecutor executor(options);
    for (int i = 0; i < 200; ++i) {
      executor.submit([&, i] {
        int now = ++running;
        most = std::max(most.load(), now);
        // Busy, not blocked: uses its core throughout.
        auto until = std::chrono::steady_clock::now() + 100us;
        while (std::chrono::steady_clock::now() < until) {
        }
        {
          std::lock_guard lock(mutex);
          order.push_back(i);
        }
        --running;
      });
    }
  }  // the destructor runs what is queued
  ASSERT_EQ(order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(most.load(), 1) << "busy tasks ran side by side";
}

// Regression: with the default stall time, a busy callback descheduled on a
// loaded host used to be taken for a blocked one, and the next callback ran
// beside it, so callbacks that issue collectives could issue them in a
// different order on different ranks. Runnable is not blocked.
TEST(CompletionExecutor, BusyTasksKeepTheirOrderOnALoadedHost) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < 8 * cores; ++i) {
    load.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  std::vector<int> order;
  std::mutex mutex;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  constexpr int kTasks = 40;
  std::promise<void> last;
  {
    CompletionExecutor executor;  // the default stall time
    for (int i = 0; i < kTasks; ++i) {
      executor.submit([&, i] {
        int now = ++running;
        most = std::max(most.load(), now);
        // Busy for 10 ms of its own CPU time: several stall windows of wall
        // time while it shares the cores with the load.
        clockid_t clock{};
        pthread_getcpuclockid(pthread_self(), &clock);
        auto cpu = [&] {
          timespec ts{};
          clock_gettime(clock, &ts);
          return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
        };
        const auto until = cpu() + 10ms;
        while (cpu() < until) {
        }
        {
          std::lock_guard lock(mutex);
          order.push_back(i);
        }
        --running;
        if (i + 1 == kTasks) last.set_value();
      });
    }
    // Alive until the last task ran: a stopping executor adds no threads,
    // and the reserve thread is what could start a task too early.
    ASSERT_EQ(last.get_future().wait_for(60s), std::future_status::ready);
  }
  stop = true;
  for (auto& t : load) t.join();
  ASSERT_EQ(order.size(), static_cast<size_t>(kTasks));
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(most.load(), 1) << "a busy task on a loaded host was taken for a blocked one";
}

TEST(CompletionExecutor, ATaskWaitingForALaterTaskDoesNotDeadlock) {
  // Each task waits for the one submitted after it; the last releases them all.
  constexpr int kChain = 8;
  std::vector<std::promise<void>> done(kChain);
  std::vector<std::shared_future<void>> finished;
  for (auto& p : done) finished.push_back(p.get_future().share());
  // Declared after what its tasks use: destroyed first, it waits for them to return.
  CompletionExecutor executor;
  for (int i = 0; i < kChain; ++i) {
    executor.submit([&, i] {
      if (i + 1 < kChain) {
        ASSERT_EQ(finished[i + 1].wait_for(20s), std::future_status::ready) << "task " << i << " starved";
      }
      done[i].set_value();
    });
  }
  EXPECT_EQ(finished[0].wait_for(30s), std::future_status::ready);
  EXPECT_GE(executor.threads(), static_cast<size_t>(kChain));
}

TEST(CompletionExecutor, ThreadsAreBounded) {
  CompletionExecutorOptions options;
  options.max_threads = 3;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> started{0};
  // Declared after what its tasks use: its destructor runs the three tasks left, which must find them alive.
  CompletionExecutor executor(options);
  for (int i = 0; i < 6; ++i) {
    executor.submit([&] {
      ++started;
      released.wait();
    });
  }
  auto until = std::chrono::steady_clock::now() + 10s;
  while (started < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(started.load(), 3);
  EXPECT_LE(executor.threads(), 3u);
  release.set_value();
  // The destructor runs the three left.
}

// The deadlock a DDP comm hook hit: a callback of one operation waits for
// a later operation of the same progress thread. Handed to the executor,
// the callback blocks one of its threads, not the progress thread.
TEST(CompletionExecutor, CallbackWaitingForALaterOperationOfTheSameProgressThread) {
  auto first = std::make_shared<Work>(OpDescriptor{});
  auto second = std::make_shared<Work>(OpDescriptor{});
  std::promise<bool> seen;
  // Declared after what their tasks use: destroyed first, they wait for them to return.
  ProgressThread progress("test");
  CompletionExecutor executor;
  first->on_complete([&](Work&) {
    executor.submit([&] {
      progress.submit([&] { WorkControl::complete(*second); });
      second->wait();
      seen.set_value(second->test());
    });
  });
  progress.submit([&] { WorkControl::complete(*first); });
  std::future<bool> result = seen.get_future();
  ASSERT_EQ(result.wait_for(20s), std::future_status::ready) << "the callback's wait deadlocked";
  EXPECT_TRUE(result.get());
}

}  // namespace
}  // namespace myriad
