// Failure behaviour on real processes, over shared memory (one node) and
// TCP (a node per rank): a peer killed with SIGKILL mid-collective, ranks
// that disagree about the operation or its count, a rank that never calls,
// abort(), and invalid arguments. Every failure must be reported, with the
// right code and a message naming what went wrong, never as a hang: the
// per-operation timeout is generous (kOpTimeout) so that a rank that should
// have seen PeerFailure at once but waited for the timeout fails the test.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "tests/collectives/world_fixture.h"

namespace myriad::test {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kOpTimeout{30'000};
constexpr milliseconds kShortTimeout{1'000};
constexpr milliseconds kStoreWait{60'000};

// Exit codes naming what went wrong, beyond the shared ones.
constexpr int kRankNotFailed = 20;     // an operation that should fail succeeded
constexpr int kRankTimedOut = 21;      // it failed with Timeout where the failure was not a timeout
constexpr int kRankWrongCode = 22;     // it failed with another code
constexpr int kRankWrongMessage = 23;  // the message does not name what it must

WorldOptions failure_options() {
  return WorldOptions{.op_timeout = kOpTimeout};
}

// Options by assignment: options.h's structs give their algorithm no
// default member initializer, so a designated initializer that leaves it
// out trips -Wmissing-field-initializers.
AllreduceOptions allreduce_options(milliseconds timeout, ReduceOp op = ReduceOp::Sum) {
  AllreduceOptions options;
  options.timeout = timeout;
  options.op = op;
  return options;
}
RootOptions root_options(int root) {
  RootOptions options;
  options.root = root;
  return options;
}
ReduceOptions reduce_options(int root) {
  ReduceOptions options;
  options.root = root;
  return options;
}

// Layouts of `n` ranks over one transport.
Layout layout_for(const std::string& transport, int n) {
  return transport == "shm" ? Layout::one_node(n) : Layout::node_per_rank(n);
}

// Checks that `outcome` is a failure with `code` whose message contains
// every one of `parts`; reports and returns the exit code otherwise.
int expect_failure(Rank& self, const std::string& what, const Outcome& outcome, ErrorCode code,
                   const std::vector<std::string>& parts = {}) {
  if (outcome.ok) {
    self.report(fmt::format("{}: succeeded, expected [{}]", what, error_code_name(code)));
    return kRankNotFailed;
  }
  if (outcome.code != code) {
    self.report(fmt::format("{}: expected [{}], got {}", what, error_code_name(code), outcome.describe()));
    return outcome.code == ErrorCode::Timeout ? kRankTimedOut : kRankWrongCode;
  }
  for (const std::string& part : parts) {
    if (!contains(outcome.message, part)) {
      self.report(fmt::format("{}: the message does not name '{}': {}", what, part, outcome.describe()));
      return kRankWrongMessage;
    }
  }
  return kRankOk;
}

int expect_names_rank(Rank& self, const std::string& what, const Outcome& outcome, int peer) {
  if (!names_rank(outcome.message, peer)) {
    self.report(fmt::format("{}: the message does not name rank {}: {}", what, peer, outcome.describe()));
    return kRankWrongMessage;
  }
  return kRankOk;
}

CommunicatorOptions short_timeout() {
  CommunicatorOptions options;
  options.timeout = kShortTimeout;
  return options;
}

// A barrier on the communicator, then one through the store: every rank
// has finished the first before any goes on to an operation meant to fail
// (whose failure could otherwise reach a slow rank still in the barrier).
void in_step(Rank& self, Communicator& comm, const std::string& name) {
  comm.barrier()->wait();
  self.world->barrier(name);
}

// Blocks until `key` is set in the job's store.
void wait_for_key(Rank& self, const std::string& key) {
  self.world->store().get(key, kStoreWait);
}

// The message checks below rely on these matchers: they must find a rank
// or a sequence number only where one is named.
TEST(FailureMessages, MatchersFindNamedRanksAndSequenceNumbers) {
  EXPECT_TRUE(names_rank("rank 0: peer rank 2 (pid 7) died", 2));
  EXPECT_TRUE(names_rank("rank 1: allreduce #3 timed out: peer(s) 0, 2 did not arrive", 2));
  EXPECT_TRUE(names_rank("waiting for ranks [1, 2]", 2));
  EXPECT_FALSE(names_rank("rank 0: allreduce(f32, 24, sum) #2 timed out: peer(s) 1 did not arrive", 2));
  EXPECT_FALSE(names_rank("rank 12: peer rank 20 died", 2));
  EXPECT_TRUE(names_seq("allreduce(f32, 24, sum) #2 timed out", 2));
  EXPECT_TRUE(names_seq("operation mismatch in sequence slot 2: ...", 2));
  EXPECT_FALSE(names_seq("allreduce(f32, 2, sum) #12 timed out", 2));
}

class CollectivesFailure : public ::testing::TestWithParam<std::string> {};

// Rank 2 dies (SIGKILL) while every rank is inside an allreduce. The
// survivors' pending operations (that one and two queued behind it) and a
// later one fail with PeerFailure naming rank 2.
TEST_P(CollectivesFailure, KilledPeerFailsPendingAndLaterOperationsWithPeerFailure) {
  constexpr size_t kCount = size_t{8} << 20;  // 32 MiB: long enough to be in flight when the peer dies
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        std::vector<float> big(kCount, 1.0f);
        std::vector<float> small(16, 1.0f);
        WorkPtr inside = self.comm->allreduce(TensorView{big.data(), kCount, DType::F32});
        if (self.rank == 2) {
          // Dies within the first milliseconds of a transfer that takes far longer.
          std::this_thread::sleep_for(milliseconds(2));
          ::kill(::getpid(), SIGKILL);
        }
        WorkPtr queued1 = self.comm->allreduce(TensorView{small.data(), small.size(), DType::F32});
        WorkPtr queued2 = self.comm->barrier();
        const std::vector<std::pair<std::string, WorkPtr>> pending = {{"the allreduce in flight", inside},
                                                                      {"a queued allreduce", queued1},
                                                                      {"a queued barrier", queued2}};
        for (const auto& [what, work] : pending) {
          Outcome outcome = outcome_of(*work);
          if (int code = expect_failure(self, what, outcome, ErrorCode::PeerFailure); code != kRankOk)
            return code;
          if (int code = expect_names_rank(self, what, outcome, 2); code != kRankOk) return code;
        }
        WorkPtr later = self.comm->allreduce(TensorView{small.data(), small.size(), DType::F32});
        Outcome outcome = outcome_of(*later);
        if (int code = expect_failure(self, "an allreduce issued after the failure", outcome,
                                      ErrorCode::PeerFailure);
            code != kRankOk) {
          return code;
        }
        return expect_names_rank(self, "an allreduce issued after the failure", outcome, 2);
      },
      failure_options());
  ASSERT_EQ(result.ranks.ranks.size(), 3u);
  EXPECT_EQ(result.ranks.ranks[2].signal, SIGKILL) << result.describe();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(result.ranks.ranks[r].exited && result.ranks.ranks[r].code == 0) << result.describe();
  }
}

// Rank 0 calls allreduce(f32, 1024, sum) where rank 1 calls allgather: both
// fail, each with an error naming both calls.
TEST_P(CollectivesFailure, MismatchedOperationFailsEveryRankNamingBothSides) {
  WorldResult result = run_world(
      layout_for(GetParam(), 2),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        std::vector<float> input(1024, 1.0f);
        std::vector<float> output(2048, 0.0f);
        WorkPtr work = self.rank == 0 ? self.comm->allreduce(TensorView{input.data(), 1024, DType::F32})
                                      : self.comm->allgather(TensorView{input.data(), 1024, DType::F32},
                                                             TensorView{output.data(), 2048, DType::F32});
        Outcome outcome = outcome_of(*work);
        if (outcome.ok) {
          self.report("the mismatched call succeeded");
          return kRankNotFailed;
        }
        if (outcome.code == ErrorCode::Timeout) {
          self.report(fmt::format("the mismatch was a timeout: {}", outcome.describe()));
          return kRankTimedOut;
        }
        if (!contains(outcome.message, "allreduce(f32, 1024, sum)") ||
            !contains(outcome.message, "allgather(")) {
          self.report(fmt::format("the error does not name both calls: {}", outcome.describe()));
          return kRankWrongMessage;
        }
        // Sticky: the next call fails too.
        if (outcome_of(*self.comm->barrier()).ok) {
          self.report("a barrier after the mismatch succeeded");
          return kRankNotFailed;
        }
        return kRankOk;
      },
      failure_options());
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Counts that differ (1024 on rank 0, 1000 elsewhere) fail on every rank,
// naming both counts; with three ranks, rank 0 meets the mismatch only
// through its peers.
TEST_P(CollectivesFailure, MismatchedCountFailsEveryRankNamingBothSides) {
  for (int n : {2, 3}) {
    WorldResult result = run_world(
        layout_for(GetParam(), n),
        [&](Rank& self) {
          in_step(self, *self.comm, "start");
          std::vector<float> buffer(1024, 1.0f);
          const size_t count = self.rank == 0 ? 1024 : 1000;
          Outcome outcome = outcome_of(*self.comm->allreduce(TensorView{buffer.data(), count, DType::F32}));
          if (outcome.ok) {
            self.report("the mismatched call succeeded");
            return kRankNotFailed;
          }
          if (outcome.code == ErrorCode::Timeout) {
            self.report(fmt::format("the mismatch was a timeout: {}", outcome.describe()));
            return kRankTimedOut;
          }
          if (!contains(outcome.message, "allreduce(f32, 1024, sum)") ||
              !contains(outcome.message, "allreduce(f32, 1000, sum)")) {
            self.report(fmt::format("the error does not name both calls: {}", outcome.describe()));
            return kRankWrongMessage;
          }
          return kRankOk;
        },
        failure_options());
    EXPECT_TRUE(result.all_succeeded()) << n << " ranks\n" << result.describe();
  }
}

// Rank 1 never calls the third operation: rank 0's fails with Timeout
// naming the operation, its sequence number (2) and rank 1, and saying
// "Timed out" (what torch's callers match); the timeout comes from the
// call's options, and from the communicator's default. It fires at the
// timeout, not after a grace period for the other ranks to time out too
// (which made a 1 s timeout fire at 3 s); the bound is loose for a noisy host.
TEST_P(CollectivesFailure, RankThatNeverCallsTimesOutNamingOpSequenceAndPeer) {
  for (bool per_call : {true, false}) {
    WorldResult result = run_world(
        layout_for(GetParam(), 2),
        [&](Rank& self) {
          std::shared_ptr<Communicator> comm =
              per_call ? self.comm : Communicator::create(self.world, short_timeout());
          comm->barrier()->wait();
          in_step(self, *comm, "start");
          if (self.rank == 1) {
            wait_for_key(self, "checked");  // alive and connected, but not calling
            return kRankOk;
          }
          std::vector<float> buffer(24, 1.0f);
          const AllreduceOptions options = allreduce_options(per_call ? kShortTimeout : milliseconds(0));
          const auto start = std::chrono::steady_clock::now();
          Outcome outcome = outcome_of(*comm->allreduce(TensorView{buffer.data(), 24, DType::F32}, options));
          const auto elapsed = std::chrono::steady_clock::now() - start;
          self.world->store().set("checked", "1");
          const std::string what = per_call ? "per-call timeout" : "communicator timeout";
          if (int code = expect_failure(self, what, outcome, ErrorCode::Timeout,
                                        {"allreduce(f32, 24, sum)", "Timed out"});
              code != kRankOk) {
            return code;
          }
          if (elapsed < kShortTimeout - milliseconds(50) || elapsed > kShortTimeout + milliseconds(1'500)) {
            self.report(fmt::format("{}: a {} ms timeout fired after {} ms", what, kShortTimeout.count(),
                                    std::chrono::duration_cast<milliseconds>(elapsed).count()));
            return kRankWrongMessage;
          }
          if (!names_seq(outcome.message, 2)) {
            self.report(
                fmt::format("{}: the message does not name sequence number 2: {}", what, outcome.describe()));
            return kRankWrongMessage;
          }
          return expect_names_rank(self, what, outcome, 1);
        },
        failure_options());
    EXPECT_TRUE(result.all_succeeded()) << (per_call ? "per-call" : "communicator") << " timeout\n"
                                        << result.describe();
  }
}

// A receive whose peer never sends fails with Timeout at its timeout,
// saying "Timed out" and naming the peer and the tag.
TEST_P(CollectivesFailure, ReceiveFromAPeerThatNeverSendsTimesOutAtItsTimeout) {
  WorldResult result = run_world(
      layout_for(GetParam(), 2),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        if (self.rank == 1) {
          wait_for_key(self, "checked");
          return kRankOk;
        }
        std::vector<float> buffer(16, 0.0f);
        CollectiveOptions options;
        options.timeout = kShortTimeout;
        const auto start = std::chrono::steady_clock::now();
        Outcome outcome =
            outcome_of(*self.comm->recv(TensorView{buffer.data(), 16, DType::F32}, 1, 5, options));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        self.world->store().set("checked", "1");
        if (int code = expect_failure(self, "recv", outcome, ErrorCode::Timeout, {"Timed out", "tag 5"});
            code != kRankOk) {
          return code;
        }
        if (elapsed < kShortTimeout - milliseconds(50) || elapsed > kShortTimeout + milliseconds(1'500)) {
          self.report(fmt::format("recv: a {} ms timeout fired after {} ms", kShortTimeout.count(),
                                  std::chrono::duration_cast<milliseconds>(elapsed).count()));
          return kRankWrongMessage;
        }
        return expect_names_rank(self, "recv", outcome, 1);
      },
      failure_options());
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// With three ranks and rank 2 absent, both callers fail in bounded time,
// by their own timeout or by the other's failure, and each error names
// rank 2: the rank that did not arrive, not a neighbour that did arrive
// and is itself waiting for rank 2.
TEST_P(CollectivesFailure, MissingRankAmongThreeFailsEveryCallerNamingIt) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        if (self.rank == 2) {
          wait_for_key(self, "checked0");
          wait_for_key(self, "checked1");
          return kRankOk;
        }
        std::vector<float> buffer(24, 1.0f);
        Outcome outcome = outcome_of(*self.comm->allreduce(TensorView{buffer.data(), 24, DType::F32},
                                                           allreduce_options(kShortTimeout)));
        self.world->store().set(fmt::format("checked{}", self.rank), "1");
        if (outcome.ok) {
          self.report("the allreduce without rank 2 succeeded");
          return kRankNotFailed;
        }
        if (outcome.code != ErrorCode::Timeout && outcome.code != ErrorCode::PeerFailure) {
          self.report(fmt::format("expected [timeout] or [peer_failure], got {}", outcome.describe()));
          return kRankWrongCode;
        }
        if (!contains(outcome.message, "allreduce")) {
          self.report(fmt::format("the message does not name the operation: {}", outcome.describe()));
          return kRankWrongMessage;
        }
        return expect_names_rank(self, "missing rank", outcome, 2);
      },
      failure_options());
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Ranks 0 and 1 are inside an allreduce that rank 2 has not joined; rank 0
// aborts from another thread. Its own operation and rank 1's fail with
// PeerFailure at once (not at the 30 s timeout), and so do rank 2's call
// of that allreduce, made after the abort, and later operations.
TEST_P(CollectivesFailure, AbortUnblocksPendingOperationsHereAndOnPeers) {
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        std::vector<float> buffer(1024, 1.0f);
        if (self.rank == 2) {
          // The same call as its peers, made after rank 0 aborted.
          wait_for_key(self, "aborted");
          Outcome outcome =
              outcome_of(*self.comm->allreduce(TensorView{buffer.data(), buffer.size(), DType::F32}));
          return expect_failure(self, "rank 2's allreduce after rank 0 aborted", outcome,
                                ErrorCode::PeerFailure);
        }
        WorkPtr work = self.comm->allreduce(TensorView{buffer.data(), buffer.size(), DType::F32});
        std::thread aborter;
        if (self.rank == 0) {
          aborter = std::thread([&] {
            std::this_thread::sleep_for(milliseconds(300));
            self.comm->abort("stopped by the abort test");
          });
        }
        Outcome outcome = outcome_of(*work);
        if (aborter.joinable()) aborter.join();
        if (self.rank == 0) self.world->store().set("aborted", "1");
        const std::vector<std::string> parts = self.rank == 0
                                                   ? std::vector<std::string>{"stopped by the abort test"}
                                                   : std::vector<std::string>{};
        if (int code = expect_failure(self, "the pending allreduce", outcome, ErrorCode::PeerFailure, parts);
            code != kRankOk) {
          return code;
        }
        return expect_failure(self, "a later barrier", outcome_of(*self.comm->barrier()),
                              ErrorCode::PeerFailure);
      },
      failure_options());
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

// Regression: a batch of point-to-point operations that failed called
// Work::fail() twice on each of its running operations (once before and
// once after taking in the operations waiting to join it); only Work's own
// guard hid that. Now an operation that finishes twice is an internal error
// that ends the rank, and this test checks what the callers see: rank 2
// dies while the survivors hold point-to-point operations with it (a
// receive, a send too large for any transport buffer, a receive from any
// rank), completed ones with each other, and collectives queued behind the
// batch. Every Work's callback fires exactly once; every operation that
// needed rank 2 fails with PeerFailure naming it, the completed ones stay
// successful, and operations issued afterwards fail with the same sticky
// error.
TEST_P(CollectivesFailure, PeerDeathFailsEachPendingPointToPointAndCollectiveExactlyOnce) {
  constexpr size_t kSmall = 16;
  constexpr size_t kLarge = size_t{4} << 20;  // 16 MiB of f32: more than a transport buffers
  WorldResult result = run_world(
      layout_for(GetParam(), 3),
      [&](Rank& self) {
        in_step(self, *self.comm, "start");
        if (self.rank == 2) {
          wait_for_key(self, "posted0");
          wait_for_key(self, "posted1");
          ::kill(::getpid(), SIGKILL);
        }
        Communicator& comm = *self.comm;
        const int other = 1 - self.rank;  // the other survivor
        struct Pending {
          std::string what;
          WorkPtr work;
          bool needs_rank_2 = true;  // fails; otherwise it completed before the death
          std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
        };
        std::vector<Pending> pending;
        auto track = [&](std::string what, WorkPtr work, bool needs_rank_2) {
          Pending p{std::move(what), std::move(work), needs_rank_2};
          p.work->on_complete([calls = p.calls](Work&) { calls->fetch_add(1); });
          pending.push_back(std::move(p));
        };
        std::vector<float> from_two(kSmall, 0.0f);
        std::vector<float> large(kLarge, 1.0f);
        std::vector<float> to_other(kSmall, static_cast<float>(self.rank));
        std::vector<float> from_other(kSmall, -1.0f);
        std::vector<float> from_any(kSmall, 0.0f);
        std::vector<float> reduced(kSmall, 1.0f);
        track("recv from rank 2", comm.recv(TensorView{from_two.data(), kSmall, DType::F32}, 2, 7), true);
        track("send of 16 MiB to rank 2", comm.send(TensorView{large.data(), kLarge, DType::F32}, 2, 8),
              true);
        track("send to the other survivor",
              comm.send(TensorView{to_other.data(), kSmall, DType::F32}, other, 9), false);
        track("recv from the other survivor",
              comm.recv(TensorView{from_other.data(), kSmall, DType::F32}, other, 9), false);
        // Both survivors' batches are running, with the operations on rank 2
        // posted beside the two just completed.
        for (size_t i = 2; i < 4; ++i) {
          if (Outcome ok = outcome_of(*pending[i].work); !ok.ok) {
            self.report(fmt::format("{}: {}", pending[i].what, ok.describe()));
            return kRankOpFailed;
          }
        }
        if (from_other[0] != static_cast<float>(other)) {
          self.report(fmt::format("recv from the other survivor: got {}, sent {}", from_other[0], other));
          return kRankWrongResult;
        }
        track("recv_any nobody answers", comm.recv_any(TensorView{from_any.data(), kSmall, DType::F32}, 11),
              true);
        track("an allreduce queued behind the batch",
              comm.allreduce(TensorView{reduced.data(), kSmall, DType::F32}), true);
        track("a barrier queued behind it", comm.barrier(), true);
        track("a recv from rank 2 in a later batch",
              comm.recv(TensorView{from_two.data(), kSmall, DType::F32}, 2, 12), true);
        self.world->store().set(fmt::format("posted{}", self.rank), "1");

        for (const Pending& p : pending) {
          Outcome outcome = outcome_of(*p.work);
          if (!p.needs_rank_2) {
            if (!outcome.ok) {
              self.report(fmt::format("{}: completed before the death, then {}", p.what, outcome.describe()));
              return kRankOpFailed;
            }
            continue;
          }
          if (int code = expect_failure(self, p.what, outcome, ErrorCode::PeerFailure); code != kRankOk)
            return code;
          if (int code = expect_names_rank(self, p.what, outcome, 2); code != kRankOk) return code;
        }
        WorkPtr later = comm.send(TensorView{to_other.data(), kSmall, DType::F32}, other, 13);
        Outcome outcome = outcome_of(*later);
        if (int code =
                expect_failure(self, "a send issued after the failure", outcome, ErrorCode::PeerFailure);
            code != kRankOk) {
          return code;
        }
        if (int code = expect_names_rank(self, "a send issued after the failure", outcome, 2);
            code != kRankOk)
          return code;
        // A second completion would come from the progress thread right
        // after the first; give it time to show.
        std::this_thread::sleep_for(milliseconds(200));
        for (const Pending& p : pending) {
          if (int calls = p.calls->load(); calls != 1) {
            self.report(fmt::format("{}: its completion callback ran {} times", p.what, calls));
            return kRankWrongResult;
          }
        }
        return kRankOk;
      },
      failure_options());
  ASSERT_EQ(result.ranks.ranks.size(), 3u);
  EXPECT_EQ(result.ranks.ranks[2].signal, SIGKILL) << result.describe();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(result.ranks.ranks[r].exited && result.ranks.ranks[r].code == 0) << result.describe();
  }
}

// Invalid arguments throw InvalidArgument at the call, naming the argument,
// and leave the communicator usable (nothing was issued).
TEST_P(CollectivesFailure, BadArgumentsAreInvalidArgumentAtTheCall) {
  WorldResult result = run_world(
      layout_for(GetParam(), 2),
      [&](Rank& self) {
        Communicator& comm = *self.comm;
        const int n = comm.size();
        std::vector<float> a(8, 1.0f);
        std::vector<float> b(16, 1.0f);
        std::vector<int32_t> ints(8, 1);
        const TensorView a4{a.data(), 4, DType::F32};
        const TensorView b8{b.data(), 8, DType::F32};
        TensorView on_gpu = a4;
        on_gpu.device = Device::cuda(0);
        const uint64_t mine = 4;
        struct BadCall {
          std::string what;
          std::function<void()> call;
          std::string names;  // the message must contain this
        };
        const std::vector<BadCall> calls = {
            {"allreduce of a null buffer",
             [&] {
               comm.allreduce(TensorView{nullptr, 4, DType::F32});
             },
             "null"},
            {"allreduce to a null output",
             [&] {
               comm.allreduce(a4, TensorView{nullptr, 4, DType::F32});
             },
             "output"},
            {"allreduce of f32 into i32",
             [&] {
               comm.allreduce(a4, TensorView{ints.data(), 4, DType::I32});
             },
             "i32"},
            {"allreduce avg of i32",
             [&] {
               comm.allreduce(TensorView{ints.data(), 4, DType::I32},
                              allreduce_options(milliseconds(0), ReduceOp::Avg));
             },
             "avg"},
            {"allreduce band of f32",
             [&] { comm.allreduce(a4, allreduce_options(milliseconds(0), ReduceOp::Band)); },
             "band is a bitwise reduction and needs an integer type (i8, u8, i16, i32, i64), got f32"},
            {"reduce bxor of f32",
             [&] { comm.reduce(a4, a4, ReduceOptions{.op = ReduceOp::Bxor, .root = 0}); }, "bxor"},
            {"reduce_scatter bor of f32",
             [&] { comm.reduce_scatter(b8, a4, ReduceScatterOptions{.op = ReduceOp::Bor}); }, "f32"},
            {"broadcast to root n", [&] { comm.broadcast(a4, root_options(n)); }, "root"},
            {"broadcast to root -1", [&] { comm.broadcast(a4, root_options(-1)); }, "root"},
            {"reduce to root n", [&] { comm.reduce(a4, a4, reduce_options(n)); }, "root"},
            {"gather to root n", [&] { comm.gather(a4, b8, root_options(n)); }, "root"},
            {"scatter from root n", [&] { comm.scatter(b8, a4, root_options(n)); }, "root"},
            {"allgather into a short output",
             [&] {
               comm.allgather(a4, TensorView{b.data(), 7, DType::F32});
             },
             "output"},
            {"allgatherv with too few counts", [&] { comm.allgatherv(a4, b8, {mine}); }, "counts"},
            {"allgatherv whose counts miss this rank's input",
             [&] {
               comm.allgatherv(a4, b8,
                               self.rank == 0 ? std::vector<uint64_t>{3, 5} : std::vector<uint64_t>{5, 3});
             },
             "counts"},
            {"reduce_scatterv with counts not adding up",
             [&] {
               comm.reduce_scatterv(b8, a4, {4, 5});
             },
             "counts"},
            {"alltoallv with send_counts not adding up",
             [&] {
               comm.alltoallv(b8, b8, {4, 3}, {4, 4});
             },
             "send_counts"},
            {"alltoallv with recv_counts not adding up",
             [&] {
               comm.alltoallv(b8, b8, {4, 4}, {4, 5});
             },
             "recv_counts"},
            {"send to this rank", [&] { comm.send(a4, self.rank); }, "peer"},
            {"recv from rank n", [&] { comm.recv(a4, n); }, "peer"},
            {"allreduce of cuda:0 memory", [&] { comm.allreduce(on_gpu); }, "cuda:0"},
            {"broadcast of cuda:0 memory", [&] { comm.broadcast(on_gpu); }, "cuda:0"},
        };
        for (const BadCall& bad : calls) {
          if (int code = expect_failure(self, bad.what, outcome_of_call(bad.call), ErrorCode::InvalidArgument,
                                        {bad.names});
              code != kRankOk) {
            return code;
          }
        }
        // Nothing was issued: the ranks are still in step.
        std::vector<float> ones(5, 1.0f);
        Outcome good = outcome_of(*comm.allreduce(TensorView{ones.data(), ones.size(), DType::F32}));
        if (!good.ok || ones[0] != static_cast<float>(n)) {
          self.report(fmt::format("allreduce after the bad calls: {}, value {}", good.describe(), ones[0]));
          return kRankOpFailed;
        }
        return kRankOk;
      },
      failure_options());
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

INSTANTIATE_TEST_SUITE_P(Transports, CollectivesFailure, ::testing::Values("shm", "tcp"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace myriad::test
