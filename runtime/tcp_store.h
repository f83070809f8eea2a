// TcpStore: the client of a TcpStoreServer, and the server itself.
//
// Wire format: docs/store-protocol.md (length-prefixed binary frames with a
// protocol version). A connection's first frame must be AUTH with the job's
// token, compared by the server in constant time; anything else first, a
// wrong token, garbage, an oversized frame (over max_auth_frame_bytes before
// AUTH), a frame left half-written past the frame timeout, a reply left
// unread past the reply timeout, or unauthenticated input beyond the
// server-wide budget drops that one connection (logged) while the server
// goes on serving every other client. Replies to GET share the stored value
// instead of copying it, so a client that does not read costs the server
// no more than its connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "runtime/config.h"
#include "runtime/net.h"
#include "runtime/store.h"

namespace myriad {

namespace store_protocol {
struct Frame;
}

inline constexpr uint32_t kStoreMaxFrameBytes = 64u << 20;  // a value or key list up to 64 MiB
// Before its token is checked a connection may send one AUTH frame of this
// much (a token is 64 hex digits), and every connection not yet
// authenticated together may hold this much of the server's memory.
inline constexpr uint32_t kStoreMaxAuthFrameBytes = 4096;
inline constexpr size_t kStoreUnauthenticatedBudget = size_t{16} << 20;
inline constexpr std::chrono::milliseconds kStoreDefaultTimeout{300'000};
inline constexpr std::chrono::milliseconds kStoreDefaultConnectTimeout{60'000};
inline constexpr std::chrono::milliseconds kStoreAuthTimeout{10'000};
inline constexpr std::chrono::milliseconds kStoreFrameTimeout{30'000};
inline constexpr std::chrono::milliseconds kStoreReplyTimeout{30'000};

struct TcpStoreServerOptions {
  std::string host = "127.0.0.1";  // address to bind; "0.0.0.0" for every interface
  uint16_t port = 0;               // 0: the operating system picks a free port
  std::string token;               // the job token every client must present
  uint32_t max_frame_bytes = kStoreMaxFrameBytes;
  uint32_t max_auth_frame_bytes = kStoreMaxAuthFrameBytes;       // the frame before the token is checked
  size_t unauthenticated_budget = kStoreUnauthenticatedBudget;   // input held for all unauthenticated clients
  std::chrono::milliseconds auth_timeout = kStoreAuthTimeout;    // to present the token
  std::chrono::milliseconds frame_timeout = kStoreFrameTimeout;  // to finish a started frame
  std::chrono::milliseconds reply_timeout = kStoreReplyTimeout;  // to read some of a pending reply
};

// Serves the store on one event-loop thread (epoll). Construction binds and
// starts serving (and raises this process's open-file limit to its hard
// limit, one descriptor per client); it throws Error(Io) when the address
// cannot be bound. The destructor (or stop()) closes every connection, which
// wakes every client blocked on this server, and joins the thread. Waiters
// blocked in get/wait are answered with a timeout when their deadline
// passes. Each dropped connection is logged (warn) with the peer's address
// and the reason. The public methods are thread-safe.
class TcpStoreServer {
 public:
  explicit TcpStoreServer(TcpStoreServerOptions options);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  uint16_t port() const;
  // "host:port" as bound.
  std::string address() const;
  // Stops serving; idempotent.
  void stop();

  // Live connections, and connections the server dropped: for a protocol
  // violation (wrong token, garbage, oversized or half-written frame, no
  // AUTH in time) or because the client vanished with a request pending.
  size_t num_clients() const;
  uint64_t num_dropped() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

struct TcpStoreOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;
  std::chrono::milliseconds timeout = kStoreDefaultTimeout;  // default for blocking calls
  std::chrono::milliseconds connect_timeout = kStoreDefaultConnectTimeout;

  // From MYRIAD_STORE (or MASTER_ADDR/MASTER_PORT), MYRIAD_TOKEN,
  // MYRIAD_TIMEOUT and MYRIAD_STORE_CONNECT_TIMEOUT.
  static TcpStoreOptions from_env(const Env& env);
};

// A client with one connection. It connects lazily, retrying until
// connect_timeout (then Error(Unavailable) naming the address), and
// reconnects when it finds the connection dropped (a restarted server);
// an operation whose reply was lost is retried once only when repeating it
// is harmless (every operation but add; a lost add is Error(PeerFailure)).
// A rejected token is Error(InvalidArgument) "store at X rejected the token".
// A server that does not reply within the timeout (plus the wait's own
// timeout for get/wait) is Error(Timeout); the connection is then closed,
// since a late reply would be taken for the next request's.
// Thread-safe: calls are serialized on the one connection by a mutex.
class TcpStore : public Store {
 public:
  explicit TcpStore(TcpStoreOptions options);
  ~TcpStore() override;

  void set(std::string_view key, std::string_view value) override;
  std::string get(std::string_view key, std::chrono::milliseconds timeout) override;
  using Store::get;
  int64_t add(std::string_view key, int64_t delta) override;
  std::string compare_set(std::string_view key, std::string_view expected, std::string_view desired) override;
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;
  using Store::wait;
  bool check(const std::vector<std::string>& keys) override;
  bool delete_key(std::string_view key) override;
  int64_t delete_prefix(std::string_view prefix) override;
  int64_t num_keys() override;
  std::chrono::milliseconds timeout() const override { return options_.timeout; }
  std::string address() const override;

 private:
  class Connection;
  // Sends `request` and returns the reply (Ok or Timeout); an Error reply is
  // thrown. `op` and `keys` name the request in errors. Caller must not hold
  // mutex_.
  store_protocol::Frame call(std::string_view op, std::string_view keys, const std::string& request,
                             std::chrono::milliseconds reply_wait, bool idempotent);
  // The live connection, connecting (and authenticating) when there is none
  // or the server closed it. Requires mutex_.
  Connection& connected();

  TcpStoreOptions options_;
  std::mutex mutex_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace myriad
