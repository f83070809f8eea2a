// Transports between real processes: data, ordering, tags, peer death,
// abort and cleanup, for both "shm" and "tcp" (tcp on 127.0.0.1 stands in
// for two nodes). Every rank is a forked process (transport_test_util.h).
#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "tests/collectives/transport_test_util.h"

namespace myriad::testing {
namespace {

// The sizes that find the bugs: empty, tiny, odd, around one fifo cell
// (and one staging buffer), and large and odd.
std::vector<size_t> message_sizes() {
  return {0, 1, 7, kShmSlotBytes - 1, kShmSlotBytes, kShmSlotBytes + 1, (10u << 20) + 3};
}

class TransportTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string kind() const { return GetParam(); }

  void expect_all_ok(const std::vector<int>& statuses) {
    for (size_t i = 0; i < statuses.size(); ++i) {
      EXPECT_TRUE(exited_ok(statuses[i])) << "rank " << i << " wait status " << statuses[i];
    }
  }
};

TEST_P(TransportTest, PingPongEverySize) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    uint64_t seq = 0;
    for (size_t bytes : message_sizes()) {
      const int other = 1 - rank;
      for (int leg = 0; leg < 2; ++leg, ++seq) {
        const bool sending = (leg == 0) == (rank == 0);
        if (sending) {
          const std::vector<uint8_t> data = make_message(rank, other, seq, bytes);
          SendRequest send = send_request(other, data.data(), bytes, seq);
          t->post(&send);
          drive(*t, [&] { return send.complete; });
          REQUIRE(send.done_bytes == bytes);
        } else {
          Collector got;
          got.data.resize(bytes);
          RecvRequest recv = recv_request(other, bytes, seq, got.consumer());
          t->post(&recv);
          drive(*t, [&] { return recv.complete; });
          REQUIRE(!got.out_of_order && got.next == bytes && recv.done_bytes == bytes, "size {}", bytes);
          REQUIRE(got.data == make_message(other, rank, seq, bytes), "data differs at size {}", bytes);
        }
      }
    }
  }));
}

// Every rank sends every size to every other rank at once and receives
// from all of them: exercises full fifos, partial writes and fairness.
TEST_P(TransportTest, AllPairsStreamingEverySize) {
  for (int n = 2; n <= 4; ++n) {
    SCOPED_TRACE(fmt::format("{} ranks", n));
    SharedBoard board;
    const std::string run_id = unique_run_id();
    expect_all_ok(run_ranks(n, [&](int rank) {
      auto t = connect_all(kind(), board.get(), rank, n, run_id);
      const std::vector<size_t> sizes = message_sizes();
      std::deque<std::vector<uint8_t>> payloads;
      std::deque<SendRequest> sends;
      std::deque<Collector> collectors;
      std::deque<RecvRequest> recvs;
      for (int peer = 0; peer < n; ++peer) {
        if (peer == rank) continue;
        for (size_t k = 0; k < sizes.size(); ++k) {
          payloads.push_back(make_message(rank, peer, k, sizes[k]));
          sends.push_back(send_request(peer, payloads.back().data(), sizes[k], k));
          t->post(&sends.back());
          collectors.emplace_back();
          collectors.back().data.resize(sizes[k]);
          recvs.push_back(recv_request(peer, sizes[k], k, collectors.back().consumer()));
          t->post(&recvs.back());
        }
      }
      drive(*t, [&] {
        for (const auto& s : sends)
          if (!s.complete) return false;
        for (const auto& r : recvs)
          if (!r.complete) return false;
        return true;
      });
      size_t i = 0;
      for (int peer = 0; peer < n; ++peer) {
        if (peer == rank) continue;
        for (size_t k = 0; k < sizes.size(); ++k, ++i) {
          REQUIRE(!collectors[i].out_of_order, "from {} size {}", peer, sizes[k]);
          REQUIRE(collectors[i].data == make_message(peer, rank, k, sizes[k]), "from {} size {}", peer,
                  sizes[k]);
        }
      }
      board.get()->barrier(n);  // nobody closes while a peer still reads
    }));
  }
}

TEST_P(TransportTest, ManyMessagesArriveInOrderWithTheirTags) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  constexpr int kMessages = 2000;
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    auto size_of = [](int i) { return static_cast<size_t>((i * 7919) % 3001); };
    if (rank == 0) {
      std::deque<std::vector<uint8_t>> payloads;
      std::deque<SendRequest> sends;
      for (int i = 0; i < kMessages; ++i) {
        payloads.push_back(make_message(0, 1, i, size_of(i)));
        sends.push_back(
            send_request(1, payloads.back().data(), size_of(i), 1000u + static_cast<uint64_t>(i) * 3));
        t->post(&sends.back());
      }
      drive(*t, [&] { return sends.back().complete; });
      for (const auto& s : sends) REQUIRE(s.complete);
    } else {
      std::deque<Collector> collectors;
      std::deque<RecvRequest> recvs;
      for (int i = 0; i < kMessages; ++i) {
        collectors.emplace_back();
        collectors.back().data.resize(size_of(i));
        recvs.push_back(
            recv_request(0, size_of(i), 1000u + static_cast<uint64_t>(i) * 3, collectors.back().consumer()));
        t->post(&recvs.back());
      }
      drive(*t, [&] { return recvs.back().complete; });
      for (int i = 0; i < kMessages; ++i) {
        REQUIRE(recvs[i].complete && !collectors[i].out_of_order, "message {}", i);
        REQUIRE(collectors[i].data == make_message(0, 1, i, size_of(i)), "message {}", i);
      }
    }
    board.get()->barrier(2);
  }));
}

TEST_P(TransportTest, TagMismatchFailsNamingBothTags) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    if (rank == 1) {
      const std::vector<uint8_t> data(100, 1);
      SendRequest send = send_request(0, data.data(), data.size(), 0x5);
      t->post(&send);
      drive(*t, [&] { return send.complete; });
    } else {
      RecvRequest recv = recv_request(1, 100, 0x6);
      t->post(&recv);
      try {
        drive(*t, [&] { return recv.complete; });
        REQUIRE(false, "a mismatched tag was accepted");
      } catch (const Error& error) {
        const std::string what = error.what();
        REQUIRE(error.code() == ErrorCode::PeerFailure, "{}", what);
        REQUIRE(what.find("peer rank 1") != std::string::npos && what.find("0x5") != std::string::npos &&
                    what.find("0x6") != std::string::npos,
                "{}", what);
      }
      // Sticky: the next call throws the same error.
      try {
        t->progress();
        REQUIRE(false, "the failure was not sticky");
      } catch (const Error& error) {
        REQUIRE(std::string(error.what()).find("0x6") != std::string::npos);
      }
    }
    board.get()->barrier(2);
  }));
}

TEST_P(TransportTest, LengthMismatchFails) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    if (rank == 1) {
      const std::vector<uint8_t> data(100, 1);
      SendRequest send = send_request(0, data.data(), data.size(), 9);
      t->post(&send);
      drive(*t, [&] { return send.complete; });
    } else {
      RecvRequest recv = recv_request(1, 99, 9);
      t->post(&recv);
      try {
        drive(*t, [&] { return recv.complete; });
        REQUIRE(false, "a message of another length was accepted");
      } catch (const Error& error) {
        REQUIRE(std::string(error.what()).find("100 bytes") != std::string::npos, "{}", error.what());
      }
    }
    board.get()->barrier(2);
  }));
}

// A peer killed while it streams a message: the survivor's wait fails
// naming it instead of hanging (the parent's timeout catches a hang).
TEST_P(TransportTest, KilledPeerFailsTheSurvivorNamingIt) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  constexpr size_t kBytes = 64u << 20;
  const std::vector<int> statuses = run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    if (rank == 1) {
      const std::vector<uint8_t> data(kBytes, 3);
      SendRequest send = send_request(0, data.data(), kBytes, 77);
      t->post(&send);
      while (send.done_bytes == 0) {
        if (!t->progress()) t->wait_for_activity(std::chrono::milliseconds(1));
      }
      REQUIRE(!send.complete, "the whole message left in one call; the test needs a partial send");
      ::raise(SIGKILL);
    }
    RecvRequest recv = recv_request(1, kBytes, 77);
    t->post(&recv);
    try {
      drive(*t, [&] { return recv.complete; });
      REQUIRE(false, "the receive completed although the sender died");
    } catch (const Error& error) {
      REQUIRE(error.code() == ErrorCode::PeerFailure, "{}", error.what());
      REQUIRE(std::string(error.what()).find("peer rank 1") != std::string::npos, "{}", error.what());
      REQUIRE(std::string(error.what()).find("0x4d") != std::string::npos, "tag named: {}", error.what());
    }
  });
  EXPECT_TRUE(exited_ok(statuses[0])) << statuses[0];
  EXPECT_TRUE(WIFSIGNALED(statuses[1]) && WTERMSIG(statuses[1]) == SIGKILL) << statuses[1];
  EXPECT_TRUE(shm_leftovers(run_id).empty());
}

TEST_P(TransportTest, AbortReasonReachesThePeer) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(3, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 3, run_id);
    if (rank == 2) {
      t->abort(Error(ErrorCode::Timeout, "injected: allreduce seq 12 timed out"));
      try {
        t->progress();
        REQUIRE(false, "an aborted transport went on");
      } catch (const Error& error) {
        REQUIRE(std::string(error.what()).find("injected") != std::string::npos, "{}", error.what());
      }
    } else {
      RecvRequest recv = recv_request(2, 8, 1);
      t->post(&recv);
      try {
        drive(*t, [&] { return recv.complete; });
        REQUIRE(false, "the receive completed although the peer aborted");
      } catch (const Error& error) {
        const std::string what = error.what();
        REQUIRE(error.code() == ErrorCode::PeerFailure, "{}", what);
        REQUIRE(what.find("peer rank 2 aborted") != std::string::npos &&
                    what.find("injected: allreduce seq 12 timed out") != std::string::npos,
                "{}", what);
      }
    }
    board.get()->barrier(3);
  }));
}

// abort() from another thread wakes the driving thread out of its wait
// (the ThreadSanitizer build checks the hand-over).
TEST_P(TransportTest, AbortFromAnotherThreadWakesTheWaiter) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    RecvRequest recv = recv_request(1 - rank, 8, 1);
    t->post(&recv);
    std::thread watchdog;
    if (rank == 0) {
      watchdog = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        t->abort(Error(ErrorCode::Timeout, "watchdog fired"));
      });
    }
    std::string what;
    try {
      drive(*t, [&] { return recv.complete; });
    } catch (const Error& error) {
      what = error.what();
    }
    if (watchdog.joinable()) watchdog.join();
    REQUIRE(what.find("watchdog fired") != std::string::npos, "rank {} got '{}'", rank, what);
    board.get()->barrier(2);
  }));
}

// A peer that sent its last message and closed (or exited) is not a
// failure: what it sent is still delivered; only a request that needs
// more from it fails.
TEST_P(TransportTest, PeerThatClosedAfterSendingIsNotAFailure) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  expect_all_ok(run_ranks(2, [&](int rank) {
    auto t = connect_all(kind(), board.get(), rank, 2, run_id);
    const std::vector<uint8_t> data = make_message(1, 0, 0, 1000);
    if (rank == 1) {
      SendRequest send = send_request(0, data.data(), data.size(), 3);
      t->post(&send);
      drive(*t, [&] { return send.complete; });
      t->close();
      board.get()->barrier(2);
      return;  // the process exits
    }
    board.get()->barrier(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Collector got;
    got.data.resize(data.size());
    RecvRequest recv = recv_request(1, data.size(), 3, got.consumer());
    t->post(&recv);
    drive(*t, [&] { return recv.complete; });
    REQUIRE(got.data == data);
    RecvRequest more = recv_request(1, 1, 4);
    t->post(&more);
    try {
      drive(*t, [&] { return more.complete; });
      REQUIRE(false, "a receive from a closed peer completed");
    } catch (const Error& error) {
      REQUIRE(std::string(error.what()).find("peer rank 1") != std::string::npos, "{}", error.what());
    }
  }));
}

// Regression: a peer that finished an operation and then aborted on its
// next one used to fail the operation it had finished on this rank too,
// though everything it had to send was already here. What it sent before
// aborting is delivered; only a request that needs more from it fails.
// (shm: an abort is a segment state seen at once, beside data still in
// the fifo. A tcp abort frame fails the connection when it is read.)
TEST(ShmTransportAbort, APeerThatAbortedAfterSendingFailsOnlyWhatNeedsIt) {
  SharedBoard board;
  const std::string run_id = unique_run_id();
  const std::vector<int> statuses = run_ranks(3, [&](int rank) {
    auto t = connect_all("shm", board.get(), rank, 3, run_id);
    const std::vector<uint8_t> data = make_message(1, 0, 0, 1000);
    if (rank == 1) {  // finishes its part, then aborts on a later operation
      SendRequest send = send_request(0, data.data(), data.size(), 3);
      t->post(&send);
      drive(*t, [&] { return send.complete; });
      t->abort(Error(ErrorCode::InvalidArgument, "injected: mismatch in the next operation"));
      board.get()->barrier(3);
      board.get()->barrier(3);
      return;
    }
    if (rank == 2) {  // a slow rank whose message rank 0 waits for
      board.get()->barrier(3);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      SendRequest send = send_request(0, data.data(), data.size(), 3);
      t->post(&send);
      drive(*t, [&] { return send.complete; });
      board.get()->barrier(3);
      return;
    }
    board.get()->barrier(3);  // rank 1 has aborted
    Collector from1;
    Collector from2;
    from1.data.resize(data.size());
    from2.data.resize(data.size());
    RecvRequest recv1 = recv_request(1, data.size(), 3, from1.consumer());
    RecvRequest recv2 = recv_request(2, data.size(), 3, from2.consumer());
    t->post(&recv1);
    t->post(&recv2);
    // Waiting for rank 2 checks the peers' states while rank 1 is aborted.
    drive(*t, [&] { return recv1.complete && recv2.complete; });
    REQUIRE(from1.data == data && from2.data == data);
    RecvRequest more = recv_request(1, 1, 4);
    t->post(&more);
    try {
      drive(*t, [&] { return more.complete; });
      REQUIRE(false, "a receive from an aborted peer completed");
    } catch (const Error& error) {
      const std::string what = error.what();
      REQUIRE(error.code() == ErrorCode::PeerFailure, "{}", what);
      REQUIRE(
          what.find("peer rank 1 aborted") != std::string::npos && what.find("injected") != std::string::npos,
          "{}", what);
    }
    board.get()->barrier(3);
  });
  for (size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_TRUE(exited_ok(statuses[i])) << "rank " << i << " wait status " << statuses[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportTest, ::testing::Values("shm", "tcp"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace myriad::testing
