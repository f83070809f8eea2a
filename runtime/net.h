// Networking basics shared by the store, the launcher and the TCP transport:
// host:port addresses, a move-only socket that closes itself, and bounded
// blocking helpers (listen, connect, read, write) built on non-blocking
// sockets and poll(), so that every wait has a deadline.
//
// Functions throw Error(InvalidArgument) for malformed addresses (naming
// `what`, e.g. the variable or flag the text came from) and Error(Io) or
// Error(Unavailable) for failures of the operating system or the peer.
// read_full/write_full throw Error(PeerFailure) when the peer closed or
// reset the connection and Error(Timeout) when the deadline passed; after
// either the socket's stream position is unknown and the caller closes it.
//
// Thread-safety: the free functions are thread-safe; one Socket must not be
// used from two threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/unique_fd.h"

namespace myriad {

struct HostPort {
  std::string host;
  uint16_t port = 0;

  // "host:port"; an IPv6 host is written in brackets.
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" or "[v6addr]:port". `what` names the source in errors.
HostPort parse_host_port(std::string_view text, std::string_view what);

using Deadline = std::chrono::steady_clock::time_point;

// now + timeout, saturating: a huge timeout (milliseconds::max()) becomes a
// deadline years away instead of overflowing the clock.
Deadline deadline_after(std::chrono::milliseconds timeout);

// A socket is a descriptor like any other: its one owner is UniqueFd.
using Socket = UniqueFd;

struct ListeningSocket {
  Socket socket;      // non-blocking, close-on-exec, SO_REUSEADDR
  uint16_t port = 0;  // the bound port (the one the system chose for port 0)
};

// Binds host:port and listens with `backlog` (the kernel caps it at
// net.core.somaxconn). SO_REUSEADDR lets a restarted server take the port of
// one whose connections are still in TIME_WAIT.
ListeningSocket listen_tcp(std::string_view host, uint16_t port, int backlog);

// A port held for another process's server. The socket is bound to
// host:0 with SO_REUSEADDR and never listens: the kernel then gives the port
// to no other bind(port 0) and to no outgoing connection, while a server
// that sets SO_REUSEADDR itself (torch's TCPStore does, with either of its
// backends) can still bind and listen on it. Holding the port until that
// server runs closes the window in which "find a free port, then tell the
// server" loses the port to someone else. Close-on-exec unless
// `inherit` (for a process that execs the server itself).
struct PortReservation {
  Socket socket;
  uint16_t port = 0;
};
PortReservation reserve_port(std::string_view host, bool inherit = false);

// Connects to address before deadline (non-blocking connect + poll, trying
// each resolved address). The socket returned is non-blocking with
// TCP_NODELAY set. Throws Error(Unavailable) naming the address when the
// connection is refused or the deadline passes.
Socket connect_tcp(const HostPort& address, Deadline deadline);

void set_nonblocking(int fd, bool nonblocking);
void set_nodelay(int fd);

// Reads exactly `size` bytes, waiting with poll until deadline. EINTR-safe.
// `what` names the operation and peer in errors.
void read_full(int fd, void* data, size_t size, Deadline deadline, std::string_view what);
// Writes exactly `size` bytes (MSG_NOSIGNAL: a closed peer is an error, not
// SIGPIPE), waiting with poll until deadline. EINTR-safe.
void write_full(int fd, const void* data, size_t size, Deadline deadline, std::string_view what);

// True when the peer closed or reset the connection or sent data: for a
// request/reply protocol whose server never speaks first, any of these means
// the connection cannot carry another request. Does not wait.
bool peer_closed_or_spoke(int fd);

// "host:port" of the peer of a connected socket, or "unknown peer".
std::string peer_address(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit (a server of thousands of
// clients needs one descriptor each). Returns the new soft limit.
uint64_t raise_fd_limit();

}  // namespace myriad
