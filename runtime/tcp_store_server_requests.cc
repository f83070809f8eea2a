// TcpStoreServer, requests: cutting frames out of a client's input, checking
// them, running each request on the table and parking get/wait requests
// until their keys are set. Runs on the loop thread only.
#include <fmt/ranges.h>

#include <algorithm>
#include <span>

#include "runtime/tcp_store_server_loop.h"

namespace myriad {

using namespace store_server;

namespace {

// Compares in time that depends on the lengths only, never on where the
// first differing byte is, so a client cannot guess the token byte by byte.
bool tokens_equal(std::string_view presented, std::string_view expected) {
  size_t n = std::max(presented.size(), expected.size());
  volatile unsigned char diff = presented.size() != expected.size() ? 1 : 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    unsigned char b = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0;
    diff = diff | (a ^ b);
  }
  return diff == 0;
}

}  // namespace

void TcpStoreServer::Loop::process_frames(Client& c) {
  size_t pos = 0;
  bool partial = false;
  while (!c.closed && !c.waiting && c.out_empty()) {
    size_t available = c.in.size() - pos;
    if (available < proto::kHeaderBytes) {
      partial = available > 0;
      break;
    }
    proto::Header header;
    try {
      header = proto::decode_header(
          std::span<const char, proto::kHeaderBytes>(c.in.data() + pos, proto::kHeaderBytes));
    } catch (const Error& e) {
      return drop(c, fmt::format("sent garbage: {}", e.message()), ErrorCode::Corruption);
    }
    if (header.version != proto::kVersion) {
      return drop(c,
                  fmt::format("speaks store protocol version {}; this server speaks {}", header.version,
                              proto::kVersion),
                  ErrorCode::NotSupported);
    }
    if (!c.authed && header.body_bytes > options_.max_auth_frame_bytes) {
      return drop(c,
                  fmt::format("sent a {} frame of {} bytes before authenticating, over the limit of {}",
                              proto::op_name(header.op), header.body_bytes, options_.max_auth_frame_bytes),
                  ErrorCode::InvalidArgument);
    }
    if (header.body_bytes > options_.max_frame_bytes) {
      return drop(c,
                  fmt::format("sent a {} frame of {} bytes, over the limit of {}", proto::op_name(header.op),
                              header.body_bytes, options_.max_frame_bytes),
                  ErrorCode::InvalidArgument);
    }
    if (!proto::is_request(header.op)) {
      return drop(c, fmt::format("sent {}, which is not a request", proto::op_name(header.op)),
                  ErrorCode::Corruption);
    }
    if (!c.authed && header.op != static_cast<uint8_t>(proto::Op::Auth)) {
      return drop(c, fmt::format("sent {} before AUTH", proto::op_name(header.op)), ErrorCode::PeerFailure);
    }
    if (available - proto::kHeaderBytes < header.body_bytes) {
      partial = true;
      break;
    }
    std::string_view body(c.in.data() + pos + proto::kHeaderBytes, header.body_bytes);
    pos += proto::kHeaderBytes + header.body_bytes;
    handle(c, header.op, body);
  }
  if (c.closed) return;
  c.in.erase(0, pos);
  if (!charge(c)) return;
  // The frame timer runs from the first byte of a frame to its last, and is
  // not restarted by further bytes: a client trickling one byte at a time
  // still has to finish within frame_timeout.
  if (pos > 0 || !partial) disarm(c, kFrameTimer);
  if (partial && c.deadlines[kFrameTimer] == kNever) {
    arm(c, kFrameTimer, deadline_after(options_.frame_timeout));
  }
}

void TcpStoreServer::Loop::handle(Client& c, uint8_t op, std::string_view body) {
  proto::Reader r(body);
  std::optional<Reply> response;
  try {
    response = execute(c, static_cast<proto::Op>(op), r);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Corruption) {
      return drop(c, fmt::format("sent a malformed {} frame: {}", proto::op_name(op), e.message()),
                  ErrorCode::Corruption);
    }
    // The request was well-formed but cannot be done (add on a value that
    // is not a number): the client gets the error, the connection stays.
    response = Reply{error_frame(e.code(), e.message()), nullptr};
  }
  if (response) reply(c, std::move(*response));
}

std::optional<Reply> TcpStoreServer::Loop::execute(Client& c, proto::Op op, proto::Reader& r) {
  using proto::Op;
  using proto::Writer;
  switch (op) {
    case Op::Auth: {
      std::string token = r.str();
      r.end();
      if (!tokens_equal(token, options_.token)) {
        drop(c, "presented a wrong token", ErrorCode::InvalidArgument);
        return std::nullopt;
      }
      c.authed = true;
      disarm(c, kAuthTimer);
      return Reply{Writer(Op::Ok).finish(), nullptr};
    }
    case Op::Set: {
      std::string key = r.str();
      std::string value = r.str();
      r.end();
      table_.set(key, value);
      wake(key);
      return Reply{Writer(Op::Ok).finish(), nullptr};
    }
    case Op::Get: {
      std::string key = r.str();
      std::chrono::milliseconds timeout = r.millis();
      r.end();
      if (std::shared_ptr<const std::string> value = table_.share(key)) {
        return Reply{Writer(Op::Ok).str_header(value->size()).finish(), std::move(value)};
      }
      start_wait(c, Op::Get, {std::move(key)}, timeout);
      return std::nullopt;
    }
    case Op::Add: {
      std::string key = r.str();
      int64_t delta = r.i64();
      r.end();
      int64_t value = table_.add(key, delta);
      wake(key);
      return Reply{Writer(Op::Ok).i64(value).finish(), nullptr};
    }
    case Op::CompareSet: {
      std::string key = r.str();
      std::string expected = r.str();
      std::string desired = r.str();
      r.end();
      bool changed = false;
      std::string value = table_.compare_set(key, expected, desired, &changed);
      if (changed) wake(key);
      return Reply{Writer(Op::Ok).str(value).finish(), nullptr};
    }
    case Op::Check: {
      std::vector<std::string> keys = r.keys();
      r.end();
      return Reply{Writer(Op::Ok).u8(table_.missing(keys).empty() ? 1 : 0).finish(), nullptr};
    }
    case Op::Wait: {
      std::vector<std::string> keys = r.keys();
      std::chrono::milliseconds timeout = r.millis();
      r.end();
      if (table_.missing(keys).empty()) return Reply{Writer(Op::Ok).finish(), nullptr};
      start_wait(c, Op::Wait, std::move(keys), timeout);
      return std::nullopt;
    }
    case Op::Delete: {
      std::string key = r.str();
      r.end();
      return Reply{Writer(Op::Ok).u8(table_.erase(key) ? 1 : 0).finish(), nullptr};
    }
    case Op::DeletePrefix: {
      std::string prefix = r.str();
      r.end();
      check_delete_prefix(prefix, address_);
      return Reply{Writer(Op::Ok).i64(table_.erase_prefix(prefix)).finish(), nullptr};
    }
    case Op::NumKeys: {
      r.end();
      return Reply{Writer(Op::Ok).i64(table_.size()).finish(), nullptr};
    }
    case Op::Ok:
    case Op::Error:
    case Op::Timeout: break;
  }
  raise(ErrorCode::Corruption, "{} is not a request", proto::op_name(static_cast<uint8_t>(op)));
}

void TcpStoreServer::Loop::start_wait(Client& c, proto::Op op, std::vector<std::string> keys,
                                      std::chrono::milliseconds timeout) {
  c.waiting = true;
  c.wait_op = op;
  c.wait_keys = std::move(keys);
  c.wait_next = 0;
  c.wait_timeout = timeout;
  register_waiter(c);
  arm(c, kWaitTimer, deadline_after(timeout));
}

bool TcpStoreServer::Loop::register_waiter(Client& c) {
  // Walks forward from where the last look stopped, so a wait on K keys set
  // one by one costs O(K) lookups in all; at the end one more pass confirms
  // that no key seen earlier was deleted since.
  const std::vector<std::string>& keys = c.wait_keys;
  while (c.wait_next < keys.size() && table_.contains(keys[c.wait_next])) ++c.wait_next;
  if (c.wait_next == keys.size()) {
    auto missing =
        std::find_if(keys.begin(), keys.end(), [&](const std::string& key) { return !table_.contains(key); });
    if (missing == keys.end()) return false;
    c.wait_next = static_cast<size_t>(missing - keys.begin());
  }
  c.wait_on = keys[c.wait_next];
  waiters_[c.wait_on].insert(c.id);
  return true;
}

void TcpStoreServer::Loop::clear_wait(Client& c) {
  if (!c.waiting) return;
  if (!c.wait_on.empty()) {
    auto it = waiters_.find(c.wait_on);
    if (it != waiters_.end()) {
      it->second.erase(c.id);
      if (it->second.empty()) waiters_.erase(it);
    }
  }
  disarm(c, kWaitTimer);
  c.waiting = false;
  c.wait_keys.clear();
  c.wait_on.clear();
}

void TcpStoreServer::Loop::finish_wait(Client& c) {
  std::vector<std::string> missing = table_.missing(c.wait_keys);
  Reply frame;
  if (!missing.empty()) {
    frame.frame = proto::Writer(proto::Op::Timeout).keys(missing).finish();
  } else if (c.wait_op == proto::Op::Get) {
    frame.value = table_.share(c.wait_keys.front());
    frame.frame = proto::Writer(proto::Op::Ok).str_header(frame.value->size()).finish();
  } else {
    frame.frame = proto::Writer(proto::Op::Ok).finish();
  }
  clear_wait(c);
  reply(c, std::move(frame));
  // Frames the client sent while it waited are handled after this batch,
  // not here, so that waking waiters never recurses into request handling.
  ready_.push_back(c.id);
}

void TcpStoreServer::Loop::wake(const std::string& key) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  std::unordered_set<uint64_t> ids = std::move(it->second);
  waiters_.erase(it);
  for (uint64_t id : ids) {
    Client* c = find(id);
    if (c == nullptr || !c->waiting) continue;
    c->wait_on.clear();  // its entry went with the set above
    if (!register_waiter(*c)) finish_wait(*c);
  }
}

}  // namespace myriad
