// TcpStore: the client of a TcpStoreServer, and the server itself.
//
// Wire format: docs/store-protocol.md (length-prefixed binary frames with a
// protocol version). A connection's first frame must be AUTH with the job's
// token, compared by the server in constant time; anything else first, a
// wrong token, garbage, an oversized frame or a frame left half-written past
// the frame timeout drops that one connection (logged) while the server goes
// on serving every other client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/config.h"
#include "runtime/net.h"
#include "runtime/store.h"

namespace myriad {

inline constexpr uint32_t kStoreMaxFrameBytes = 64u << 20;  // a value or key list up to 64 MiB
inline constexpr std::chrono::milliseconds kStoreDefaultTimeout{300'000};
inline constexpr std::chrono::milliseconds kStoreDefaultConnectTimeout{60'000};
inline constexpr std::chrono::milliseconds kStoreAuthTimeout{10'000};
inline constexpr std::chrono::milliseconds kStoreFrameTimeout{30'000};

struct TcpStoreServerOptions {
  std::string host = "127.0.0.1";  // address to bind; "0.0.0.0" for every interface
  uint16_t port = 0;               // 0: the operating system picks a free port
  std::string token;               // the job token every client must present
  uint32_t max_frame_bytes = kStoreMaxFrameBytes;
  std::chrono::milliseconds auth_timeout = kStoreAuthTimeout;    // to present the token
  std::chrono::milliseconds frame_timeout = kStoreFrameTimeout;  // to finish a started frame
};

// Serves the store on one event-loop thread (epoll). Construction binds and
// starts serving; the destructor (or stop()) closes every connection and
// joins the thread. Waiters blocked in get/wait are answered with a timeout
// when their deadline passes. The public methods are thread-safe.
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

  // Live connections, and connections dropped for a protocol violation.
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
// connect_timeout, and reconnects when it finds the connection dropped (a
// restarted server); an operation whose reply was lost is retried only
// when repeating it is harmless (every operation but add).
class TcpStore : public Store {
 public:
  explicit TcpStore(TcpStoreOptions options);
  ~TcpStore() override;

  void set(std::string_view key, std::string_view value) override;
  std::string get(std::string_view key, std::chrono::milliseconds timeout) override;
  using Store::get;
  int64_t add(std::string_view key, int64_t delta) override;
  std::string compare_set(std::string_view key, std::string_view expected,
                          std::string_view desired) override;
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;
  using Store::wait;
  bool check(const std::vector<std::string>& keys) override;
  bool delete_key(std::string_view key) override;
  int64_t num_keys() override;
  std::chrono::milliseconds timeout() const override { return options_.timeout; }
  std::string address() const override;

 private:
  class Connection;
  TcpStoreOptions options_;
  std::mutex mutex_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace myriad
