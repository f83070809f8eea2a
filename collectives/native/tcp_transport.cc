#include "collectives/native/tcp_transport.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/ranges.h>

#include "runtime/logging.h"

namespace myriad {
namespace {

using Clock = std::chrono::steady_clock;

// Gathered pieces per sendmsg: a few dozen small messages per syscall is
// where batching stops paying (IOV_MAX is 1024).
constexpr size_t kMaxIov = 64;
// epoll event tag of the wake-up eventfd (connections use their index).
constexpr uint64_t kWakeupEvent = ~uint64_t{0};
constexpr int kMaxEvents = 64;

bool connection_lost(int err) {
  return err == ECONNRESET || err == EPIPE || err == ECONNABORTED;
}

void set_buffer_sizes(int fd, int bytes) {
  if (bytes <= 0) return;
  // Best effort: the kernel caps these at net.core.{w,r}mem_max.
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

}  // namespace

TcpTransport::TcpTransport(TransportOptions options, TcpConfig config)
    : options_(std::move(options)), config_(config) {
  if (options_.rank < 0 || options_.rank >= options_.size) {
    raise(ErrorCode::InvalidArgument, "tcp transport: rank {} is outside world size {}", options_.rank,
          options_.size);
  }
  if (options_.comm_id.size() > kTcpMaxCommIdBytes) {
    raise(ErrorCode::InvalidArgument, "tcp transport: comm id of {} bytes exceeds {}",
          options_.comm_id.size(), kTcpMaxCommIdBytes);
  }
  if (config_.staging_bytes < sizeof(FrameHeader) + kTcpMaxReasonBytes) {
    raise(ErrorCode::InvalidArgument, "tcp transport: staging buffer of {} bytes cannot hold an abort frame",
          config_.staging_bytes);
  }
  // The backlog holds every lower rank's connection while this rank still
  // connects to higher ones.
  listener_ = listen_tcp(options_.bind_host, 0, std::max(options_.size, 16));
  address_ = HostPort{options_.bind_host, listener_.port}.to_string();
  epoll_ = Socket(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) raise_errno(errno, "epoll_create1");
  wakeup_ = Socket(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wakeup_.valid()) raise_errno(errno, "eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeupEvent;
  if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, wakeup_.fd(), &event) != 0) raise_errno(errno, "epoll_ctl");
}

TcpTransport::~TcpTransport() {
  close();
}

// ---------------------------------------------------------------- connect

void TcpTransport::connect(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                           Clock::time_point deadline) {
  failure_.throw_if_failed();
  try {
    connect_peers(peers, addresses, deadline);
  } catch (const Error& error) {
    failure_.set(error);
    throw;
  }
}

void TcpTransport::exchange_hello(Connection& connection, bool speak_first, Clock::time_point deadline) {
  const int rank = options_.rank;
  const std::string what = fmt::format("rank {}: tcp hello with peer rank {}", rank, connection.rank);
  std::string mine(sizeof(Hello), '\0');
  const Hello hello{kTcpHelloMagic, kTcpProtocolVersion, 0,
                    rank,           options_.size,       static_cast<uint32_t>(options_.comm_id.size())};
  std::memcpy(mine.data(), &hello, sizeof(hello));
  mine += options_.comm_id;
  if (speak_first) write_full(connection.socket.fd(), mine.data(), mine.size(), deadline, what);

  Hello theirs{};
  read_full(connection.socket.fd(), &theirs, sizeof(theirs), deadline, what);
  if (theirs.magic != kTcpHelloMagic || theirs.version != kTcpProtocolVersion ||
      theirs.comm_id_bytes > kTcpMaxCommIdBytes) {
    raise(ErrorCode::PeerFailure,
          "{}: not a Myriad tcp transport of protocol version {} (magic {:#x}, "
          "version {})",
          what, kTcpProtocolVersion, theirs.magic, theirs.version);
  }
  std::string comm_id(theirs.comm_id_bytes, '\0');
  read_full(connection.socket.fd(), comm_id.data(), comm_id.size(), deadline, what);
  if (connection.rank < 0) connection.rank = theirs.rank;  // accepted: the hello says who it is
  if (theirs.rank != connection.rank || theirs.size != options_.size || comm_id != options_.comm_id) {
    raise(ErrorCode::PeerFailure,
          "{}: the peer is rank {} of {} in comm '{}', expected rank {} of {} in '{}'", what, theirs.rank,
          theirs.size, comm_id, connection.rank, options_.size, options_.comm_id);
  }
  if (!speak_first) write_full(connection.socket.fd(), mine.data(), mine.size(), deadline, what);
}

void TcpTransport::connect_peers(const std::vector<int>& peers, const std::vector<std::string>& addresses,
                                 Clock::time_point deadline) {
  const int rank = options_.rank;
  if (!connections_.empty()) raise(ErrorCode::InvalidArgument, "rank {}: tcp connect() called twice", rank);
  if (addresses.size() != static_cast<size_t>(options_.size)) {
    raise(ErrorCode::InvalidArgument, "rank {}: tcp connect got {} addresses for world size {}", rank,
          addresses.size(), options_.size);
  }
  connection_index_.assign(static_cast<size_t>(options_.size), -1);
  std::vector<Connection> connections(peers.size());
  for (size_t i = 0; i < peers.size(); ++i) {
    const int p = peers[i];
    if (p < 0 || p >= options_.size || p == rank || connection_index_[static_cast<size_t>(p)] >= 0) {
      raise(ErrorCode::InvalidArgument, "rank {}: tcp connect peer list has invalid or repeated rank {}",
            rank, p);
    }
    connection_index_[static_cast<size_t>(p)] = static_cast<int>(i);
    connections[i].rank = p;
  }

  // Lower ranks connect to higher ones. Connecting to every higher peer
  // before accepting cannot deadlock: the highest rank only accepts, and
  // each rank answers its lower peers once its own connections stand.
  for (Connection& connection : connections) {
    if (connection.rank < rank) continue;
    const HostPort address = parse_host_port(addresses[static_cast<size_t>(connection.rank)],
                                             fmt::format("tcp address of rank {}", connection.rank));
    connection.socket = connect_tcp(address, deadline);
    exchange_hello(connection, /*speak_first=*/true, deadline);
  }
  size_t waiting =
      static_cast<size_t>(std::count_if(peers.begin(), peers.end(), [&](int p) { return p < rank; }));
  while (waiting > 0) {
    const auto now = Clock::now();
    if (now >= deadline) {
      std::vector<int> missing;
      for (const Connection& c : connections) {
        if (!c.socket.valid()) missing.push_back(c.rank);
      }
      raise(ErrorCode::Timeout, "rank {}: tcp connect timed out waiting for peer ranks [{}] to connect to {}",
            rank, fmt::join(missing, ", "), address_);
    }
    pollfd p{listener_.socket.fd(), POLLIN, 0};
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(wait_ms, INT_MAX)));
    if (rc < 0 && errno != EINTR) raise_errno(errno, "poll on the tcp listener");
    if (rc <= 0) continue;
    Connection accepted;
    accepted.socket =
        Socket(::accept4(listener_.socket.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!accepted.socket.valid()) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      raise_errno(errno, "accept on the tcp listener");
    }
    try {
      exchange_hello(accepted, /*speak_first=*/false, std::min(deadline, Clock::now() + kTcpHelloTimeout));
    } catch (const Error& error) {
      // A stray or foreign client: drop it and keep waiting for the peers.
      MYRIAD_LOG_WARN("rank {}: dropped a connection to {}: {}", rank, address_, error.message());
      continue;
    }
    const int index = accepted.rank >= 0 && accepted.rank < rank
                          ? connection_index_[static_cast<size_t>(accepted.rank)]
                          : -1;
    if (index < 0 || connections[static_cast<size_t>(index)].socket.valid()) {
      MYRIAD_LOG_WARN("rank {}: dropped an unexpected connection from rank {}", rank, accepted.rank);
      continue;
    }
    connections[static_cast<size_t>(index)].socket = std::move(accepted.socket);
    --waiting;
  }

  for (size_t i = 0; i < connections.size(); ++i) {
    Connection& connection = connections[i];
    set_nonblocking(connection.socket.fd(), true);
    set_nodelay(connection.socket.fd());
    set_buffer_sizes(connection.socket.fd(), config_.socket_buffer_bytes);
    connection.staging = std::make_unique<char[]>(config_.staging_bytes);
    epoll_event event{};
    // Edge-triggered: a connection whose staging buffer is full (a message
    // waits for its receive) must not keep epoll_wait returning.
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = i;
    if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, connection.socket.fd(), &event) != 0) {
      raise_errno(errno, "epoll_ctl add tcp connection");
    }
  }
  {
    std::lock_guard lock(tx_mutex_);
    connections_ = std::move(connections);
  }
  listener_.socket.close();  // every peer is connected: the port has no further use
}

// ---------------------------------------------------------------- posting

TcpTransport::Connection& TcpTransport::connection_of(int rank, const char* what) {
  const int index = rank >= 0 && rank < options_.size && !connection_index_.empty()
                        ? connection_index_[static_cast<size_t>(rank)]
                        : -1;
  if (index < 0 || connections_.empty()) {
    raise(ErrorCode::InvalidArgument, "rank {}: {} posted for rank {}, which is not a connected tcp peer",
          options_.rank, what, rank);
  }
  return connections_[static_cast<size_t>(index)];
}

void TcpTransport::post(SendRequest* request) {
  failure_.throw_if_failed();
  Connection& connection = connection_of(request->peer, "send");
  request->done_bytes = 0;
  request->complete = false;
  std::lock_guard lock(tx_mutex_);
  connection.sends.push_back(
      Outgoing{request, make_frame_header(FrameType::Data, request->tag, request->bytes)});
}

void TcpTransport::post(RecvRequest* request) {
  failure_.throw_if_failed();
  Connection& connection = connection_of(request->peer, "receive");
  request->done_bytes = 0;
  request->complete = false;
  connection.recvs.push_back(request);
}

std::optional<MessageHeader> TcpTransport::probe(int rank) {
  failure_.throw_if_failed();
  Connection& c = connection_of(rank, "probe");
  if (!c.recvs.empty()) return std::nullopt;
  // progress() has read and parsed what arrived: with no receive posted,
  // parsing stops at the header of the next Data frame.
  if (c.end - c.begin >= sizeof(FrameHeader)) {
    FrameHeader header;
    std::memcpy(&header, c.staging.get() + c.begin, sizeof(header));
    if (header.magic == kTcpFrameMagic && static_cast<FrameType>(header.type) == FrameType::Data) {
      return MessageHeader{.tag = header.tag, .bytes = header.bytes};
    }
    return std::nullopt;  // an abort frame still arriving; parse() fails on it
  }
  // A goodbye: the peer closed its transport and sends nothing more
  // (finished(), not a failure).
  if (c.closed && !c.goodbye) {
    failure_.fail(
        Error(ErrorCode::PeerFailure,
              fmt::format("rank {}: peer rank {} {} during a receive from any peer", options_.rank, c.rank,
                          c.reset ? "reset the connection (process died?)"
                                  : "closed the connection without a goodbye (process died?)")));
  }
  return std::nullopt;
}

bool TcpTransport::finished(int rank) {
  const Connection& c = connection_of(rank, "finished");
  return c.closed && c.goodbye && c.end - c.begin < sizeof(FrameHeader);
}

// ---------------------------------------------------------------- progress

bool TcpTransport::progress() {
  failure_.throw_if_failed();
  harvest_events(std::chrono::microseconds::zero());
  bool moved = false;
  {
    std::lock_guard lock(tx_mutex_);
    for (Connection& connection : connections_) {
      if (!connection.sends.empty() && connection.writable) moved |= flush(connection);
    }
  }
  for (Connection& connection : connections_) moved |= receive(connection);
  if (!moved) {
    std::lock_guard lock(tx_mutex_);
    for (Connection& connection : connections_) check_closed(connection);
  }
  return moved;
}

void TcpTransport::wait_for_activity(std::chrono::microseconds timeout) {
  failure_.throw_if_failed();
  {
    std::lock_guard lock(tx_mutex_);
    for (const Connection& c : connections_) {
      // progress() stopped at its budget, or a receive was posted since.
      if ((!c.sends.empty() && c.writable) || (c.readable && !c.closed && !c.recvs.empty())) {
        return;
      }
    }
  }
  harvest_events(timeout);
}

void TcpTransport::harvest_events(std::chrono::microseconds timeout) {
  epoll_event events[kMaxEvents];
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((timeout - secs).count() * 1000)};
  int n;
  do {
    n = ::epoll_pwait2(epoll_.fd(), events, kMaxEvents, &ts, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) raise_errno(errno, "epoll_pwait2");
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeupEvent) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t rc = ::read(wakeup_.fd(), &count, sizeof(count));
      continue;
    }
    Connection& connection = connections_[events[i].data.u64];
    if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) connection.readable = true;
    if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) connection.hung_up = true;
    if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      std::lock_guard lock(tx_mutex_);
      connection.writable = true;
    }
  }
}

bool TcpTransport::flush(Connection& c) {
  bool moved = false;
  size_t budget = kTcpSendBudgetBytes;
  while (!c.sends.empty() && budget > 0) {
    iovec iov[kMaxIov];
    size_t count = 0, offered = 0;
    size_t skip = c.sent;  // bytes of the front frame already written
    for (auto it = c.sends.begin(); it != c.sends.end() && count + 2 <= kMaxIov && offered < budget; ++it) {
      const size_t header_left = skip < sizeof(FrameHeader) ? sizeof(FrameHeader) - skip : 0;
      if (header_left > 0) {
        iov[count++] =
            iovec{reinterpret_cast<char*>(&it->header) + (sizeof(FrameHeader) - header_left), header_left};
        offered += header_left;
      }
      const size_t payload_done = skip > sizeof(FrameHeader) ? skip - sizeof(FrameHeader) : 0;
      const size_t payload_left =
          std::min(it->request->bytes - payload_done, budget - std::min(budget, offered));
      if (payload_left > 0) {
        iov[count++] = iovec{const_cast<char*>(static_cast<const char*>(it->request->data)) + payload_done,
                             payload_left};
        offered += payload_left;
      }
      skip = 0;
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    const ssize_t n = ::sendmsg(c.socket.fd(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c.writable = false;
        break;
      }
      if (connection_lost(errno)) {
        c.closed = c.reset = true;
        fail_peer(c, "reset the connection");
      }
      raise_errno(errno, fmt::format("rank {}: send to peer rank {}", options_.rank, c.rank));
    }
    moved = true;
    budget -= std::min(budget, static_cast<size_t>(n));
    size_t written = static_cast<size_t>(n);
    while (written > 0) {
      Outgoing& front = c.sends.front();
      const size_t frame = sizeof(FrameHeader) + front.request->bytes;
      const size_t take = std::min(written, frame - c.sent);
      c.sent += take;
      written -= take;
      front.request->done_bytes = c.sent > sizeof(FrameHeader) ? c.sent - sizeof(FrameHeader) : 0;
      if (c.sent == frame) {
        front.request->complete = true;
        c.sends.pop_front();
        c.sent = 0;
      }
    }
    if (static_cast<size_t>(n) < offered) {
      c.writable = false;  // the socket buffer is full; EPOLLOUT says when it drains
      break;
    }
  }
  return moved;
}

bool TcpTransport::receive(Connection& c) {
  bool moved = parse(c);
  while (c.readable && !c.closed) {
    if (c.begin == c.end) {
      c.begin = c.end = 0;
    } else if (c.end == config_.staging_bytes && c.begin > 0) {
      std::memmove(c.staging.get(), c.staging.get() + c.begin, c.end - c.begin);
      c.end -= c.begin;
      c.begin = 0;
    }
    const size_t room = config_.staging_bytes - c.end;
    if (room == 0) break;  // a message waits for its receive to be posted
    const ssize_t n = ::recv(c.socket.fd(), c.staging.get() + c.end, room, MSG_DONTWAIT);
    if (n > 0) {
      c.end += static_cast<size_t>(n);
      // A short read emptied the socket; the next arrival is a new edge.
      // After a hang-up no edge follows: read on until the end of stream.
      if (static_cast<size_t>(n) < room && !c.hung_up) c.readable = false;
      moved |= parse(c);
      continue;
    }
    if (n == 0) {
      c.closed = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c.readable = false;
      break;
    }
    if (connection_lost(errno)) {
      c.closed = c.reset = true;
      break;
    }
    raise_errno(errno, fmt::format("rank {}: receive from peer rank {}", options_.rank, c.rank));
  }
  return moved;
}

bool TcpTransport::parse(Connection& c) {
  bool moved = false;
  while (true) {
    const size_t available = c.end - c.begin;
    if (c.in_payload) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(available, c.payload_left));
      if (take == 0) break;
      RecvRequest* recv = c.recvs.front();
      if (recv->consumer) {
        try {
          recv->consumer(recv->done_bytes, c.staging.get() + c.begin, take);
        } catch (const Error& error) {
          failure_.fail(error);
        } catch (const std::exception& error) {
          failure_.fail(
              Error(ErrorCode::Internal,
                    fmt::format("rank {}: consumer of receive tag {:#x} from peer rank {} threw: {}",
                                options_.rank, recv->tag, c.rank, error.what())));
        }
      }
      recv->done_bytes += take;
      c.begin += take;
      c.payload_left -= take;
      moved = true;
      if (c.payload_left == 0) {
        c.in_payload = false;
        recv->complete = true;
        c.recvs.pop_front();
      }
      continue;
    }
    if (available < sizeof(FrameHeader)) break;
    FrameHeader header;
    std::memcpy(&header, c.staging.get() + c.begin, sizeof(header));
    if (header.magic != kTcpFrameMagic) {
      failure_.fail(
          Error(ErrorCode::PeerFailure,
                fmt::format("rank {}: malformed frame from peer rank {} (magic {:#x}): the stream lost "
                            "its framing",
                            options_.rank, c.rank, header.magic)));
    }
    switch (static_cast<FrameType>(header.type)) {
      case FrameType::Data: {
        if (c.recvs.empty()) return moved;  // waits for its receive
        RecvRequest* recv = c.recvs.front();
        if (header.tag != recv->tag || header.bytes != recv->bytes) {
          failure_.fail(
              Error(ErrorCode::PeerFailure,
                    fmt::format("rank {}: message from peer rank {} does not match the posted receive: "
                                "it carries tag {:#x} and {} bytes, the receive expects tag {:#x} and {} "
                                "bytes (the ranks disagree about the operation sequence)",
                                options_.rank, c.rank, header.tag, header.bytes, recv->tag, recv->bytes)));
        }
        c.begin += sizeof(header);
        moved = true;
        if (header.bytes == 0) {
          recv->complete = true;
          c.recvs.pop_front();
        } else {
          c.in_payload = true;
          c.payload_left = header.bytes;
        }
        break;
      }
      case FrameType::Abort: {
        if (header.bytes > kTcpMaxReasonBytes) {
          failure_.fail(
              Error(ErrorCode::PeerFailure, fmt::format("rank {}: abort frame of {} bytes from peer "
                                                        "rank {}",
                                                        options_.rank, header.bytes, c.rank)));
        }
        if (available < sizeof(header) + header.bytes) return moved;
        const std::string reason(c.staging.get() + c.begin + sizeof(header), header.bytes);
        failure_.fail(Error(ErrorCode::PeerFailure,
                            fmt::format("rank {}: peer rank {} aborted: {}", options_.rank, c.rank, reason)));
      }
      case FrameType::Goodbye:
        c.begin += sizeof(header);
        c.goodbye = true;
        break;
      default:
        failure_.fail(
            Error(ErrorCode::PeerFailure, fmt::format("rank {}: frame of unknown type {} from peer rank {}",
                                                      options_.rank, header.type, c.rank)));
    }
  }
  return moved;
}

void TcpTransport::check_closed(Connection& c) {
  if (!c.closed) return;
  // Everything that arrived before the close has been parsed; a request
  // that still needs the peer can never finish.
  if (c.recvs.empty() && c.sends.empty()) return;
  fail_peer(c, c.goodbye ? "closed its transport"
               : c.reset ? "reset the connection (process died?)"
                         : "closed the connection without a goodbye (process died?)");
}

void TcpTransport::fail_peer(Connection& c, const std::string& what) {
  std::string during = "no pending request";
  if (!c.sends.empty()) {
    const SendRequest* send = c.sends.front().request;
    during = fmt::format("send tag {:#x} ({} of {} bytes sent)", send->tag, send->done_bytes, send->bytes);
  } else if (!c.recvs.empty()) {
    const RecvRequest* recv = c.recvs.front();
    during =
        fmt::format("receive tag {:#x} ({} of {} bytes received)", recv->tag, recv->done_bytes, recv->bytes);
  }
  failure_.fail(Error(ErrorCode::PeerFailure, fmt::format("rank {}: peer rank {} {} during {}", options_.rank,
                                                          c.rank, what, during)));
}

// ---------------------------------------------------------------- abort and close

bool TcpTransport::push_until(int fd, const char* data, size_t bytes, Clock::time_point deadline) {
  while (bytes > 0) {
    const ssize_t n = ::send(fd, data, bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data += n;
      bytes -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count()));
  }
  return true;
}

void TcpTransport::abort(const Error& reason) {
  failure_.set(Error(reason.code(),
                     fmt::format("rank {}: tcp transport aborted: {}", options_.rank, reason.message())));
  {
    std::lock_guard lock(tx_mutex_);
    if (!abort_sent_ && !closed_) {
      abort_sent_ = true;
      std::string text = fmt::format("rank {}: {}", options_.rank, reason.message());
      text.resize(std::min<size_t>(text.size(), kTcpMaxReasonBytes));
      const FrameHeader header = make_frame_header(FrameType::Abort, 0, text.size());
      std::string frame(reinterpret_cast<const char*>(&header), sizeof(header));
      frame += text;
      const auto deadline = Clock::now() + kTcpAbortFlush;
      for (Connection& c : connections_) {
        if (!c.socket.valid()) continue;
        bool ok = true;
        if (!c.sends.empty() && c.sent > 0) {
          // Finish the frame in flight so that the abort frame starts on a
          // frame boundary (the request is alive: the transport has not
          // failed for the caller before this call returns).
          Outgoing& front = c.sends.front();
          if (c.sent < sizeof(FrameHeader)) {
            ok = push_until(c.socket.fd(), reinterpret_cast<const char*>(&front.header) + c.sent,
                            sizeof(FrameHeader) - c.sent, deadline);
            c.sent = sizeof(FrameHeader);
          }
          const size_t done = c.sent - sizeof(FrameHeader);
          ok = ok && push_until(c.socket.fd(), static_cast<const char*>(front.request->data) + done,
                                front.request->bytes - done, deadline);
          c.sends.clear();
          c.sent = 0;
        }
        // A peer that cannot be told sees the connection close instead.
        if (!ok || !push_until(c.socket.fd(), frame.data(), frame.size(), deadline)) {
          ::shutdown(c.socket.fd(), SHUT_RDWR);
        }
      }
    }
    // The driving thread may sleep in epoll_wait.
    const uint64_t one = 1;
    if (wakeup_.valid()) [[maybe_unused]]
      ssize_t rc = ::write(wakeup_.fd(), &one, sizeof(one));
  }
}

void TcpTransport::close() {
  std::lock_guard lock(tx_mutex_);
  if (closed_) return;
  closed_ = true;
  failure_.set(Error(ErrorCode::InvalidArgument,
                     fmt::format("rank {}: tcp transport used after close()", options_.rank)));
  const FrameHeader goodbye = make_frame_header(FrameType::Goodbye, 0, 0);
  for (Connection& c : connections_) {
    if (!c.socket.valid()) continue;
    // A goodbye only where the stream is at a frame boundary; the peer
    // tells a closed transport from a dead process by it.
    if (c.sent == 0 && !abort_sent_) {
      [[maybe_unused]] ssize_t rc =
          ::send(c.socket.fd(), &goodbye, sizeof(goodbye), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::shutdown(c.socket.fd(), SHUT_WR);
    // Unread bytes at close make the kernel reset the connection, which
    // could discard data the peer has not read yet; read them away first.
    char sink[4096];
    while (::recv(c.socket.fd(), sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    c.socket.close();
  }
  connections_.clear();
  listener_.socket.close();
  epoll_.close();
  wakeup_.close();
}

}  // namespace myriad
