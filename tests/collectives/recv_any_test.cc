// Communicator::recv_any() (torch's recvAnysource) on real processes, over
// shared memory (one node) and TCP (a node per rank): rank 0 receives from
// whichever rank sends first, every message arrives once with its payload
// and its sender in Work::source_rank(); a message with another tag is left
// for its own receive; a peer killed while rank 0 waits fails the wait
// naming it, one that closed its communicator is skipped (and when every
// other rank has, the wait fails saying so); a wait nobody answers fails
// with "Timed out".
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>
#include <tuple>

#include "tests/collectives/world_fixture.h"

namespace myriad::test {
namespace {

using std::chrono::milliseconds;

constexpr size_t kCount = 257;  // odd: no piece boundary lines up
constexpr uint64_t kTag = 4;
constexpr uint64_t kOtherTag = 9;
constexpr milliseconds kOpTimeout{30'000};
constexpr milliseconds kShortTimeout{1'000};
constexpr milliseconds kStoreWait{60'000};
// Senders start this far apart, the highest rank first, so that arrival
// order differs from rank order.
constexpr milliseconds kSendGap{15};

constexpr int kRankNotFailed = 20;
constexpr int kRankWrongFailure = 21;

Layout layout_for(const std::string& transport, int n) {
  return transport == "shm" ? Layout::one_node(n) : Layout::node_per_rank(n);
}

float value(int rank, size_t i, uint64_t tag) {
  return static_cast<float>(rank * 1000 + static_cast<int>(i) + static_cast<int>(tag) * 100'000);
}

std::vector<float> payload(int rank, uint64_t tag) {
  std::vector<float> data(kCount);
  for (size_t i = 0; i < kCount; ++i) data[i] = value(rank, i, tag);
  return data;
}

// Checks that `data` is what `source` sent with `tag`; reports otherwise.
bool check_payload(Rank& self, const std::string& what, const std::vector<float>& data, int source,
                   uint64_t tag) {
  for (size_t i = 0; i < kCount; ++i) {
    if (data[i] != value(source, i, tag)) {
      self.report(fmt::format("{}: element {} is {}, rank {} sent {}", what, i, data[i], source,
                              value(source, i, tag)));
      return false;
    }
  }
  return true;
}

// Every rank but 0 sends one message after a delay that shrinks with its
// rank; rank 0 receives them from any source, `async`: all posted before the
// first wait, else one receive at a time.
int receive_from_each(Rank& self, bool async) {
  Communicator& comm = *self.comm;
  if (self.rank != 0) {
    std::this_thread::sleep_for(kSendGap * (self.size - self.rank));
    std::vector<float> data = payload(self.rank, kTag);
    comm.send(TensorView{data.data(), kCount, DType::F32}, 0, kTag)->wait();
    return kRankOk;
  }
  const int n = self.size - 1;
  std::vector<std::vector<float>> data(n, std::vector<float>(kCount, -1.0f));
  std::vector<WorkPtr> works;
  for (int i = 0; i < n; ++i) {
    works.push_back(comm.recv_any(TensorView{data[i].data(), kCount, DType::F32}, kTag));
    if (!async) works.back()->wait();
  }
  std::vector<int> seen(self.size, 0);
  for (int i = 0; i < n; ++i) {
    Outcome outcome = outcome_of(*works[i]);
    if (!outcome.ok) {
      self.report(fmt::format("recv_any {}: {}", i, outcome.describe()));
      return kRankOpFailed;
    }
    const int source = works[i]->source_rank();
    if (source <= 0 || source >= self.size) {
      self.report(fmt::format("recv_any {}: source rank {}", i, source));
      return kRankWrongProperty;
    }
    if (++seen[source] != 1) {
      self.report(fmt::format("recv_any {}: rank {}'s message arrived twice", i, source));
      return kRankWrongResult;
    }
    if (!check_payload(self, fmt::format("recv_any {}", i), data[i], source, kTag)) return kRankWrongResult;
  }
  return kRankOk;
}

class RecvAny : public ::testing::TestWithParam<std::tuple<std::string, int>> {
 protected:
  Layout layout() const { return layout_for(std::get<0>(GetParam()), std::get<1>(GetParam())); }
};

TEST_P(RecvAny, EveryMessageArrivesOnceWithItsPayloadAndSource) {
  WorldResult result = run_world(
      layout(),
      [&](Rank& self) {
        for (bool async : {false, true}) {
          if (int code = receive_from_each(self, async); code != kRankOk) return code;
          // Every rank takes part in both rounds: none leaves before rank 0
          // has taken every message.
          self.comm->barrier()->wait();
        }
        return kRankOk;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Rank 1's message carries another tag and is in the transport before rank 0
// asks: recv_any(kTag) takes the others' and leaves it for recv(1, kOtherTag).
TEST_P(RecvAny, MessageWithAnotherTagIsNotTaken) {
  WorldResult result = run_world(
      layout(),
      [&](Rank& self) {
        Communicator& comm = *self.comm;
        if (self.rank == 1) {
          std::vector<float> data = payload(1, kOtherTag);
          comm.send(TensorView{data.data(), kCount, DType::F32}, 0, kOtherTag)->wait();
          self.world->store().set("other-tag-sent", "1");
        } else if (self.rank > 1) {
          self.world->store().get("other-tag-sent", kStoreWait);
          std::this_thread::sleep_for(kSendGap * (self.size - self.rank));
          std::vector<float> data = payload(self.rank, kTag);
          comm.send(TensorView{data.data(), kCount, DType::F32}, 0, kTag)->wait();
        } else {
          self.world->store().get("other-tag-sent", kStoreWait);
          std::vector<int> seen(self.size, 0);
          for (int i = 2; i < self.size; ++i) {
            std::vector<float> data(kCount, -1.0f);
            WorkPtr work = comm.recv_any(TensorView{data.data(), kCount, DType::F32}, kTag);
            Outcome outcome = outcome_of(*work);
            if (!outcome.ok) {
              self.report(fmt::format("recv_any: {}", outcome.describe()));
              return kRankOpFailed;
            }
            const int source = work->source_rank();
            if (source < 2 || source >= self.size || ++seen[source] != 1) {
              self.report(fmt::format("recv_any took rank {}'s message (tag {} wanted)", source, kTag));
              return kRankWrongProperty;
            }
            if (!check_payload(self, "recv_any", data, source, kTag)) return kRankWrongResult;
          }
          std::vector<float> data(kCount, -1.0f);
          WorkPtr work = comm.recv(TensorView{data.data(), kCount, DType::F32}, 1, kOtherTag);
          Outcome outcome = outcome_of(*work);
          if (!outcome.ok) {
            self.report(fmt::format("recv(1, tag {}): {}", kOtherTag, outcome.describe()));
            return kRankOpFailed;
          }
          if (work->source_rank() != 1) {
            self.report(fmt::format("recv(1): source rank {}", work->source_rank()));
            return kRankWrongProperty;
          }
          if (!check_payload(self, "recv(1)", data, 1, kOtherTag)) return kRankWrongResult;
        }
        comm.barrier()->wait();
        return kRankOk;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(TransportsAndSizes, RecvAny,
                         ::testing::Combine(::testing::Values("shm", "tcp"), ::testing::Values(3, 4)),
                         [](const auto& info) {
                           return fmt::format("{}{}", std::get<0>(info.param), std::get<1>(info.param));
                         });

class RecvAnyFailure : public ::testing::TestWithParam<std::string> {};

// Rank 2 is killed while rank 0 waits on an any-source receive that rank 1
// does not answer either: the wait fails with PeerFailure naming rank 2,
// well before the operation's timeout.
TEST_P(RecvAnyFailure, PeerKilledDuringTheWaitFailsItNamingThePeer) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        self.comm->barrier()->wait();
        if (self.rank == 2) {
          std::this_thread::sleep_for(milliseconds(100));
          ::kill(::getpid(), SIGKILL);
        }
        if (self.rank == 1) {
          self.world->store().get("checked", kStoreWait);
          return kRankOk;
        }
        std::vector<float> data(kCount);
        const auto start = std::chrono::steady_clock::now();
        Outcome outcome = outcome_of(*self.comm->recv_any(TensorView{data.data(), kCount, DType::F32}, kTag));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        self.world->store().set("checked", "1");
        if (outcome.ok) {
          self.report("recv_any succeeded after its peer was killed");
          return kRankNotFailed;
        }
        if (outcome.code != ErrorCode::PeerFailure || !names_rank(outcome.message, 2)) {
          self.report(
              fmt::format("recv_any: expected [peer_failure] naming rank 2, got {}", outcome.describe()));
          return kRankWrongFailure;
        }
        if (elapsed > kOpTimeout / 2) {
          self.report("recv_any: the peer's death was noticed only near the timeout");
          return kRankWrongFailure;
        }
        return kRankOk;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  ASSERT_EQ(result.ranks.ranks.size(), 3u);
  EXPECT_EQ(result.ranks.ranks[2].signal, SIGKILL) << result.describe();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(result.ranks.ranks[r].exited && result.ranks.ranks[r].code == 0) << result.describe();
  }
}

// Rank 2 closes its communicator (on purpose: it is done) before rank 1
// sends: rank 0's any-source receive skips it and takes rank 1's message.
TEST_P(RecvAnyFailure, ARankThatClosedItsCommunicatorIsSkipped) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        self.comm->barrier()->wait();
        if (self.rank == 2) {
          self.comm.reset();  // closes its transports with a goodbye
          self.world->store().set("closed", "1");
          return kRankOk;
        }
        self.world->store().get("closed", kStoreWait);
        if (self.rank == 1) {
          std::this_thread::sleep_for(milliseconds(200));  // rank 0 sees the close first
          std::vector<float> data = payload(1, kTag);
          self.comm->send(TensorView{data.data(), kCount, DType::F32}, 0, kTag)->wait();
          self.world->store().get("checked", kStoreWait);
          return kRankOk;
        }
        std::vector<float> data(kCount, -1.0f);
        WorkPtr work = self.comm->recv_any(TensorView{data.data(), kCount, DType::F32}, kTag);
        Outcome outcome = outcome_of(*work);
        self.world->store().set("checked", "1");
        if (!outcome.ok) {
          self.report(fmt::format("recv_any after rank 2 closed: {}", outcome.describe()));
          return kRankOpFailed;
        }
        if (work->source_rank() != 1) {
          self.report(fmt::format("recv_any: source rank {}, rank 1 sent", work->source_rank()));
          return kRankWrongProperty;
        }
        return check_payload(self, "recv_any", data, 1, kTag) ? kRankOk : kRankWrongResult;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Every other rank closes its communicator: nothing can arrive, and the
// any-source receive fails at once with PeerFailure saying so.
TEST_P(RecvAnyFailure, EveryOtherRankClosedFailsTheReceive) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        self.comm->barrier()->wait();
        if (self.rank != 0) {
          self.comm.reset();
          self.world->store().set(fmt::format("closed{}", self.rank), "1");
          return kRankOk;
        }
        self.world->store().get("closed1", kStoreWait);
        self.world->store().get("closed2", kStoreWait);
        std::vector<float> data(kCount);
        const auto start = std::chrono::steady_clock::now();
        Outcome outcome = outcome_of(*self.comm->recv_any(TensorView{data.data(), kCount, DType::F32}, kTag));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (outcome.ok || outcome.code != ErrorCode::PeerFailure ||
            !contains(outcome.message, "every other rank has closed")) {
          self.report(fmt::format("recv_any: expected [peer_failure] 'every other rank has closed', got {}",
                                  outcome.describe()));
          return kRankWrongFailure;
        }
        if (elapsed > kOpTimeout / 2) {
          self.report("recv_any: the closes were noticed only near the timeout");
          return kRankWrongFailure;
        }
        return kRankOk;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Nobody sends: the any-source receive fails at its timeout with Timeout,
// saying "Timed out" and naming the operation and its tag.
TEST_P(RecvAnyFailure, UnansweredWaitTimesOut) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        self.comm->barrier()->wait();
        if (self.rank != 0) {
          self.world->store().get("checked", kStoreWait);
          return kRankOk;
        }
        std::vector<float> data(kCount);
        CollectiveOptions options;
        options.timeout = kShortTimeout;
        const auto start = std::chrono::steady_clock::now();
        Outcome outcome =
            outcome_of(*self.comm->recv_any(TensorView{data.data(), kCount, DType::F32}, kTag, options));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        self.world->store().set("checked", "1");
        if (outcome.ok || outcome.code != ErrorCode::Timeout || !contains(outcome.message, "Timed out") ||
            !contains(outcome.message, "recv_any") || !contains(outcome.message, "tag 4")) {
          self.report(
              fmt::format("recv_any: expected [timeout] 'Timed out' naming recv_any and tag 4, got {}",
                          outcome.describe()));
          return kRankWrongFailure;
        }
        if (elapsed < kShortTimeout - milliseconds(50) || elapsed > kShortTimeout + milliseconds(1'500)) {
          self.report(fmt::format("recv_any: a {} ms timeout fired after {} ms", kShortTimeout.count(),
                                  std::chrono::duration_cast<milliseconds>(elapsed).count()));
          return kRankWrongFailure;
        }
        return kRankOk;
      },
      WorldOptions{.op_timeout = kOpTimeout});
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Transports, RecvAnyFailure, ::testing::Values("shm", "tcp"));

}  // namespace
}  // namespace myriad::test
