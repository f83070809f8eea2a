#include "runtime/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad {
namespace {

using Clock = std::chrono::steady_clock;

// A deadline this far away stands for "no deadline": far enough for any
// caller, near enough that condition variables and poll never overflow.
constexpr std::chrono::hours kFarFuture{24 * 365 * 10};

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoList resolve(std::string_view host, uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  std::string host_text(host);
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(host_text.empty() ? nullptr : host_text.c_str(), port_text.c_str(), &hints, &result);
  if (rc != 0) {
    raise(ErrorCode::Unavailable, "cannot resolve host '{}': {}", host, gai_strerror(rc));
  }
  return AddrInfoList(result);
}

// Milliseconds poll() may wait before deadline: at least 0, at most INT_MAX.
int poll_timeout_ms(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

// Waits until fd is ready for `events` or deadline passes; false on timeout.
bool wait_ready(int fd, short events, Deadline deadline, std::string_view what) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) {
      if (Clock::now() >= deadline) return false;
      continue;  // poll rounds to milliseconds; wait out the remainder
    }
    if (errno != EINTR) raise_errno(errno, fmt::format("{}: poll", what));
  }
}

bool is_connection_lost(int err) {
  return err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ECONNABORTED || err == ETIMEDOUT;
}

std::string sockaddr_to_string(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return HostPort{text, ntohs(in->sin_port)}.to_string();
  }
  if (address->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return HostPort{text, ntohs(in6->sin6_port)}.to_string();
  }
  return "unknown peer";
}

}  // namespace

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

HostPort parse_host_port(std::string_view text, std::string_view what) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == ':') {
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
  }
  if (host.empty() || port.empty()) {
    raise(ErrorCode::InvalidArgument, "{}='{}' is not an address: expected host:port or [v6addr]:port", what,
          text);
  }
  return HostPort{std::string(host),
                  static_cast<uint16_t>(config::parse_int(port, fmt::format("port of {}", what), 1, 65535))};
}

Deadline deadline_after(std::chrono::milliseconds timeout) {
  Deadline now = Clock::now();
  if (timeout <= std::chrono::milliseconds::zero()) return now;
  if (timeout >= kFarFuture) return now + kFarFuture;
  return now + timeout;
}

void set_nonblocking(int fd, bool nonblocking) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0) raise_errno(errno, "fcntl(F_GETFL)");
  flags = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) < 0) raise_errno(errno, "fcntl(F_SETFL)");
}

void set_nodelay(int fd) {
  // Store requests and transport headers are small and latency-bound:
  // Nagle's algorithm would hold each one back for an acknowledgement.
  int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0) raise_errno(errno, "TCP_NODELAY");
}

namespace {

// Binds the first of host's addresses that takes port (SO_REUSEADDR), listening with `backlog` when it is
// not negative; returns the socket and the port it got.
std::pair<Socket, uint16_t> bind_tcp(std::string_view host, uint16_t port, int socket_flags, int backlog,
                                     std::string_view what) {
  AddrInfoList addresses = resolve(host, port, /*passive=*/true);
  int last_error = 0;
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Socket socket(::socket(a->ai_family, a->ai_socktype | socket_flags, a->ai_protocol));
    if (!socket.valid()) {
      last_error = errno;
      continue;
    }
    int on = 1;
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(socket.fd(), a->ai_addr, a->ai_addrlen) < 0 ||
        (backlog >= 0 && ::listen(socket.fd(), backlog) < 0)) {
      last_error = errno;
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    if (::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&bound), &length) < 0) {
      raise_errno(errno, "getsockname");
    }
    uint16_t bound_port = bound.ss_family == AF_INET6
                              ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                              : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return {std::move(socket), bound_port};
  }
  raise_errno(last_error, fmt::format("cannot {} {}", what, HostPort{std::string(host), port}.to_string()));
}

}  // namespace

ListeningSocket listen_tcp(std::string_view host, uint16_t port, int backlog) {
  auto [socket, bound] = bind_tcp(host, port, SOCK_NONBLOCK | SOCK_CLOEXEC, backlog, "listen on");
  return ListeningSocket{std::move(socket), bound};
}

PortReservation reserve_port(std::string_view host, bool inherit) {
  auto [socket, bound] = bind_tcp(host, 0, inherit ? 0 : SOCK_CLOEXEC, /*backlog=*/-1, "reserve a port on");
  return PortReservation{std::move(socket), bound};
}

Socket connect_tcp(const HostPort& address, Deadline deadline) {
  AddrInfoList addresses = resolve(address.host, address.port, /*passive=*/false);
  std::string reason = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    Socket socket(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!socket.valid()) raise_errno(errno, "socket");
    int rc = ::connect(socket.fd(), a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
      reason = std::strerror(errno);
      continue;
    }
    if (rc < 0) {
      std::string what = fmt::format("connect to {}", address.to_string());
      if (!wait_ready(socket.fd(), POLLOUT, deadline, what)) {
        reason = "timed out";
        continue;
      }
      int err = 0;
      socklen_t length = sizeof(err);
      ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &err, &length);
      if (err != 0) {
        reason = std::strerror(err);
        continue;
      }
    }
    set_nodelay(socket.fd());
    return socket;
  }
  raise(ErrorCode::Unavailable, "cannot connect to {}: {}", address.to_string(), reason);
}

void read_full(int fd, void* data, size_t size, Deadline deadline, std::string_view what) {
  auto* out = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::recv(fd, out, size, 0);
    if (n > 0) {
      out += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) raise(ErrorCode::PeerFailure, "{}: connection closed by the peer", what);
    if (errno == EINTR) continue;
    if (is_connection_lost(errno)) raise(ErrorCode::PeerFailure, "{}: {}", what, std::strerror(errno));
    if (errno != EAGAIN && errno != EWOULDBLOCK) raise_errno(errno, what);
    if (!wait_ready(fd, POLLIN, deadline, what)) raise(ErrorCode::Timeout, "{}: timed out", what);
  }
}

void write_full(int fd, const void* data, size_t size, Deadline deadline, std::string_view what) {
  const auto* in = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd, in, size, MSG_NOSIGNAL);
    if (n >= 0) {
      in += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (is_connection_lost(errno)) raise(ErrorCode::PeerFailure, "{}: {}", what, std::strerror(errno));
    if (errno != EAGAIN && errno != EWOULDBLOCK) raise_errno(errno, what);
    if (!wait_ready(fd, POLLOUT, deadline, what)) raise(ErrorCode::Timeout, "{}: timed out", what);
  }
}

bool peer_closed_or_spoke(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, 0);
  } while (rc < 0 && errno == EINTR);
  return rc != 0;  // an error from poll itself also means the socket is unusable
}

std::string peer_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "unknown peer";
  return sockaddr_to_string(reinterpret_cast<sockaddr*>(&address));
}

uint64_t raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) raise_errno(errno, "getrlimit(RLIMIT_NOFILE)");
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) < 0) raise_errno(errno, "setrlimit(RLIMIT_NOFILE)");
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace myriad
