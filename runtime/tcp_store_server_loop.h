// The event loop behind TcpStoreServer: private to the server's two source
// files (tcp_store_server.cc: sockets, timers, lifecycle;
// tcp_store_server_requests.cc: frames, requests, waits). Not for other code.
//
// One event-loop thread (epoll, level-triggered) owns the table, every
// connection and every pending wait, so the store's state needs no lock. The loop blocks in epoll_wait until
// a socket is ready, the nearest deadline (auth, half-written frame, waiting get/wait) passes, or stop()
// writes to an eventfd.
//
// Connection lifecycle: accepted -> AUTH within auth_timeout -> requests, one
// at a time (a client sends its next request after the reply to the last).
// A get/wait whose keys are missing parks the connection as a waiter until
// the keys are set or its deadline passes; frames that arrive meanwhile are
// buffered and handled afterwards. Closing a connection is deferred to the
// end of the event batch so that no handler ever touches a freed client.
//
// Thread-safety: every member but stop() and the counters runs on the loop
// thread only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/error.h"
#include "runtime/net.h"
#include "runtime/store_protocol.h"
#include "runtime/store_table.h"
#include "runtime/tcp_store.h"

namespace myriad {
namespace store_server {

namespace proto = store_protocol;

inline constexpr size_t kReadChunk = size_t{64} * 1024;
inline constexpr uint64_t kListenId = 0;
inline constexpr uint64_t kWakeId = 1;
inline constexpr uint64_t kFirstClientId = 2;
inline constexpr Deadline kNever = Deadline::max();

enum TimerKind : uint8_t { kAuthTimer, kFrameTimer, kWaitTimer, kReplyTimer, kTimerKinds };

// One reply, or part of one: bytes the server built, or a stored value it
// shares with the table (sent as it was when the reply was made).
struct OutChunk {
  std::string bytes;
  std::shared_ptr<const std::string> shared;
  std::string_view view() const { return shared ? std::string_view(*shared) : std::string_view(bytes); }
};

// What a request is answered with: a frame, and for GET the stored value
// that completes it (Writer::str_header).
struct Reply {
  std::string frame;
  std::shared_ptr<const std::string> value;
};

inline std::string error_frame(ErrorCode code, std::string_view message) {
  return proto::Writer(proto::Op::Error).u8(static_cast<uint8_t>(code)).str(message).finish();
}

struct Client {
  uint64_t id = 0;
  Socket socket;
  std::string peer;
  bool authed = false;
  bool closed = false;
  bool want_write = false;   // EPOLLOUT is registered
  std::string in;            // bytes received, not yet handled
  size_t charged = 0;        // bytes of `in` counted against the unauthenticated budget
  std::deque<OutChunk> out;  // reply bytes not yet sent, from out_pos of the front
  size_t out_pos = 0;
  std::array<Deadline, kTimerKinds> deadlines{kNever, kNever, kNever, kNever};
  // The pending get/wait, if any. It is registered on one missing key at a
  // time (wait_on), so a WAIT on many keys costs one index entry.
  bool waiting = false;
  proto::Op wait_op = proto::Op::Wait;
  std::vector<std::string> wait_keys;
  std::string wait_on;
  size_t wait_next = 0;  // wait_keys before this were set when last looked at
  std::chrono::milliseconds wait_timeout{0};

  bool out_empty() const { return out.empty(); }
};

}  // namespace store_server

class TcpStoreServer::Loop {
  using Client = store_server::Client;
  using TimerKind = store_server::TimerKind;
  using Op = store_protocol::Op;

 public:
  explicit Loop(TcpStoreServerOptions options);
  ~Loop() { stop(); }

  void stop();
  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }
  size_t num_clients() const { return num_clients_.load(); }
  uint64_t num_dropped() const { return num_dropped_.load(); }

 private:
  void run();
  void accept_clients();
  void shed_connection();
  // The most input c may hold: one frame, and before AUTH one AUTH frame.
  size_t input_limit(const Client& c) const;
  void on_readable(Client& c);
  void on_writable(Client& c);
  void on_peer_closed(Client& c, std::string_view how);
  void process_frames(Client& c);
  void handle(Client& c, uint8_t op, std::string_view body);
  std::optional<store_server::Reply> execute(Client& c, Op op, store_protocol::Reader& r);
  void reply(Client& c, store_server::Reply reply);
  // Brings the unauthenticated budget up to date with c.in; false (and c
  // dropped) when the budget is spent.
  bool charge(Client& c);
  void flush(Client& c);
  void set_write_interest(Client& c, bool want);
  void drop(Client& c, std::string_view reason, ErrorCode code);
  void close_client(Client& c);
  void start_wait(Client& c, Op op, std::vector<std::string> keys, std::chrono::milliseconds timeout);
  // Registers c on its next missing key; false when every key is set.
  bool register_waiter(Client& c);
  void clear_wait(Client& c);
  void finish_wait(Client& c);
  void wake(const std::string& key);
  void arm(Client& c, TimerKind kind, Deadline deadline);
  void disarm(Client& c, TimerKind kind) { arm(c, kind, store_server::kNever); }
  void expire_timers();
  int epoll_timeout_ms() const;
  Client* find(uint64_t id);

  const TcpStoreServerOptions options_;
  ListeningSocket listener_;
  uint16_t port_ = 0;
  std::string address_;
  Socket epoll_;
  Socket wake_;   // eventfd written by stop()
  Socket spare_;  // released to accept-and-close a client when descriptors run out
  StoreTable table_;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients_;
  std::unordered_map<std::string, std::unordered_set<uint64_t>> waiters_;  // key -> waiting clients
  std::set<std::tuple<Deadline, uint64_t, TimerKind>> timers_;
  std::vector<uint64_t> ready_;      // clients whose wait ended: handle their buffered frames
  std::vector<uint64_t> graveyard_;  // clients closed in this batch, freed at its end
  std::vector<char> read_buffer_ = std::vector<char>(store_server::kReadChunk);
  size_t unauthenticated_bytes_ = 0;  // sum of `charged` over every client
  uint64_t next_id_ = store_server::kFirstClientId;
  std::atomic<size_t> num_clients_{0};
  std::atomic<uint64_t> num_dropped_{0};
  std::mutex stop_mutex_;
  std::thread thread_;
};

}  // namespace myriad
