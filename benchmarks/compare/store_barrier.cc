// A barrier of N clients through one store, each client its own TCP
// connection, all driven by one epoll loop in this process (N threads
// would measure the scheduler, not the store). Every client authenticates
// before the clock starts; then each sends ADD(count, 1), the one that
// reads N sets `done`, and every client sends WAIT(done) after its ADD
// reply. Prints one JSON line per repetition: the time from the first ADD
// to the last WAIT reply, and the store operations (2N + 1).
//
//   store_barrier --store 127.0.0.1:PORT --token T --clients 16384 --repeat 3
//
// Run against `myriad store` in its own process by
// benchmarks/compare/store_barrier.py, which also runs torch's TCPStore
// barrier of as many threads beside it.
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/net.h"
#include "runtime/store_protocol.h"
#include "runtime/unique_fd.h"

namespace {

namespace proto = myriad::store_protocol;
using Clock = std::chrono::steady_clock;
using myriad::ErrorCode;
using myriad::raise;

// One client: its socket and the reply bytes read so far.
struct Client {
  myriad::UniqueFd fd;
  std::string in;
  int step = 0;  // 0 authenticating, 1 adding, 4 opening the barrier, 2 waiting, 3 done
};

[[noreturn]] void fail(const char* what) {
  myriad::raise_errno(errno, what);
}

void send_all(int fd, const std::string& frame) {
  size_t sent = 0;
  while (sent < frame.size()) {
    ssize_t n = ::send(fd, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("store_barrier: send");
    sent += static_cast<size_t>(n);
  }
}

// The next complete reply in c.in, if any: its opcode and body.
bool next_reply(Client& c, uint8_t& op, std::string& body) {
  if (c.in.size() < proto::kHeaderBytes) return false;
  proto::Header h =
      proto::decode_header(std::span<const char, proto::kHeaderBytes>(c.in.data(), proto::kHeaderBytes));
  if (c.in.size() < proto::kHeaderBytes + h.body_bytes) return false;
  op = h.op;
  body = c.in.substr(proto::kHeaderBytes, h.body_bytes);
  c.in.erase(0, proto::kHeaderBytes + h.body_bytes);
  return true;
}

class Barrier {
 public:
  Barrier(myriad::HostPort store, std::string token, int clients)
      : store_(std::move(store)),
        token_(std::move(token)),
        n_(clients),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_.fd() < 0) fail("store_barrier: epoll_create1");
  }

  // Connects and authenticates every client (not timed).
  void connect_all() {
    clients_.resize(static_cast<size_t>(n_));
    std::string auth = proto::Writer(proto::Op::Auth).str(token_).finish();
    for (int k = 0; k < n_; ++k) {
      Client& c = clients_[static_cast<size_t>(k)];
      c.fd = myriad::connect_tcp(store_, myriad::deadline_after(std::chrono::seconds(60)));
      int one = 1;
      ::setsockopt(c.fd.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<uint64_t>(k);
      if (::epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, c.fd.fd(), &ev) != 0) fail("store_barrier: epoll_ctl");
      send_all(c.fd.fd(), auth);
    }
    pending_ = n_;
    run();
  }

  // One barrier under `name`; seconds from the first ADD to the last reply.
  double barrier(const std::string& name) {
    count_key_ = name + "/count";
    done_key_ = name + "/done";
    std::string add = proto::Writer(proto::Op::Add).str(count_key_).i64(1).finish();
    pending_ = n_;
    const Clock::time_point start = Clock::now();
    for (Client& c : clients_) {
      c.step = 1;
      send_all(c.fd.fd(), add);
    }
    run();
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  void run() {
    std::array<epoll_event, 512> events{};
    std::array<char, 4096> buffer{};
    while (pending_ > 0) {
      int ready = ::epoll_wait(epoll_.fd(), events.data(), static_cast<int>(events.size()), 60'000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) fail("store_barrier: epoll_wait");
      if (ready == 0)
        raise(ErrorCode::Timeout, "store_barrier: {} clients still waiting after 60 s", pending_);
      for (int i = 0; i < ready; ++i) {
        auto k = static_cast<size_t>(events[static_cast<size_t>(i)].data.u64);
        Client& c = clients_[k];
        ssize_t n = ::recv(c.fd.fd(), buffer.data(), buffer.size(), 0);
        if (n <= 0) raise(ErrorCode::PeerFailure, "store_barrier: the store closed client {}", k);
        c.in.append(buffer.data(), static_cast<size_t>(n));
        uint8_t op = 0;
        std::string body;
        while (next_reply(c, op, body)) on_reply(c, k, op, body);
      }
    }
  }

  void send_wait(Client& c) {
    c.step = 2;
    send_all(c.fd.fd(),
             proto::Writer(proto::Op::Wait).keys({done_key_}).millis(std::chrono::seconds(60)).finish());
  }

  void on_reply(Client& c, size_t k, uint8_t op, const std::string& body) {
    if (op != static_cast<uint8_t>(proto::Op::Ok)) {
      raise(ErrorCode::PeerFailure, "store_barrier: client {} got {} at step {}", k, proto::op_name(op),
            c.step);
    }
    switch (c.step) {
      case 0:
        c.step = 3;
        --pending_;
        break;  // authenticated
      case 1:   // the ADD's reply: the last arrival opens the barrier, then waits like the others
        if (proto::Reader(body).i64() == n_) {
          send_all(c.fd.fd(), proto::Writer(proto::Op::Set).str(done_key_).str("1").finish());
          c.step = 4;
        } else {
          send_wait(c);
        }
        break;
      case 4: send_wait(c); break;  // the SET's reply
      case 2:
        c.step = 3;
        --pending_;
        break;
      default: raise(ErrorCode::Internal, "store_barrier: client {} got a reply it did not ask for", k);
    }
  }

  myriad::HostPort store_;
  std::string token_;
  int n_;
  myriad::UniqueFd epoll_;
  std::vector<Client> clients_;
  int pending_ = 0;
  std::string count_key_, done_key_;
};

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"A barrier of N store clients driven by one epoll loop"};
  std::string store;
  std::string token;
  int clients = 16384;
  int repeat = 3;
  app.add_option("--store", store, "host:port of a running `myriad store`")->required();
  app.add_option("--token", token, "the store's token")->required();
  app.add_option("--clients", clients, "clients in the barrier")->check(CLI::PositiveNumber);
  app.add_option("--repeat", repeat, "barriers measured")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (static_cast<rlim_t>(clients) + 16 > files.rlim_cur) {
    raise(ErrorCode::InvalidArgument, "--clients {}: this process may open only {} files", clients,
          files.rlim_cur);
  }
  Barrier b(myriad::parse_host_port(store, "--store"), token, clients);
  b.connect_all();
  for (int r = 0; r < repeat; ++r) {
    double seconds = b.barrier(fmt::format("barrier/{}", r));
    std::puts(nlohmann::json{
        {"clients", clients}, {"repetition", r}, {"barrier_s", seconds}, {"store_ops", 2 * clients + 1}}
                  .dump()
                  .c_str());
    std::fflush(stdout);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_barrier: %s\n", e.what());
    return 1;
  }
}
