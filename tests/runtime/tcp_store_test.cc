// TcpStoreServer and TcpStore beyond the Store contract: bad clients (each
// dropped and counted while the server goes on serving), 1,024 clients at
// once, reconnection after a restart, the retry policy for lost replies,
// and the wire format's encoder and decoder.
#include "runtime/tcp_store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/store_protocol.h"
#include "tests/harness/error_of.h"

namespace myriad {
namespace {

namespace proto = store_protocol;
using namespace std::chrono_literals;

constexpr std::string_view kToken = "tcp-store-test-token";
// Caps on how long a test waits for something that must happen; reaching
// one is a failure, never a measurement.
constexpr std::chrono::milliseconds kPatience = 20s;
// Short server-side limits so that the bad-client tests run quickly.
constexpr std::chrono::milliseconds kTestAuthTimeout = 300ms;
constexpr std::chrono::milliseconds kTestFrameTimeout = 300ms;
constexpr uint32_t kTestMaxFrameBytes = 4096;
constexpr uint32_t kTestMaxAuthFrameBytes = 256;

TcpStoreServerOptions server_options(uint16_t port = 0) {
  return TcpStoreServerOptions{.port = port,
                               .token = std::string(kToken),
                               .max_frame_bytes = kTestMaxFrameBytes,
                               .max_auth_frame_bytes = kTestMaxAuthFrameBytes,
                               .auth_timeout = kTestAuthTimeout,
                               .frame_timeout = kTestFrameTimeout};
}

TcpStoreOptions client_options(uint16_t port, std::string token = std::string(kToken)) {
  return TcpStoreOptions{
      .port = port, .token = std::move(token), .timeout = kPatience, .connect_timeout = kPatience};
}

using test::error_of;

// A hand-driven connection, for speaking the protocol wrongly on purpose.
class RawClient {
 public:
  explicit RawClient(uint16_t port)
      : socket_(connect_tcp(HostPort{"127.0.0.1", port}, deadline_after(kPatience))) {}

  void send(std::string_view bytes) {
    write_full(socket_.fd(), bytes.data(), bytes.size(), deadline_after(kPatience), "raw send");
  }
  proto::Frame receive() {
    std::array<char, proto::kHeaderBytes> header;
    read_full(socket_.fd(), header.data(), header.size(), deadline_after(kPatience), "raw receive");
    proto::Header h = proto::decode_header(header);
    proto::Frame frame{h.op, std::string(h.body_bytes, '\0')};
    read_full(socket_.fd(), frame.body.data(), frame.body.size(), deadline_after(kPatience), "raw receive");
    return frame;
  }
  void authenticate(std::string_view token = kToken) {
    send(proto::Writer(proto::Op::Auth).str(token).finish());
    ASSERT_EQ(receive().op, static_cast<uint8_t>(proto::Op::Ok));
  }
  // True once the server has closed the connection (anything it sent
  // before closing is skipped); false if it is still open at kPatience.
  bool closed_by_server() {
    Deadline deadline = deadline_after(kPatience);
    std::array<char, 256> sink;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{socket_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(socket_.fd(), sink.data(), sink.size(), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  }
  void close() { socket_.close(); }
  // Whether the server has sent something not yet read, within `patience`.
  bool readable(std::chrono::milliseconds patience = kPatience) {
    pollfd p{socket_.fd(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(patience.count())) == 1;
  }
  // Reads up to `bytes` of whatever is there; the count read.
  size_t read_some(size_t bytes) {
    std::string sink(bytes, '\0');
    ssize_t n = ::recv(socket_.fd(), sink.data(), sink.size(), MSG_DONTWAIT);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

 private:
  Socket socket_;
};

bool eventually(const std::function<bool()>& condition) {
  Deadline deadline = deadline_after(kPatience);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The server still serves: a fresh client, and the long-lived one, work.
void expect_serving(TcpStoreServer& server, TcpStore& long_lived) {
  TcpStore fresh(client_options(server.port()));
  fresh.set("alive", "yes");
  EXPECT_EQ(fresh.get("alive"), "yes");
  int64_t served = long_lived.add("served", 1);
  EXPECT_EQ(long_lived.add("served", 0), served);
}

class BadClientTest : public testing::Test {
 protected:
  TcpStoreServer server{server_options()};
  TcpStore good{client_options(server.port())};
  void SetUp() override { good.set("before", "1"); }
};

TEST_F(BadClientTest, WrongTokenIsRejectedWithAClearError) {
  TcpStore intruder(client_options(server.port(), "not-the-token"));
  Error e = error_of([&] { intruder.set("k", "v"); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(e.message().find("rejected the token"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(server.address()), std::string::npos) << e.message();
  EXPECT_EQ(server.num_dropped(), 1u);
  EXPECT_FALSE(good.check({"k"}));
  expect_serving(server, good);
}

TEST_F(BadClientTest, GarbageBytesAreDropped) {
  RawClient raw(server.port());
  raw.send("GET / HTTP/1.1\r\nHost: store\r\n\r\n");
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, GarbageAfterAuthIsDropped) {
  RawClient raw(server.port());
  raw.authenticate();
  raw.send(std::string(64, '\xff'));
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, UnknownVersionAndNonRequestOpcodesAreDropped) {
  std::string frame = proto::Writer(proto::Op::NumKeys).finish();
  frame[2] = static_cast<char>(proto::kVersion + 1);
  RawClient wrong_version(server.port());
  wrong_version.send(frame);
  EXPECT_TRUE(wrong_version.closed_by_server());
  RawClient reply_as_request(server.port());
  reply_as_request.authenticate();
  reply_as_request.send(proto::Writer(proto::Op::Ok).finish());
  EXPECT_TRUE(reply_as_request.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 2; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, OversizedFrameIsDropped) {
  RawClient raw(server.port());
  raw.authenticate();
  std::string header = proto::Writer(proto::Op::Set).finish();
  uint32_t too_big = kTestMaxFrameBytes + 1;
  for (int i = 0; i < 4; ++i) header[4 + i] = static_cast<char>((too_big >> (8 * i)) & 0xff);
  raw.send(header);
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, OversizedValueFromATcpStoreFailsThatCallOnly) {
  TcpStore client(client_options(server.port()));
  EXPECT_THROW(client.set("huge", std::string(2 * kTestMaxFrameBytes, 'x')), Error);
  EXPECT_GE(server.num_dropped(), 1u);
  client.set("small", "ok");  // reconnects
  EXPECT_EQ(client.get("small"), "ok");
  expect_serving(server, good);
}

TEST_F(BadClientTest, HalfWrittenFrameIsDroppedAfterTheFrameTimeout) {
  RawClient raw(server.port());
  raw.authenticate();
  std::string frame = proto::Writer(proto::Op::Set).str("key").str("value").finish();
  raw.send(std::string_view(frame).substr(0, frame.size() - 3));
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  EXPECT_FALSE(good.check({"key"}));
  expect_serving(server, good);
}

TEST_F(BadClientTest, HalfWrittenHeaderIsDroppedAfterTheFrameTimeout) {
  RawClient raw(server.port());
  raw.authenticate();
  raw.send("MY");
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, FrameBeforeAuthIsDroppedWithAnErrorReply) {
  RawClient raw(server.port());
  raw.send(proto::Writer(proto::Op::Set).str("sneaky").str("v").finish());
  proto::Frame reply = raw.receive();
  EXPECT_EQ(reply.op, static_cast<uint8_t>(proto::Op::Error));
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_EQ(server.num_dropped(), 1u);
  EXPECT_FALSE(good.check({"sneaky"}));
  expect_serving(server, good);
}

TEST_F(BadClientTest, SilentClientIsDroppedAfterTheAuthTimeout) {
  RawClient raw(server.port());
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, MalformedBodyIsDropped) {
  RawClient raw(server.port());
  raw.authenticate();
  // A SET whose value length runs past the end of the body.
  raw.send(proto::Writer(proto::Op::Set).str("k").i64(int64_t{1} << 40).finish());
  EXPECT_TRUE(raw.closed_by_server());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  expect_serving(server, good);
}

TEST_F(BadClientTest, ClientVanishingMidWaitIsDropped) {
  RawClient raw(server.port());
  raw.authenticate();
  raw.send(proto::Writer(proto::Op::Wait).keys({"never-set", "nor-this"}).millis(kPatience).finish());
  // Give the server a moment to park the wait; should it read the close in
  // the same batch instead, it drops the client as closed mid-frame.
  std::this_thread::sleep_for(50ms);
  raw.close();
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));
  // Setting the keys it waited for must not touch the departed client.
  good.set("never-set", "1");
  good.set("nor-this", "1");
  expect_serving(server, good);
}

TEST_F(BadClientTest, ClientClosingBetweenRequestsIsNotADrop) {
  {
    TcpStore polite(client_options(server.port()));
    polite.set("k", "v");
  }
  RawClient raw(server.port());
  raw.authenticate();
  raw.close();
  EXPECT_TRUE(eventually([&] { return server.num_clients() == 1; }));
  EXPECT_EQ(server.num_dropped(), 0u);
}

TEST(TcpStoreServerTest, ServesOneThousandTwentyFourClientsAtOnce) {
  constexpr int kClients = 1024;
  // Each client here costs two descriptors (its end and the server's), and
  // the raw waiters below as many again.
  constexpr uint64_t kDescriptorsNeeded = 4 * kClients + 64;
  if (raise_fd_limit() < kDescriptorsNeeded) {
    GTEST_SKIP() << "the open-file hard limit is below " << kDescriptorsNeeded;
  }
  TcpStoreServer server(server_options());
  {
    constexpr int kThreads = 8;
    std::vector<std::unique_ptr<TcpStore>> clients(kClients);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kClients; i += kThreads) {
          clients[i] = std::make_unique<TcpStore>(client_options(server.port()));
          clients[i]->set(fmt::format("client/{}", i), std::to_string(i));
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(server.num_clients(), static_cast<size_t>(kClients));
    for (int i = 0; i < kClients; ++i) clients[i]->add("arrived", 1);
    EXPECT_EQ(clients[0]->get("arrived"), std::to_string(kClients));
    EXPECT_EQ(clients[kClients - 1]->num_keys(), kClients + 1);
  }
  // 1,024 waits pending at once, all answered by one set.
  std::vector<std::unique_ptr<RawClient>> waiters;
  for (int i = 0; i < kClients; ++i) {
    waiters.push_back(std::make_unique<RawClient>(server.port()));
    waiters.back()->authenticate();
    waiters.back()->send(proto::Writer(proto::Op::Get).str("go").millis(kPatience).finish());
  }
  TcpStore starter(client_options(server.port()));
  starter.set("go", "now");
  int answered = 0;
  for (auto& waiter : waiters) {
    proto::Frame reply = waiter->receive();
    proto::Reader r(reply.body);
    if (reply.op == static_cast<uint8_t>(proto::Op::Ok) && r.str() == "now") answered++;
  }
  EXPECT_EQ(answered, kClients);
  EXPECT_EQ(server.num_dropped(), 0u);
}

TEST(TcpStoreServerTest, ClientReconnectsAfterTheServerRestartsOnTheSamePort) {
  auto server = std::make_unique<TcpStoreServer>(server_options());
  uint16_t port = server->port();
  TcpStore client(client_options(port));
  client.set("first-life", "1");
  server.reset();
  server = std::make_unique<TcpStoreServer>(server_options(port));
  client.set("second-life", "2");
  EXPECT_EQ(client.get("second-life"), "2");
  EXPECT_FALSE(client.check({"first-life"}));  // a restarted server starts empty
  EXPECT_EQ(client.add("n", 1), 1);
}

TEST(TcpStoreServerTest, StopWakesABlockedClientAndIsIdempotent) {
  TcpStoreServer server(server_options());
  TcpStoreOptions options = client_options(server.port());
  options.connect_timeout = 200ms;
  TcpStore client(options);
  client.set("k", "v");
  std::atomic<int> code{-1};
  std::thread blocked([&] {
    try {
      client.get("never", kPatience);
    } catch (const Error& e) {
      code = static_cast<int>(e.code());
    }
  });
  std::this_thread::sleep_for(50ms);
  server.stop();
  blocked.join();
  // The get lost its connection, retried once, found no server.
  EXPECT_EQ(code.load(), static_cast<int>(ErrorCode::Unavailable));
  server.stop();
  EXPECT_EQ(server.num_clients(), 0u);
}

TEST(TcpStoreClientTest, UnreachableStoreIsUnavailableNamingTheAddress) {
  uint16_t port;
  {
    ListeningSocket unused = listen_tcp("127.0.0.1", 0, 1);
    port = unused.port;
  }
  TcpStoreOptions options = client_options(port);
  options.connect_timeout = 200ms;
  TcpStore client(options);
  Error e = error_of([&] { client.num_keys(); });
  EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  EXPECT_NE(e.message().find(client.address()), std::string::npos) << e.message();
}

// A server that authenticates every connection, reads one request, counts
// it and hangs up without replying: a reply lost in flight.
class ReplyLosingServer {
 public:
  ReplyLosingServer() : listener_(listen_tcp("127.0.0.1", 0, 16)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ReplyLosingServer() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return listener_.port; }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listener_.socket.fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      Socket connection(::accept(listener_.socket.fd(), nullptr, nullptr));
      if (!connection.valid()) continue;
      try {
        read_frame(connection);  // AUTH
        std::string ok = proto::Writer(proto::Op::Ok).finish();
        write_full(connection.fd(), ok.data(), ok.size(), deadline_after(kPatience), "ok");
        read_frame(connection);
        requests_++;
      } catch (const Error&) {
      }
    }
  }
  static void read_frame(Socket& s) {
    std::array<char, proto::kHeaderBytes> header;
    read_full(s.fd(), header.data(), header.size(), deadline_after(kPatience), "header");
    std::string body(proto::decode_header(header).body_bytes, '\0');
    read_full(s.fd(), body.data(), body.size(), deadline_after(kPatience), "body");
  }

  ListeningSocket listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(TcpStoreClientTest, IdempotentOperationIsRetriedOnceAfterALostReply) {
  ReplyLosingServer server;
  TcpStore client(client_options(server.port()));
  Error e = error_of([&] { client.set("k", "v"); });
  EXPECT_EQ(e.code(), ErrorCode::PeerFailure);
  EXPECT_EQ(server.requests(), 2);
}

TEST(TcpStoreClientTest, AddIsNotRetriedAfterALostReply) {
  ReplyLosingServer server;
  TcpStore client(client_options(server.port()));
  Error e = error_of([&] { client.add("counter", 1); });
  EXPECT_EQ(e.code(), ErrorCode::PeerFailure);
  EXPECT_NE(e.message().find("not retried"), std::string::npos) << e.message();
  EXPECT_EQ(server.requests(), 1);
}

// An AUTH header is the only thing an unauthenticated client can make the
// server hold, and only up to max_auth_frame_bytes: a larger one is refused
// from its header, before a byte of its body is read.
TEST_F(BadClientTest, OversizedAuthFrameIsDroppedFromItsHeader) {
  RawClient raw(server.port());
  std::string header = proto::Writer(proto::Op::Auth).finish();
  uint32_t too_big = kTestMaxAuthFrameBytes + 1;  // still under max_frame_bytes
  for (int i = 0; i < 4; ++i) header[4 + i] = static_cast<char>((too_big >> (8 * i)) & 0xff);
  raw.send(header);
  proto::Frame reply = raw.receive();
  ASSERT_EQ(reply.op, static_cast<uint8_t>(proto::Op::Error));
  proto::Reader r(reply.body);
  EXPECT_EQ(static_cast<ErrorCode>(r.u8()), ErrorCode::InvalidArgument);
  std::string message = r.str();
  EXPECT_NE(message.find("before authenticating"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(kTestMaxAuthFrameBytes)), std::string::npos) << message;
  EXPECT_TRUE(raw.closed_by_server());
  expect_serving(server, good);
}

TEST_F(BadClientTest, DeletePrefixOfNothingIsRefusedAndTheConnectionKept) {
  good.set("job/a", "1");
  Error e = error_of([&] { good.delete_prefix(""); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(good.get("job/a"), "1");
  EXPECT_EQ(server.num_dropped(), 0u);
}

// Unauthenticated clients together hold at most the budget: the one whose
// bytes would pass it is dropped, and those within it still authenticate.
TEST(TcpStoreServerTest, UnauthenticatedInputIsHeldWithinTheServersBudget) {
  std::string auth = proto::Writer(proto::Op::Auth).str(kToken).finish();
  constexpr size_t kPart = 20;
  ASSERT_GT(auth.size(), kPart + 4);
  std::string_view first_part = std::string_view(auth).substr(0, kPart);
  // Room for two first parts and the rest of one AUTH; not for three parts.
  TcpStoreServerOptions options = server_options();
  options.unauthenticated_budget = 2 * kPart + (auth.size() - kPart) + 2;
  ASSERT_LT(options.unauthenticated_budget, 3 * kPart);
  options.auth_timeout = kPatience;
  options.frame_timeout = kPatience;
  TcpStoreServer server(options);
  TcpStore good(client_options(server.port()));
  good.add("ordered", 1);  // authenticated before the others hold anything
  std::vector<std::unique_ptr<RawClient>> raws;
  for (int i = 0; i < 3; ++i) {
    raws.push_back(std::make_unique<RawClient>(server.port()));
    raws.back()->send(first_part);
    // A round trip on another connection: the server has read those bytes.
    good.add("ordered", 1);
  }
  EXPECT_TRUE(raws[2]->closed_by_server());
  EXPECT_EQ(server.num_dropped(), 1u);
  // Within the budget, the first two finish their AUTH and are served.
  for (int i = 0; i < 2; ++i) {
    raws[i]->send(std::string_view(auth).substr(first_part.size()));
    proto::Frame ok = raws[i]->receive();
    EXPECT_EQ(ok.op, static_cast<uint8_t>(proto::Op::Ok)) << "client " << i;
  }
  // Authenticated clients no longer count: a new one fits again.
  RawClient late(server.port());
  late.send(first_part);
  good.add("ordered", 1);
  late.send(std::string_view(auth).substr(first_part.size()));
  EXPECT_EQ(late.receive().op, static_cast<uint8_t>(proto::Op::Ok));
  EXPECT_EQ(server.num_dropped(), 1u);
}

size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  ADD_FAILURE() << "no VmRSS in /proc/self/status";
  return 0;
}

TcpStoreServerOptions large_value_options() {
  TcpStoreServerOptions options = server_options();
  options.max_frame_bytes = kStoreMaxFrameBytes;
  options.frame_timeout = kPatience;
  return options;
}

// Replies share the stored value: clients that ask for a large value and
// do not read it cost the server their connections, not a copy each.
TEST(TcpStoreServerTest, UnreadRepliesToALargeGetDoNotCopyTheValue) {
  TcpStoreServer server(large_value_options());
  constexpr size_t kValueBytes = 32u << 20;
  {
    TcpStore writer(client_options(server.port()));
    writer.set("big", std::string(kValueBytes, 'v'));
  }
  std::string get = proto::Writer(proto::Op::Get).str("big").millis(kPatience).finish();
  size_t before = resident_bytes();
  std::vector<std::unique_ptr<RawClient>> readers;
  for (int i = 0; i < 6; ++i) {
    readers.push_back(std::make_unique<RawClient>(server.port()));
    readers.back()->authenticate();
    readers.back()->send(get);
    ASSERT_TRUE(readers.back()->readable()) << "reader " << i << " got no reply";
  }
  const size_t after = resident_bytes();
  const size_t grown = after > before ? after - before : 0;
  EXPECT_LT(grown, size_t{16} << 20) << "six unread replies of a " << kValueBytes << "-byte value";
}

// A client that stops reading its reply is dropped after reply_timeout; one
// that reads slowly but steadily is not.
TEST(TcpStoreServerTest, AClientThatStopsReadingItsReplyIsDropped) {
  TcpStoreServerOptions options = large_value_options();
  options.reply_timeout = 300ms;
  TcpStoreServer server(options);
  TcpStore good(client_options(server.port()));
  good.set("big", std::string(size_t{16} << 20, 'v'));
  std::string get = proto::Writer(proto::Op::Get).str("big").millis(kPatience).finish();

  RawClient stalled(server.port());
  stalled.authenticate();
  stalled.send(get);
  ASSERT_TRUE(stalled.readable());
  EXPECT_TRUE(eventually([&] { return server.num_dropped() == 1; }));

  RawClient slow(server.port());
  slow.authenticate();
  slow.send(proto::Writer(proto::Op::Get).str("big").millis(kPatience).finish());
  size_t expected = proto::kHeaderBytes + 4 + (size_t{16} << 20);  // a u32 length, then the value
  size_t received = 0;
  Deadline deadline = deadline_after(kPatience);
  while (received < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);  // a third of the reply timeout
    while (slow.readable(0ms) && received < expected) received += slow.read_some(256 << 10);
  }
  EXPECT_EQ(received, expected);
  EXPECT_EQ(server.num_dropped(), 1u);
  expect_serving(server, good);
}

// A WAIT on many keys is satisfied however they arrive: out of order, and
// with one set, deleted and set again before the last.
TEST(TcpStoreServerTest, WaitOnManyKeysEndsWhenTheLastIsSetInAnyOrder) {
  TcpStoreServer server(server_options());
  TcpStore setter(client_options(server.port()));
  TcpStore waiter(client_options(server.port()));
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back("k" + std::to_string(i));
  std::atomic<bool> done{false};
  std::thread waiting([&] {
    waiter.wait(keys, kPatience);
    done = true;
  });
  for (int i = 63; i >= 1; --i) setter.set(keys[static_cast<size_t>(i)], "1");
  EXPECT_TRUE(setter.delete_key("k40"));
  setter.set("k0", "1");
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(done) << "the wait ended while k40 was deleted";
  setter.set("k40", "again");
  waiting.join();
  EXPECT_TRUE(done);
}

TEST(StoreProtocolTest, FramesRoundTrip) {
  std::string frame = proto::Writer(proto::Op::Wait)
                          .keys({"a", std::string("b\0c", 3), ""})
                          .millis(1500ms)
                          .i64(-42)
                          .u8(7)
                          .str("tail")
                          .finish();
  proto::Header header = proto::decode_header(std::span<const char, proto::kHeaderBytes>(frame.data(), 8));
  EXPECT_EQ(header.version, proto::kVersion);
  EXPECT_EQ(header.op, static_cast<uint8_t>(proto::Op::Wait));
  ASSERT_EQ(header.body_bytes, frame.size() - proto::kHeaderBytes);
  proto::Reader r(std::string_view(frame).substr(proto::kHeaderBytes));
  EXPECT_EQ(r.keys(), (std::vector<std::string>{"a", std::string("b\0c", 3), ""}));
  EXPECT_EQ(r.millis(), 1500ms);
  EXPECT_EQ(r.i64(), -42);
  EXPECT_EQ(r.u8(), 7);
  EXPECT_EQ(r.str(), "tail");
  EXPECT_NO_THROW(r.end());
}

TEST(StoreProtocolTest, MalformedInputIsCorruption) {
  std::array<char, proto::kHeaderBytes> garbage{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'};
  EXPECT_EQ(error_of([&] { proto::decode_header(garbage); }).code(), ErrorCode::Corruption);
  std::string body = proto::Writer(proto::Op::Set).str("key").finish().substr(proto::kHeaderBytes);
  proto::Reader truncated(std::string_view(body).substr(0, body.size() - 1));
  EXPECT_EQ(error_of([&] { truncated.str(); }).code(), ErrorCode::Corruption);
  std::string body_and_more = body + "x";
  proto::Reader extra(body_and_more);
  extra.str();
  EXPECT_EQ(error_of([&] { extra.end(); }).code(), ErrorCode::Corruption);
  std::string huge_count("\xff\xff\xff\xff", 4);
  proto::Reader keys(huge_count);
  EXPECT_EQ(error_of([&] { keys.keys(); }).code(), ErrorCode::Corruption);
  EXPECT_EQ(proto::op_name(0x7f), "opcode 0x7f");
  EXPECT_FALSE(proto::is_request(static_cast<uint8_t>(proto::Op::Ok)));
}

TEST(StoreProtocolTest, NegativeAndHugeTimeoutsAreClamped) {
  std::string frame =
      proto::Writer(proto::Op::Get).millis(-5ms).millis(std::chrono::milliseconds::max()).finish();
  proto::Reader r(std::string_view(frame).substr(proto::kHeaderBytes));
  EXPECT_EQ(r.millis(), 0ms);
  EXPECT_GT(r.millis(), std::chrono::hours(24 * 365));
}

}  // namespace
}  // namespace myriad
