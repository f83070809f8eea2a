// What only the tcp transport promises: the hello is verified, and a stray
// client on the listening port does not stop the peers from connecting.
#include <gtest/gtest.h>

#include <thread>

#include "tests/collectives/transport_test_util.h"

namespace myriad::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(TcpTransportTest, HelloOfAnotherCommunicatorIsRefused) {
  TransportOptions a = options_for(0, 2, "r");
  TransportOptions b = options_for(1, 2, "r");
  b.comm_id = "other";
  TcpTransport ta(a), tb(b);
  const std::vector<std::string> addresses{ta.address(), tb.address()};
  const auto deadline = Clock::now() + std::chrono::milliseconds(300);
  std::string error_b;
  std::thread thread_b([&] {
    try {
      tb.connect({0}, addresses, deadline);
    } catch (const Error& error) {
      error_b = error.what();
    }
  });
  std::string error_a;
  try {
    ta.connect({1}, addresses, deadline);
  } catch (const Error& error) {
    error_a = error.what();
  }
  thread_b.join();
  EXPECT_NE(error_a, "") << "rank 0 connected to a peer of another communicator";
  EXPECT_NE(error_b.find("timed out"), std::string::npos) << error_b;
}

TEST(TcpTransportTest, StrayClientDoesNotStopTheConnect) {
  TcpTransport t0(options_for(0, 2, "r")), t1(options_for(1, 2, "r"));
  const std::vector<std::string> addresses{t0.address(), t1.address()};
  // Garbage to rank 1's port before rank 0 connects.
  Socket stray = connect_tcp(parse_host_port(t1.address(), "test"), Clock::now() + std::chrono::seconds(5));
  const char garbage[] = "GET / HTTP/1.0\r\n\r\n-----------------------------";
  write_full(stray.fd(), garbage, sizeof(garbage), Clock::now() + std::chrono::seconds(5), "stray");
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::thread thread1([&] { t1.connect({0}, addresses, deadline); });
  t0.connect({1}, addresses, deadline);
  thread1.join();

  const uint64_t value = 0x1122334455667788;
  SendRequest send = send_request(1, &value, sizeof(value), 5);
  uint64_t got = 0;
  RecvRequest recv = recv_request(0, sizeof(got), 5, [&](uint64_t offset, const void* data, size_t n) {
    std::memcpy(reinterpret_cast<char*>(&got) + offset, data, n);
  });
  t0.post(&send);
  t1.post(&recv);
  const auto end = Clock::now() + std::chrono::seconds(20);
  while (!(send.complete && recv.complete) && Clock::now() < end) {
    t0.progress();
    t1.progress();
  }
  EXPECT_TRUE(send.complete && recv.complete);
  EXPECT_EQ(got, value);
}

}  // namespace
}  // namespace myriad::testing
