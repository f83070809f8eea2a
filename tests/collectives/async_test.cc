// Asynchronous operation on real processes: many operations in flight on
// several communicators (split ones included) waited in another order than
// issued, completion callbacks, and a soak of thousands of random operations
// whose results are all checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <random>
#include <thread>

#include "collectives/native/algorithm.h"
#include "tests/collectives/collective_cases.h"
#include "tests/collectives/world_fixture.h"

namespace myriad::test {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kCallbackWait{30'000};

constexpr OpKind kCycledKinds[] = {OpKind::Allreduce,     OpKind::Allgather,      OpKind::Broadcast,
                                   OpKind::ReduceScatter, OpKind::Alltoall,       OpKind::Gather,
                                   OpKind::Scatter,       OpKind::Allgatherv,     OpKind::Reduce,
                                   OpKind::Alltoallv,     OpKind::ReduceScatterv, OpKind::Barrier};

std::string layout_name(const ::testing::TestParamInfo<Layout>& info) {
  return info.param.name;
}

class AsyncOps : public ::testing::TestWithParam<Layout> {};

TEST_P(AsyncOps, ManyOutstandingOnSeveralCommunicatorsWaitedOutOfOrder) {
  const Layout layout = GetParam();
  constexpr int kRounds = 8;
  constexpr int kOpsPerRound = 48;
  WorldResult result = run_world(layout, [&](Rank& self) {
    // Two world communicators and a split of each, with different groupings.
    std::shared_ptr<Communicator> second = Communicator::create(self.world);
    std::vector<std::shared_ptr<Communicator>> comms = {self.comm, second,
                                                        self.comm->split(self.rank % 2, self.rank),
                                                        second->split(self.rank / 2, -self.rank)};
    std::atomic<int> callbacks{0};
    std::atomic<int> wrong_callbacks{0};
    int issued_works = 0;
    std::mt19937 shuffle(static_cast<unsigned>(self.rank) * 7919u + 1u);  // a different order on every rank
    for (int round = 0; round < kRounds; ++round) {
      std::vector<std::unique_ptr<PendingCase>> pending;
      for (int i = 0; i < kOpsPerRound; ++i) {
        Communicator& comm = *comms[static_cast<size_t>(i) % comms.size()];
        const int index = round * kOpsPerRound + i;
        Case c;
        c.kind = kCycledKinds[static_cast<size_t>(index) % std::size(kCycledKinds)];
        c.dtype = kAllDTypes[static_cast<size_t>(index / 3) % std::size(kAllDTypes)];
        c.op = ReduceOp::Sum;
        c.count = static_cast<uint64_t>(index * 37 % 300);
        c.in_place = index % 5 == 0 && has_in_place(c.kind);
        c.root = index % comm.size();
        c.seed = static_cast<uint64_t>(index);
        pending.push_back(start_case(comm, c));
        for (const WorkPtr& work : pending.back()->works()) {
          ++issued_works;
          Work* expected = work.get();
          work->on_complete([&callbacks, &wrong_callbacks, expected](Work& done) {
            if (&done != expected || !done.test()) ++wrong_callbacks;
            ++callbacks;
          });
        }
      }
      std::vector<size_t> order(pending.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), shuffle);
      for (size_t i : order) {
        std::string failure;
        try {
          failure = check_case(*pending[i]);
        } catch (const std::exception& e) {
          self.report(fmt::format("{}: failed: {}", pending[i]->spec().to_string(), e.what()));
          return kRankOpFailed;
        }
        if (!failure.empty()) {
          self.report(failure);
          return kRankWrongResult;
        }
      }
      for (const auto& p : pending) {
        for (const WorkPtr& work : p->works()) {
          if (!work->test() || work->error().has_value()) {
            self.report(fmt::format("{}: test() or error() wrong after wait", p->spec().to_string()));
            return kRankWrongProperty;
          }
        }
      }
    }
    // Callbacks registered before completion run on the progress thread,
    // possibly just after wait() returned.
    if (!wait_until([&] { return callbacks.load() == issued_works; }, kCallbackWait) ||
        wrong_callbacks.load() > 0) {
      self.report(fmt::format("{} of {} callbacks ran, {} with the wrong work", callbacks.load(),
                              issued_works, wrong_callbacks.load()));
      return kRankWrongProperty;
    }
    // One registered after completion runs at once, on the caller's thread.
    std::vector<float> one = {1.0f};
    WorkPtr work = self.comm->allreduce(TensorView{one.data(), 1, DType::F32});
    work->wait();
    std::thread::id ran_on;
    work->on_complete([&](Work&) { ran_on = std::this_thread::get_id(); });
    if (ran_on != std::this_thread::get_id()) {
      self.report("a callback registered after completion did not run at once on the caller's thread");
      return kRankWrongProperty;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// 5,000 random operations (kind, dtype, reduction, algorithm, count, root,
// in place, communicator) drawn from a seed every rank shares, up to
// kWindow in flight, each checked as it completes.
TEST_P(AsyncOps, SoakOfRandomOperationsWithCheckedResults) {
  const Layout layout = GetParam();
  constexpr int kOps = 5000;
  constexpr size_t kWindow = 12;
  constexpr uint64_t kSeed = 0x5eed2024;
  constexpr OpKind kKinds[] = {
      OpKind::Allreduce,     OpKind::Reduce,         OpKind::Broadcast, OpKind::Allgather, OpKind::Allgatherv,
      OpKind::ReduceScatter, OpKind::ReduceScatterv, OpKind::Alltoall,  OpKind::Alltoallv, OpKind::Gather,
      OpKind::Scatter,       OpKind::Barrier,        OpKind::Send};
  WorldResult result = run_world(layout, [&](Rank& self) {
    std::vector<std::shared_ptr<Communicator>> comms = {self.comm, Communicator::create(self.world)};
    std::mt19937_64 random(kSeed);
    auto pick = [&](uint64_t n) { return static_cast<uint64_t>(random() % n); };
    std::deque<std::unique_ptr<PendingCase>> in_flight;
    int checked = 0;
    auto check_oldest = [&]() -> int {
      std::unique_ptr<PendingCase> oldest = std::move(in_flight.front());
      in_flight.pop_front();
      std::string failure;
      try {
        failure = check_case(*oldest);
      } catch (const std::exception& e) {
        self.report(fmt::format("op {}: {}: failed: {}", checked, oldest->spec().to_string(), e.what()));
        return kRankOpFailed;
      }
      if (!failure.empty()) {
        self.report(fmt::format("op {}: {}", checked, failure));
        return kRankWrongResult;
      }
      ++checked;
      return kRankOk;
    };
    for (int i = 0; i < kOps; ++i) {
      Case c;
      c.kind = kKinds[pick(std::size(kKinds))];
      if (c.kind == OpKind::Send && self.size == 1) c.kind = OpKind::Barrier;
      c.dtype = kAllDTypes[pick(std::size(kAllDTypes))];
      const std::vector<ReduceOp> ops = reductions_for(c.dtype);
      c.op = ops[pick(ops.size())];
      std::vector<std::string> algorithms = {""};
      if (c.kind != OpKind::Send) {
        for (const Algorithm* algorithm : algorithms_for(c.kind)) algorithms.emplace_back(algorithm->name());
      }
      c.algorithm = algorithms[pick(algorithms.size())];
      const uint64_t size_class = pick(20);
      c.count = size_class < 14 ? pick(65) : size_class < 19 ? pick(4097) : pick(65537);
      c.in_place = pick(2) == 1 && has_in_place(c.kind);
      c.root = static_cast<int>(pick(static_cast<uint64_t>(self.size)));
      c.seed = static_cast<uint64_t>(i);
      Communicator& comm = *comms[pick(comms.size())];
      try {
        in_flight.push_back(start_case(comm, c));
      } catch (const std::exception& e) {
        self.report(fmt::format("op {}: {}: the call threw: {}", i, c.to_string(), e.what()));
        return kRankOpFailed;
      }
      if (in_flight.size() >= kWindow) {
        if (int code = check_oldest(); code != kRankOk) return code;
      }
    }
    while (!in_flight.empty()) {
      if (int code = check_oldest(); code != kRankOk) return code;
    }
    if (checked != kOps) {
      self.report(fmt::format("checked {} of {} operations", checked, kOps));
      return kRankWrongProperty;
    }
    return kRankOk;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Point-to-point operations are asynchronous too: a ring in which every
// rank first posts its send and then its receive (as batched isend/irecv
// do), with messages far larger than any transport buffer, completes; and
// so does the opposite order.
TEST_P(AsyncOps, RingOfPointToPointCompletesWhateverTheOrderOfPosting) {
  const Layout layout = GetParam();
  constexpr size_t kCount = size_t{4} << 20;  // 16 MiB of f32
  WorldResult result = run_world(
      layout,
      [&](Rank& self) {
        const int next = (self.rank + 1) % self.size;
        const int prev = (self.rank + self.size - 1) % self.size;
        for (bool send_first : {true, false}) {
          std::vector<float> out(kCount, static_cast<float>(self.rank));
          std::vector<float> in(kCount, -1.0f);
          WorkPtr send;
          WorkPtr recv;
          if (send_first) {
            send = self.comm->send(TensorView{out.data(), kCount, DType::F32}, next, 7);
            recv = self.comm->recv(TensorView{in.data(), kCount, DType::F32}, prev, 7);
          } else {
            recv = self.comm->recv(TensorView{in.data(), kCount, DType::F32}, prev, 7);
            send = self.comm->send(TensorView{out.data(), kCount, DType::F32}, next, 7);
          }
          Outcome sent = outcome_of(*send);
          Outcome received = outcome_of(*recv);
          if (!sent.ok || !received.ok) {
            self.report(fmt::format("{} first: send {}; recv {}", send_first ? "send" : "recv",
                                    sent.describe(), received.describe()));
            return kRankOpFailed;
          }
          if (std::any_of(in.begin(), in.end(), [&](float v) { return v != static_cast<float>(prev); })) {
            self.report(
                fmt::format("{} first: received data is not rank {}'s", send_first ? "send" : "recv", prev));
            return kRankWrongResult;
          }
        }
        return kRankOk;
      },
      WorldOptions{.op_timeout = milliseconds(15'000)});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Layouts, AsyncOps, ::testing::Values(Layout::one_node(4), Layout::blocks(2, 2)),
                         layout_name);

}  // namespace
}  // namespace myriad::test
