// TcpTransport: moves messages between ranks of different nodes over TCP.
// Framing, connection set-up and failure detection: docs/transports.md.
//
// One connection per peer pair: the lower rank connects to the higher one,
// and both sides send a hello (rank, world size, comm id) that the other
// verifies before the connection carries frames. Sockets are non-blocking
// with TCP_NODELAY; one epoll set watches them (edge-triggered), and
// wait_for_activity() is epoll_wait. A receive reads into a per-connection
// staging buffer and hands each piece to its Consumer straight from there;
// a send is one gathered sendmsg of the frame header and the caller's bytes
// (several queued messages go out in one call).
//
// Lifecycle: the constructor binds the listening socket (bind_host, an
// ephemeral port); address() is "host:port". connect() reaches every peer
// and closes the listener. close() sends a goodbye frame where the stream
// is at a frame boundary, and closes every socket.
//
// Failure: a reset or closed connection fails the transport as soon as a
// pending or later request needs that peer (bytes that arrived before the
// close are still delivered); a malformed frame or a received abort frame
// fails it at once. abort() finishes the frame in flight on each connection
// (bounded by kTcpAbortFlush), sends an abort frame with the reason, and
// fails. Errors are sticky (sticky_failure.h). An abort frame queued behind
// a message that the peer has not posted a receive for is read when the
// peer posts that receive.
//
// Thread-safety: as Transport: one driving thread; abort() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectives/native/sticky_failure.h"
#include "collectives/native/tcp_frame.h"
#include "collectives/native/transport.h"
#include "runtime/net.h"

namespace myriad {

// Staging buffer per connection: the largest piece one recv() returns and a
// Consumer sees. Measured with transport_bench
// (docs/BENCHMARKS.md).
inline constexpr size_t kTcpStagingBytes = 256 << 10;
// SO_SNDBUF/SO_RCVBUF asked for each connection; 0 keeps the kernel's
// autotuning. Measured with transport_bench (docs/BENCHMARKS.md).
inline constexpr int kTcpSocketBufferBytes = 0;
// At most this many bytes leave per connection per progress() call, so one
// large send cannot starve the other connections of the driving thread.
inline constexpr size_t kTcpSendBudgetBytes = 4 << 20;
// Longest time abort() spends pushing the frame in flight and the abort
// frame into each socket: it must not block for long, and a peer that does
// not read sees the closed connection instead.
inline constexpr std::chrono::milliseconds kTcpAbortFlush{100};
// Time an accepted connection gets to present its hello, so that a stray
// client cannot hold connect() up.
inline constexpr std::chrono::milliseconds kTcpHelloTimeout{10'000};

struct TcpConfig {
  size_t staging_bytes = kTcpStagingBytes;
  int socket_buffer_bytes = kTcpSocketBufferBytes;
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(TransportOptions options, TcpConfig config = {});
  ~TcpTransport() override;

  std::string_view name() const override { return "tcp"; }
  std::string address() const override { return address_; }
  void connect(const std::vector<int>& peers, const std::vector<std::string>& addresses,
               std::chrono::steady_clock::time_point deadline) override;

  void post(SendRequest* request) override;
  void post(RecvRequest* request) override;
  std::optional<MessageHeader> probe(int rank) override;
  bool finished(int rank) override;
  bool progress() override;
  void wait_for_activity(std::chrono::microseconds timeout) override;
  void abort(const Error& reason) override;
  void close() override;

 private:
  struct Outgoing {
    SendRequest* request;
    FrameHeader header;
  };
  struct Connection {
    int rank = -1;
    Socket socket;
    // Sending (guarded by tx_mutex_).
    std::deque<Outgoing> sends;
    size_t sent = 0;  // bytes of sends.front()'s frame (header included) written
    bool writable = true;
    // Receiving.
    std::deque<RecvRequest*> recvs;
    std::unique_ptr<char[]> staging;
    size_t begin = 0, end = 0;  // unparsed bytes in staging
    uint64_t payload_left = 0;  // of the Data frame being delivered to recvs.front()
    bool in_payload = false;
    bool readable = true;
    bool hung_up = false;  // epoll reported EPOLLRDHUP/HUP/ERR: the end of stream is coming
    bool closed = false;   // EOF or reset: nothing more will arrive
    bool reset = false;    // the peer reset the connection
    bool goodbye = false;  // the peer closed its transport on purpose
  };

  void connect_peers(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                     std::chrono::steady_clock::time_point deadline);
  void exchange_hello(Connection& connection, bool speak_first,
                      std::chrono::steady_clock::time_point deadline);
  Connection& connection_of(int rank, const char* what);
  void harvest_events(std::chrono::microseconds timeout);
  bool flush(Connection& connection);
  bool receive(Connection& connection);
  bool parse(Connection& connection);
  void check_closed(Connection& connection);
  [[noreturn]] void fail_peer(Connection& connection, const std::string& what);
  // abort(): pushes `data` into the socket before `deadline`; false if not.
  bool push_until(int fd, const char* data, size_t bytes, std::chrono::steady_clock::time_point deadline);

  TransportOptions options_;
  TcpConfig config_;
  ListeningSocket listener_;
  std::string address_;
  Socket epoll_;
  Socket wakeup_;  // eventfd: abort() on another thread wakes epoll_wait
  std::vector<Connection> connections_;
  std::vector<int> connection_index_;  // by global rank; -1 when not a peer
  StickyFailure failure_;
  // Guards every Connection's sending state and socket between the driving
  // thread and abort() on another thread.
  std::mutex tx_mutex_;
  bool abort_sent_ = false;
  bool closed_ = false;
};

}  // namespace myriad
