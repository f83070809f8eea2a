// TcpStore, the client: one connection, one request at a time (the mutex),
// each request answered by exactly one reply. See tcp_store.h for the
// contract and docs/store-protocol.md for the frames.
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>

#include "runtime/error.h"
#include "runtime/logging.h"
#include "runtime/store_protocol.h"
#include "runtime/store_table.h"
#include "runtime/tcp_store.h"

namespace myriad {
namespace {

namespace proto = store_protocol;
using Clock = std::chrono::steady_clock;

// A server answers a get/wait at its deadline; the client allows this much
// more for the reply to arrive before it gives up on the server.
constexpr std::chrono::milliseconds kReplyGrace{5'000};
// Requests that do not wait get the store's default timeout for their reply.
constexpr std::chrono::milliseconds kNoWait{0};
// Connection attempts back off from 10 ms to 1 s: quick when the server is
// about to start, gentle on it when thousands of ranks retry together.
constexpr std::chrono::milliseconds kFirstRetryDelay{10};
constexpr std::chrono::milliseconds kMaxRetryDelay{1'000};

std::string quoted(std::string_view key) {
  return fmt::format("'{}'", key);
}

std::string quoted(const std::vector<std::string>& keys) {
  return fmt::format("'{}'", fmt::join(keys, "', '"));
}

ErrorCode wire_error_code(uint8_t code) {
  if (code > static_cast<uint8_t>(ErrorCode::Internal)) return ErrorCode::PeerFailure;
  return static_cast<ErrorCode>(code);
}

}  // namespace

class TcpStore::Connection {
 public:
  explicit Connection(Socket socket) : socket_(std::move(socket)) {}

  bool closed_by_server() const { return peer_closed_or_spoke(socket_.fd()); }

  void send(const std::string& frame, Deadline deadline, std::string_view what) {
    write_full(socket_.fd(), frame.data(), frame.size(), deadline, what);
  }

  proto::Frame receive(Deadline deadline, std::string_view what) {
    std::array<char, proto::kHeaderBytes> header_bytes;
    read_full(socket_.fd(), header_bytes.data(), header_bytes.size(), deadline, what);
    proto::Header header = proto::decode_header(header_bytes);
    if (header.version != proto::kVersion) {
      raise(ErrorCode::Corruption, "{}: the store replied with protocol version {}; this client speaks {}",
            what, header.version, proto::kVersion);
    }
    if (header.body_bytes > kStoreMaxFrameBytes) {
      raise(ErrorCode::Corruption, "{}: reply of {} bytes is over the frame limit of {}", what,
            header.body_bytes, kStoreMaxFrameBytes);
    }
    proto::Frame frame{header.op, std::string(header.body_bytes, '\0')};
    read_full(socket_.fd(), frame.body.data(), frame.body.size(), deadline, what);
    return frame;
  }

 private:
  Socket socket_;
};

TcpStore::TcpStore(TcpStoreOptions options) : options_(std::move(options)) {}

TcpStore::~TcpStore() = default;

std::string TcpStore::address() const {
  return HostPort{options_.host, options_.port}.to_string();
}

TcpStore::Connection& TcpStore::connected() {
  if (connection_ != nullptr) {
    // The server never speaks first: a readable or hung-up socket between
    // requests means it closed the connection (it restarted, or dropped us).
    if (!connection_->closed_by_server()) return *connection_;
    MYRIAD_LOG_DEBUG("store at {} closed the connection; reconnecting", address());
    connection_.reset();
  }
  const HostPort server{options_.host, options_.port};
  const Deadline deadline = deadline_after(options_.connect_timeout);
  std::chrono::milliseconds delay = kFirstRetryDelay;
  std::string reason;
  while (true) {
    try {
      auto connection = std::make_unique<Connection>(connect_tcp(server, deadline));
      std::string what = fmt::format("authenticating to the store at {}", address());
      connection->send(proto::Writer(proto::Op::Auth).str(options_.token).finish(), deadline, what);
      proto::Frame reply = connection->receive(deadline, what);
      if (reply.op == static_cast<uint8_t>(proto::Op::Error)) {
        proto::Reader r(reply.body);
        ErrorCode code = wire_error_code(r.u8());
        std::string message = r.str();
        if (code == ErrorCode::InvalidArgument) {
          raise(ErrorCode::InvalidArgument, "store at {} rejected the token (MYRIAD_TOKEN): {}", address(),
                message);
        }
        raise(ErrorCode::PeerFailure, "store at {} refused the connection: {}", address(), message);
      }
      if (reply.op != static_cast<uint8_t>(proto::Op::Ok)) {
        raise(ErrorCode::Corruption, "store at {} answered AUTH with {}", address(),
              proto::op_name(reply.op));
      }
      connection_ = std::move(connection);
      return *connection_;
    } catch (const Error& e) {
      // Refused, reset or slow: the server may be starting. Anything else
      // (a rejected token, a broken reply) will not get better by retrying.
      if (e.code() != ErrorCode::Unavailable && e.code() != ErrorCode::PeerFailure &&
          e.code() != ErrorCode::Timeout) {
        throw;
      }
      reason = e.message();
    }
    Deadline now = Clock::now();
    if (now >= deadline) {
      raise(ErrorCode::Unavailable, "cannot reach the store at {} within {} ms: {}", address(),
            options_.connect_timeout.count(), reason);
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(delay, deadline - now));
    delay = std::min(delay * 2, kMaxRetryDelay);
  }
}

proto::Frame TcpStore::call(std::string_view op, std::string_view keys, const std::string& request,
                            std::chrono::milliseconds reply_wait, bool idempotent) {
  if (request.size() - proto::kHeaderBytes > kStoreMaxFrameBytes) {
    raise(ErrorCode::InvalidArgument,
          "{} of {} on the store at {}: a request of {} bytes is over the limit of {}", op, keys, address(),
          request.size(), kStoreMaxFrameBytes);
  }
  std::lock_guard lock(mutex_);
  proto::Frame reply;
  for (int attempt = 0;; ++attempt) {
    Connection& connection = connected();
    std::string what = fmt::format("{} of {} on the store at {}", op, keys, address());
    try {
      connection.send(request, deadline_after(options_.timeout), what);
      std::chrono::milliseconds wait = reply_wait > kNoWait ? reply_wait + kReplyGrace : options_.timeout;
      reply = connection.receive(deadline_after(wait), what);
      break;
    } catch (const Error& e) {
      // Whatever went wrong, the stream's position is lost: a late reply
      // would be read as the answer to the next request.
      connection_.reset();
      if (e.code() == ErrorCode::Timeout) {
        raise(ErrorCode::Timeout, "{}: no reply from the store: {}", what, e.message());
      }
      if (e.code() != ErrorCode::PeerFailure && e.code() != ErrorCode::Io) throw;
      if (idempotent && attempt == 0) {
        MYRIAD_LOG_DEBUG("{}: {}; reconnecting and retrying once", what, e.message());
        continue;
      }
      raise(ErrorCode::PeerFailure, "{}: lost the connection{}: {}", what,
            idempotent ? "" : " (not retried: the server may have applied it)", e.message());
    }
  }
  if (reply.op == static_cast<uint8_t>(proto::Op::Error)) {
    // Most ERROR replies come just before the server closes the connection;
    // starting afresh next time spares the next request from meeting that
    // close mid-flight (where a lost add could not be retried).
    connection_.reset();
    proto::Reader r(reply.body);
    ErrorCode code = wire_error_code(r.u8());
    raise(code, "{} of {}: store at {} replied: {}", op, keys, address(), r.str());
  }
  if (reply.op != static_cast<uint8_t>(proto::Op::Ok) &&
      reply.op != static_cast<uint8_t>(proto::Op::Timeout)) {
    connection_.reset();
    raise(ErrorCode::Corruption, "{} of {}: store at {} replied with {}", op, keys, address(),
          proto::op_name(reply.op));
  }
  return reply;
}

void TcpStore::set(std::string_view key, std::string_view value) {
  call("set", quoted(key), proto::Writer(proto::Op::Set).str(key).str(value).finish(), kNoWait, true);
}

std::string TcpStore::get(std::string_view key, std::chrono::milliseconds timeout) {
  proto::Frame reply =
      call("get", quoted(key), proto::Writer(proto::Op::Get).str(key).millis(timeout).finish(),
           std::max(timeout, std::chrono::milliseconds(1)), true);
  proto::Reader r(reply.body);
  if (reply.op == static_cast<uint8_t>(proto::Op::Timeout)) raise_store_timeout(r.keys(), timeout, address());
  std::string value = r.str();
  r.end();
  return value;
}

int64_t TcpStore::add(std::string_view key, int64_t delta) {
  proto::Frame reply =
      call("add", quoted(key), proto::Writer(proto::Op::Add).str(key).i64(delta).finish(), kNoWait, false);
  proto::Reader r(reply.body);
  int64_t value = r.i64();
  r.end();
  return value;
}

std::string TcpStore::compare_set(std::string_view key, std::string_view expected, std::string_view desired) {
  proto::Frame reply =
      call("compare_set", quoted(key),
           proto::Writer(proto::Op::CompareSet).str(key).str(expected).str(desired).finish(), kNoWait, true);
  proto::Reader r(reply.body);
  std::string value = r.str();
  r.end();
  return value;
}

void TcpStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  proto::Frame reply =
      call("wait", quoted(keys), proto::Writer(proto::Op::Wait).keys(keys).millis(timeout).finish(),
           std::max(timeout, std::chrono::milliseconds(1)), true);
  proto::Reader r(reply.body);
  if (reply.op == static_cast<uint8_t>(proto::Op::Timeout)) raise_store_timeout(r.keys(), timeout, address());
  r.end();
}

bool TcpStore::check(const std::vector<std::string>& keys) {
  proto::Frame reply =
      call("check", quoted(keys), proto::Writer(proto::Op::Check).keys(keys).finish(), kNoWait, true);
  proto::Reader r(reply.body);
  bool all_set = r.u8() != 0;
  r.end();
  return all_set;
}

bool TcpStore::delete_key(std::string_view key) {
  proto::Frame reply =
      call("delete_key", quoted(key), proto::Writer(proto::Op::Delete).str(key).finish(), kNoWait, true);
  proto::Reader r(reply.body);
  bool existed = r.u8() != 0;
  r.end();
  return existed;
}

int64_t TcpStore::delete_prefix(std::string_view prefix) {
  check_delete_prefix(prefix, address());
  proto::Frame reply = call("delete_prefix", fmt::format("prefix {}", quoted(prefix)),
                            proto::Writer(proto::Op::DeletePrefix).str(prefix).finish(), kNoWait, true);
  proto::Reader r(reply.body);
  int64_t count = r.i64();
  r.end();
  return count;
}

int64_t TcpStore::num_keys() {
  proto::Frame reply =
      call("num_keys", "all keys", proto::Writer(proto::Op::NumKeys).finish(), kNoWait, true);
  proto::Reader r(reply.body);
  int64_t count = r.i64();
  r.end();
  return count;
}

TcpStoreOptions TcpStoreOptions::from_env(const Env& env) {
  TcpStoreOptions options;
  if (std::optional<std::string> store = config::get_string(env, "MYRIAD_STORE")) {
    HostPort address = parse_host_port(*store, "MYRIAD_STORE");
    options.host = address.host;
    options.port = address.port;
  } else {
    std::optional<std::string> host = config::get_string(env, "MASTER_ADDR");
    std::optional<std::string> port = config::get_string(env, "MASTER_PORT");
    if (!host || !port) {
      raise(ErrorCode::InvalidArgument,
            "no store address: set MYRIAD_STORE=host:port, or MASTER_ADDR and MASTER_PORT");
    }
    options.host = *host;
    options.port = static_cast<uint16_t>(config::parse_int(*port, "MASTER_PORT", 1, 65535));
  }
  options.token = config::get_string(env, "MYRIAD_TOKEN").value_or("");
  options.timeout = config::read_duration(env, "MYRIAD_TIMEOUT");
  options.connect_timeout = config::read_duration(env, "MYRIAD_STORE_CONNECT_TIMEOUT");
  return options;
}

}  // namespace myriad
