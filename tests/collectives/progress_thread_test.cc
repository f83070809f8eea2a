// ProgressThread: call order, one task at a time, and a waiter running the
// next task on its own thread (run_if_next) without breaking either.
#include "collectives/native/progress_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "collectives/work.h"
#include "collectives/work_control.h"
#include "runtime/error.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;

TEST(ProgressThread, RunsTasksInSubmissionOrder) {
  std::vector<int> order;
  std::mutex mutex;
  {
    ProgressThread thread("test");
    for (int i = 0; i < 100; ++i) {
      thread.submit([&, i] {
        std::lock_guard lock(mutex);
        order.push_back(i);
      });
    }
  }  // the destructor runs what is queued
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(ProgressThread, RunIfNextRefusesWhileATaskRunsAndOutOfOrder) {
  ProgressThread thread("test");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first_started{false};
  thread.submit([&] {  // holds the progress thread until released
    first_started = true;
    released.wait();
  });
  while (!first_started) std::this_thread::sleep_for(1ms);
  std::atomic<int> second_runs{0};
  std::atomic<int> third_runs{0};
  uint64_t second = thread.submit([&] { second_runs++; });
  uint64_t third = thread.submit([&] { third_runs++; });
  EXPECT_FALSE(thread.run_if_next(second)) << "ran beside a running task";
  EXPECT_FALSE(thread.run_if_next(third)) << "ran out of order";
  release.set_value();
  thread.stop();
  EXPECT_EQ(second_runs.load(), 1);
  EXPECT_EQ(third_runs.load(), 1);
}

TEST(ProgressThread, TasksRunInlineRunOnTheCallersThreadAndInOrder) {
  ProgressThread thread("test");
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::thread::id> ran_on(500);
  for (int i = 0; i < 500; ++i) {
    uint64_t ticket = thread.submit([&, i] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      ran_on[i] = std::this_thread::get_id();
    });
    if (i % 3 == 0) continue;  // leave some to the progress thread
    if (thread.run_if_next(ticket)) {
      std::lock_guard lock(mutex);
      EXPECT_EQ(ran_on[i], std::this_thread::get_id()) << "task " << i;
    }
  }
  thread.stop();
  ASSERT_EQ(order.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(order[i], i);
}

TEST(ProgressThread, InlineTaskHoldsOffTheProgressThread) {
  ProgressThread thread("test");
  std::atomic<int> running{0};
  std::atomic<int> overlap{0};
  std::atomic<int> done{0};
  auto task = [&] {
    if (running.fetch_add(1) != 0) overlap++;
    std::this_thread::sleep_for(200us);
    running.fetch_sub(1);
    done++;
  };
  std::vector<uint64_t> tickets;
  for (int i = 0; i < 200; ++i) tickets.push_back(thread.submit(task));
  for (uint64_t ticket : tickets) thread.run_if_next(ticket);
  thread.stop();
  EXPECT_EQ(done.load(), 200);
  EXPECT_EQ(overlap.load(), 0) << "two tasks ran at once";
}

TEST(ProgressThread, RunIfNextAfterStopFindsNothing) {
  ProgressThread thread("test");
  std::atomic<int> runs{0};
  uint64_t ticket = thread.submit([&] { runs++; });
  thread.stop();
  EXPECT_FALSE(thread.run_if_next(ticket));
  EXPECT_EQ(runs.load(), 1);
}

// Regression: a task taken by its waiter during the progress thread's
// grace period, then stop(): the thread read the front of an empty queue
// and called an empty task (std::bad_function_call, seen as SIGABRT when
// communicators were destroyed).
TEST(ProgressThread, StopRightAfterAnInlineRunDuringTheGrace) {
  for (int i = 0; i < 300; ++i) {
    std::atomic<int> runs{0};
    {
      ProgressThread thread("test");
      uint64_t ticket = thread.submit([&] { runs++; });
      thread.run_if_next(ticket);
    }  // stop() while the progress thread may be in its grace wait
    EXPECT_EQ(runs.load(), 1);
  }
}

TEST(Work, WaitCallsTheRunnerBeforeBlocking) {
  auto work = std::make_shared<Work>(OpDescriptor{});
  int calls = 0;
  WorkControl::set_runner(*work, [&] {
    ++calls;
    WorkControl::complete(*work);
    return true;
  });
  work->wait();  // would block forever if the runner were not called
  EXPECT_EQ(calls, 1);
  work->wait();  // complete: the runner is not called again
  EXPECT_EQ(calls, 1);
}

TEST(Work, RunHereRunsOnlyWhatIsPending) {
  auto work = std::make_shared<Work>(OpDescriptor{});
  EXPECT_FALSE(work->run_here()) << "no runner set";
  int calls = 0;
  WorkControl::set_runner(*work, [&] {
    ++calls;
    WorkControl::complete(*work);
    return true;
  });
  EXPECT_TRUE(work->run_here());
  EXPECT_FALSE(work->run_here()) << "already complete";
  EXPECT_EQ(calls, 1);
}

// Completing, failing and giving a runner are the backend's (WorkControl);
// a user holding a Work can only wait, test and read it.
template <typename W>
concept UserCanComplete = requires(W& w) {
  w.complete();
};
template <typename W>
concept UserCanFail = requires(W& w, std::exception_ptr e) {
  w.fail(e);
};
template <typename W>
concept UserCanSetRunner = requires(W& w) {
  w.set_runner([] { return false; });
};
static_assert(!UserCanComplete<Work> && !UserCanFail<Work> && !UserCanSetRunner<Work>);

TEST(Work, ASecondCompletionIsIgnored) {
  auto work = std::make_shared<Work>(OpDescriptor{});
  WorkControl::fail(*work, std::make_exception_ptr(Error(ErrorCode::PeerFailure, "first")));
  WorkControl::complete(*work);
  EXPECT_TRUE(work->test());
  ASSERT_TRUE(work->error());
  EXPECT_EQ(work->error()->code(), ErrorCode::PeerFailure);
}

}  // namespace
}  // namespace myriad
