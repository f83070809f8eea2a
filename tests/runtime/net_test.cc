// The socket helpers: deadlines, connect/listen, bounded reads and writes.
#include "runtime/net.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "runtime/error.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kPatience = 20s;

// The code of the Error that body throws; Internal when it throws none.
template <typename Body>
ErrorCode error_of_code(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a myriad::Error";
  return ErrorCode::Internal;
}

TEST(NetTest, DeadlineAfterSaturates) {
  auto before = std::chrono::steady_clock::now();
  Deadline past = deadline_after(-1s);
  Deadline far = deadline_after(std::chrono::milliseconds::max());
  EXPECT_GE(past, before);
  EXPECT_LE(past, std::chrono::steady_clock::now());
  EXPECT_GT(far, before + std::chrono::hours(24 * 365));
}

TEST(NetTest, SocketIsMoveOnlyAndCloses) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Socket a(fds[0]);
  Socket b(fds[1]);
  Socket moved = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the moved-from state is the subject
  EXPECT_EQ(moved.fd(), fds[0]);
  moved.close();
  EXPECT_FALSE(moved.valid());
  char byte;
  EXPECT_EQ(error_of_code([&] { read_full(b.fd(), &byte, 1, deadline_after(kPatience), "read"); }),
            ErrorCode::PeerFailure);
}

TEST(NetTest, ListenConnectReadWrite) {
  ListeningSocket listener = listen_tcp("127.0.0.1", 0, 8);
  ASSERT_NE(listener.port, 0);
  Socket client = connect_tcp(HostPort{"127.0.0.1", listener.port}, deadline_after(kPatience));
  Socket server(::accept(listener.socket.fd(), nullptr, nullptr));
  ASSERT_TRUE(server.valid());
  EXPECT_NE(peer_address(server.fd()).find("127.0.0.1:"), std::string::npos);
  std::string big(4 << 20, 'z');  // larger than the socket buffers: exercises partial writes
  std::string received(big.size(), '\0');
  std::thread reader(
      [&] { read_full(server.fd(), received.data(), received.size(), deadline_after(kPatience), "read"); });
  write_full(client.fd(), big.data(), big.size(), deadline_after(kPatience), "write");
  reader.join();
  EXPECT_EQ(received, big);
  EXPECT_FALSE(peer_closed_or_spoke(client.fd()));
  server.close();
  EXPECT_TRUE(peer_closed_or_spoke(client.fd()));
}

TEST(NetTest, ReadTimesOut) {
  ListeningSocket listener = listen_tcp("127.0.0.1", 0, 8);
  Socket client = connect_tcp(HostPort{"127.0.0.1", listener.port}, deadline_after(kPatience));
  char byte;
  EXPECT_EQ(error_of_code([&] { read_full(client.fd(), &byte, 1, deadline_after(20ms), "read"); }),
            ErrorCode::Timeout);
}

TEST(NetTest, ConnectToAClosedPortIsUnavailable) {
  uint16_t port;
  { port = listen_tcp("127.0.0.1", 0, 1).port; }
  EXPECT_EQ(error_of_code([&] {
              connect_tcp(HostPort{"127.0.0.1", port}, deadline_after(kPatience));
            }),
            ErrorCode::Unavailable);
}

TEST(NetTest, RaiseFdLimitReachesTheHardLimit) {
  uint64_t limit = raise_fd_limit();
  EXPECT_GT(limit, 0u);
  EXPECT_EQ(raise_fd_limit(), limit);
}

}  // namespace
}  // namespace myriad
