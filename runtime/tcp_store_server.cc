// TcpStoreServer, the loop: the listening socket, accepting, reading and
// writing clients, timers, dropping and closing, start and stop. The design
// (one thread, level-triggered epoll, deferred close) is described in
// tcp_store_server_loop.h.
#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "runtime/logging.h"
#include "runtime/tcp_store_server_loop.h"

namespace myriad {

using namespace store_server;
using Clock = std::chrono::steady_clock;

namespace {

// The kernel caps the backlog at net.core.somaxconn (4096 on current
// kernels); ask for that much so that thousands of ranks connecting at once
// are queued rather than refused.
constexpr int kListenBacklog = 4096;
constexpr int kMaxEvents = 256;
// Values up to this size are copied into their reply frame; larger ones
// are sent from the table without a copy.
constexpr size_t kInlineValueBytes = 4096;
constexpr size_t kMaxSendChunks = 16;

}  // namespace

TcpStoreServer::Loop::Loop(TcpStoreServerOptions options) : options_(std::move(options)) {
  uint64_t fd_limit = raise_fd_limit();
  listener_ = listen_tcp(options_.host, options_.port, kListenBacklog);
  port_ = listener_.port;
  address_ = HostPort{options_.host, port_}.to_string();
  epoll_ = Socket(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) raise_errno(errno, "epoll_create1");
  wake_ = Socket(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_.valid()) raise_errno(errno, "eventfd");
  spare_ = Socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (auto [fd, id] : {std::pair{listener_.socket.fd(), kListenId}, std::pair{wake_.fd(), kWakeId}}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, fd, &event) < 0) raise_errno(errno, "epoll_ctl(ADD)");
  }
  MYRIAD_LOG_INFO("store serving on {} (up to {} open files)", address_, fd_limit);
  thread_ = std::thread([this] { run(); });
}

void TcpStoreServer::Loop::stop() {
  std::lock_guard lock(stop_mutex_);
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  while (::write(wake_.fd(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
}

Client* TcpStoreServer::Loop::find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() || it->second->closed ? nullptr : it->second.get();
}

void TcpStoreServer::Loop::run() {
  std::array<epoll_event, kMaxEvents> events;
  bool stopping = false;
  while (!stopping) {
    int n = ::epoll_wait(epoll_.fd(), events.data(), kMaxEvents, epoll_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      MYRIAD_LOG_ERROR("store {}: epoll_wait failed: {}; stopping", address_, std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      uint32_t ready = events[i].events;
      if (id == kListenId) {
        accept_clients();
        continue;
      }
      if (id == kWakeId) {
        stopping = true;
        break;
      }
      Client* c = find(id);
      if (c == nullptr) continue;
      try {
        if (ready & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(*c);
        if (!c->closed && (ready & EPOLLOUT)) on_writable(*c);
      } catch (const std::exception& e) {
        // A bug or resource failure while serving one client must not take
        // the store down for every other client.
        drop(*c, fmt::format("internal error: {}", e.what()), ErrorCode::Internal);
      }
    }
    if (stopping) break;
    expire_timers();
    while (!ready_.empty()) {
      std::vector<uint64_t> batch = std::exchange(ready_, {});
      for (uint64_t id : batch) {
        if (Client* c = find(id)) process_frames(*c);
      }
    }
    for (uint64_t id : graveyard_) clients_.erase(id);
    graveyard_.clear();
  }
  // Closing every connection is what wakes the clients blocked on this
  // server: they see the connection end and fail or reconnect.
  clients_.clear();
  waiters_.clear();
  timers_.clear();
  num_clients_ = 0;
  listener_.socket.close();
  MYRIAD_LOG_DEBUG("store on {} stopped", address_);
}

int TcpStoreServer::Loop::epoll_timeout_ms() const {
  if (timers_.empty()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(std::get<0>(*timers_.begin()) - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
}

void TcpStoreServer::Loop::accept_clients() {
  while (true) {
    int fd = ::accept4(listener_.socket.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if ((errno == EMFILE || errno == ENFILE) && spare_.valid()) {
        shed_connection();
        continue;
      }
      MYRIAD_LOG_WARN("store {}: accept failed: {}", address_, std::strerror(errno));
      return;
    }
    auto client = std::make_unique<Client>();
    client->id = next_id_++;
    client->socket = Socket(fd);
    client->peer = peer_address(fd);
    try {
      set_nodelay(fd);
    } catch (const Error& e) {
      MYRIAD_LOG_DEBUG("store {}: client {}: {}", address_, client->peer, e.message());
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.u64 = client->id;
    if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, fd, &event) < 0) {
      MYRIAD_LOG_WARN("store {}: cannot watch client {}: {}", address_, client->peer, std::strerror(errno));
      continue;
    }
    Client& c = *client;
    clients_.emplace(c.id, std::move(client));
    ++num_clients_;
    arm(c, kAuthTimer, deadline_after(options_.auth_timeout));
    MYRIAD_LOG_DEBUG("store {}: client {} connected", address_, c.peer);
  }
}

void TcpStoreServer::Loop::shed_connection() {
  // Out of descriptors, the pending connection would stay queued and epoll
  // would report the listener ready forever. Free the spare descriptor,
  // accept the client, tell the log and close it, then take the spare back.
  spare_.close();
  int fd = ::accept4(listener_.socket.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    MYRIAD_LOG_WARN("store {}: refused client {}: out of file descriptors ({} clients)", address_,
                    peer_address(fd), clients_.size());
    ::close(fd);
  }
  spare_ = Socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

size_t TcpStoreServer::Loop::input_limit(const Client& c) const {
  return proto::kHeaderBytes + (c.authed ? options_.max_frame_bytes : options_.max_auth_frame_bytes);
}

void TcpStoreServer::Loop::on_readable(Client& c) {
  // Reads no further than one byte past the limit: a client that has not
  // authenticated never makes the server hold more than its AUTH frame.
  while (c.in.size() <= input_limit(c)) {
    size_t room = std::min(read_buffer_.size(), input_limit(c) + 1 - c.in.size());
    ssize_t n = ::recv(c.socket.fd(), read_buffer_.data(), room, 0);
    if (n > 0) {
      c.in.append(read_buffer_.data(), static_cast<size_t>(n));
      if (!charge(c)) return;
      if (static_cast<size_t>(n) < room) break;  // drained for now
      continue;
    }
    if (n == 0) return on_peer_closed(c, "closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return on_peer_closed(c, std::strerror(errno));
  }
  process_frames(c);
  if (!c.closed && c.in.size() > input_limit(c)) {
    drop(c,
         c.authed ? fmt::format("sent more than {} bytes ahead of its replies", input_limit(c))
                  : fmt::format("sent more than {} bytes before authenticating", input_limit(c)),
         ErrorCode::PeerFailure);
  }
}

bool TcpStoreServer::Loop::charge(Client& c) {
  size_t held = c.authed || c.closed ? 0 : c.in.size();
  unauthenticated_bytes_ = unauthenticated_bytes_ - c.charged + held;
  c.charged = held;
  if (unauthenticated_bytes_ <= options_.unauthenticated_budget) return true;
  drop(c,
       fmt::format("would take the input held for unauthenticated clients past the store's budget of {} "
                   "bytes",
                   options_.unauthenticated_budget),
       ErrorCode::Unavailable);
  return false;
}

void TcpStoreServer::Loop::on_writable(Client& c) {
  flush(c);
  if (!c.closed && c.out_empty()) process_frames(c);
}

void TcpStoreServer::Loop::on_peer_closed(Client& c, std::string_view how) {
  if (c.waiting) {
    drop(c,
         fmt::format("{} while waiting for key{} '{}'", how, c.wait_keys.size() == 1 ? "" : "s",
                     fmt::join(c.wait_keys, "', '")),
         ErrorCode::PeerFailure);
  } else if (!c.in.empty()) {
    drop(c, fmt::format("{} in the middle of a frame", how), ErrorCode::PeerFailure);
  } else {
    MYRIAD_LOG_DEBUG("store {}: client {} {}", address_, c.peer, how);
    close_client(c);
  }
}

void TcpStoreServer::Loop::reply(Client& c, Reply reply) {
  if (c.closed) return;
  // A small value rides in the frame's own chunk; a large one is sent from
  // the table's copy.
  if (reply.value && reply.value->size() <= kInlineValueBytes) {
    reply.frame.append(*reply.value);
    reply.value.reset();
  }
  c.out.push_back(OutChunk{std::move(reply.frame), nullptr});
  if (reply.value) c.out.push_back(OutChunk{{}, std::move(reply.value)});
  flush(c);
}

void TcpStoreServer::Loop::flush(Client& c) {
  bool progressed = false;
  while (!c.out.empty()) {
    std::array<iovec, kMaxSendChunks> iov{};
    size_t count = 0;
    size_t skip = c.out_pos;
    for (const OutChunk& chunk : c.out) {
      if (count == iov.size()) break;
      std::string_view bytes = chunk.view().substr(skip);
      iov[count].iov_base = const_cast<char*>(bytes.data());
      iov[count].iov_len = bytes.size();
      ++count;
      skip = 0;
    }
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(c.socket.fd(), &message, MSG_NOSIGNAL);
    if (n >= 0) {
      progressed = progressed || n > 0;
      auto sent = static_cast<size_t>(n);
      while (sent > 0 && !c.out.empty()) {
        size_t left = c.out.front().view().size() - c.out_pos;
        if (sent < left) {
          c.out_pos += sent;
          break;
        }
        sent -= left;
        c.out.pop_front();
        c.out_pos = 0;
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return on_peer_closed(c, std::strerror(errno));
  }
  // The reply timer measures time without progress: a slow reader that
  // keeps reading is never dropped, one that stopped is.
  if (c.out.empty()) {
    disarm(c, kReplyTimer);
  } else if (progressed || c.deadlines[kReplyTimer] == kNever) {
    arm(c, kReplyTimer, deadline_after(options_.reply_timeout));
  }
  set_write_interest(c, !c.out.empty());
}

void TcpStoreServer::Loop::set_write_interest(Client& c, bool want) {
  if (c.want_write == want) return;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (want ? uint32_t{EPOLLOUT} : 0u);
  event.data.u64 = c.id;
  if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_MOD, c.socket.fd(), &event) < 0) {
    return drop(c, fmt::format("cannot watch its socket: {}", std::strerror(errno)), ErrorCode::Io);
  }
  c.want_write = want;
}

void TcpStoreServer::Loop::drop(Client& c, std::string_view reason, ErrorCode code) {
  if (c.closed) return;
  MYRIAD_LOG_WARN("store {}: dropping client {}: {}", address_, c.peer, reason);
  ++num_dropped_;
  // Tell the client why, best effort and without blocking, so that it can
  // report "wrong token" rather than a bare closed connection. Skipped when
  // a reply is half-sent: the message would land inside that reply.
  if (c.out_empty()) {
    std::string frame = error_frame(code, reason);
    [[maybe_unused]] ssize_t ignored =
        ::send(c.socket.fd(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  close_client(c);
}

void TcpStoreServer::Loop::close_client(Client& c) {
  if (c.closed) return;
  clear_wait(c);
  unauthenticated_bytes_ -= c.charged;
  c.charged = 0;
  c.out.clear();
  for (int kind = 0; kind < kTimerKinds; ++kind) disarm(c, static_cast<TimerKind>(kind));
  ::epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, c.socket.fd(), nullptr);
  c.socket.close();
  c.closed = true;
  --num_clients_;
  graveyard_.push_back(c.id);
}

void TcpStoreServer::Loop::arm(Client& c, TimerKind kind, Deadline deadline) {
  Deadline& current = c.deadlines[kind];
  if (current == deadline) return;
  if (current != kNever) timers_.erase({current, c.id, kind});
  current = deadline;
  if (deadline != kNever) timers_.emplace(deadline, c.id, kind);
}

void TcpStoreServer::Loop::expire_timers() {
  Deadline now = Clock::now();
  while (!timers_.empty() && std::get<0>(*timers_.begin()) <= now) {
    auto [deadline, id, kind] = *timers_.begin();
    timers_.erase(timers_.begin());
    Client* c = find(id);
    if (c == nullptr) continue;
    c->deadlines[kind] = kNever;
    switch (kind) {
      case kAuthTimer:
        drop(*c, fmt::format("did not authenticate within {} ms", options_.auth_timeout.count()),
             ErrorCode::Timeout);
        break;
      case kFrameTimer:
        drop(*c, fmt::format("left a frame half-written for {} ms", options_.frame_timeout.count()),
             ErrorCode::Timeout);
        break;
      case kWaitTimer:
        if (c->waiting) finish_wait(*c);
        break;
      case kReplyTimer:
        drop(*c, fmt::format("read none of its pending reply for {} ms", options_.reply_timeout.count()),
             ErrorCode::Timeout);
        break;
      case kTimerKinds: break;
    }
  }
}

TcpStoreServer::TcpStoreServer(TcpStoreServerOptions options)
    : loop_(std::make_unique<Loop>(std::move(options))) {}

TcpStoreServer::~TcpStoreServer() {
  stop();
}

uint16_t TcpStoreServer::port() const {
  return loop_->port();
}
std::string TcpStoreServer::address() const {
  return loop_->address();
}
void TcpStoreServer::stop() {
  loop_->stop();
}
size_t TcpStoreServer::num_clients() const {
  return loop_->num_clients();
}
uint64_t TcpStoreServer::num_dropped() const {
  return loop_->num_dropped();
}

}  // namespace myriad
