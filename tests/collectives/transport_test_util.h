// Helpers of the transport tests: fork ranks, exchange their pids and
// addresses through an anonymous shared mapping, drive requests.
//
// Each rank's body runs in a forked child; a failed REQUIRE (or any
// exception) makes the child print the reason and exit non-zero, which the
// parent turns into a test failure. The parent kills every child still
// running after the timeout, so a hang fails instead of blocking ctest.
#pragma once

#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "collectives/native/shm_transport.h"
#include "collectives/native/tcp_transport.h"
#include "collectives/native/transport.h"

namespace myriad::testing {

#define REQUIRE(cond, ...)                                                                             \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      throw std::runtime_error(fmt::format("{}:{}: REQUIRE({}) failed. {}", __FILE__, __LINE__, #cond, \
                                           fmt::format("" __VA_ARGS__)));                              \
    }                                                                                                  \
  } while (false)

inline constexpr int kMaxRanks = 8;
inline constexpr size_t kAddressBytes = 256;
// Bound for one test's ranks; generous, as sanitizer builds are slow.
inline constexpr std::chrono::seconds kRankTimeout{90};
// Bound for one request inside a rank.
inline constexpr std::chrono::seconds kDriveTimeout{60};

// Lives in a MAP_SHARED anonymous mapping made before fork().
struct Board {
  std::atomic<int> arrived{0};
  std::atomic<int> pids[kMaxRanks];
  char addresses[kMaxRanks][kAddressBytes];

  // Blocks until all `n` ranks arrived (usable any number of times).
  void barrier(int n) {
    const int ticket = arrived.fetch_add(1) + 1;
    const int target = (ticket + n - 1) / n * n;
    while (arrived.load() < target) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
};

class SharedBoard {
 public:
  SharedBoard() {
    void* p = mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap board");
    board_ = new (p) Board{};
  }
  ~SharedBoard() { munmap(board_, sizeof(Board)); }
  Board* get() const { return board_; }

 private:
  Board* board_;
};

// A fresh run id per call, so that tests never share segment names.
inline std::string unique_run_id() {
  static std::atomic<int> counter{0};
  return fmt::format("test{}x{}", getpid(), counter.fetch_add(1));
}

// Runs body(rank) in `n` forked children; returns their wait statuses.
inline std::vector<int> run_ranks(int n, const std::function<void(int)>& body,
                                  std::chrono::seconds timeout = kRankTimeout) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  for (int rank = 0; rank < n; ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      int code = 0;
      try {
        body(rank);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "rank %d failed: %s\n", rank, error.what());
        code = 1;
      }
      std::fflush(stderr);
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> statuses(static_cast<size_t>(n), -1);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int left = n;
  while (left > 0) {
    for (int i = 0; i < n; ++i) {
      if (statuses[static_cast<size_t>(i)] != -1) continue;
      int status = 0;
      if (waitpid(pids[static_cast<size_t>(i)], &status, WNOHANG) == pids[static_cast<size_t>(i)]) {
        statuses[static_cast<size_t>(i)] = status;
        --left;
      }
    }
    if (left > 0 && std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "ranks timed out; killing them\n");
      for (int i = 0; i < n; ++i) {
        if (statuses[static_cast<size_t>(i)] == -1) kill(pids[static_cast<size_t>(i)], SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return statuses;
}

inline bool exited_ok(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline std::unique_ptr<Transport> make(const std::string& kind, const TransportOptions& options,
                                       size_t slot_bytes = kShmSlotBytes) {
  if (kind == "shm") return std::make_unique<ShmTransport>(options, ShmConfig{.slot_bytes = slot_bytes});
  return std::make_unique<TcpTransport>(options);
}

inline TransportOptions options_for(int rank, int size, const std::string& run_id) {
  TransportOptions options;
  options.rank = rank;
  options.size = size;
  options.run_id = run_id;
  options.comm_id = "c0";
  return options;
}

inline SendRequest send_request(int peer, const void* data, size_t bytes, uint64_t tag) {
  SendRequest request;
  request.peer = peer;
  request.data = data;
  request.bytes = bytes;
  request.tag = tag;
  return request;
}

inline RecvRequest recv_request(int peer, size_t bytes, uint64_t tag, Consumer consumer = {}) {
  RecvRequest request;
  request.peer = peer;
  request.bytes = bytes;
  request.tag = tag;
  request.consumer = std::move(consumer);
  return request;
}

// Builds this rank's transport and connects it to every other rank.
inline std::unique_ptr<Transport> connect_all(const std::string& kind, Board* board, int rank, int n,
                                              const std::string& run_id, size_t slot_bytes = kShmSlotBytes) {
  board->pids[rank].store(getpid());
  board->barrier(n);
  TransportOptions options = options_for(rank, n, run_id);
  for (int r = 0; r < n; ++r) options.pids.push_back(board->pids[r].load());
  std::unique_ptr<Transport> transport = make(kind, options, slot_bytes);
  const std::string address = transport->address();
  REQUIRE(address.size() < kAddressBytes);
  std::strcpy(board->addresses[rank], address.c_str());
  board->barrier(n);
  std::vector<std::string> addresses;
  std::vector<int> peers;
  for (int r = 0; r < n; ++r) {
    addresses.emplace_back(board->addresses[r]);
    if (r != rank) peers.push_back(r);
  }
  transport->connect(peers, addresses, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  return transport;
}

// Progresses until done() or the drive timeout.
inline void drive(Transport& transport, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kDriveTimeout;
  while (!done()) {
    if (!transport.progress()) transport.wait_for_activity(std::chrono::milliseconds(5));
    REQUIRE(std::chrono::steady_clock::now() < deadline, "request did not finish in time");
  }
}

inline uint8_t pattern(int src, int dst, uint64_t seq, size_t i) {
  return static_cast<uint8_t>(src * 131 + dst * 31 + seq * 7 + i * 13 + (i >> 9));
}

inline std::vector<uint8_t> make_message(int src, int dst, uint64_t seq, size_t bytes) {
  std::vector<uint8_t> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = pattern(src, dst, seq, i);
  return data;
}

// A receive that collects its pieces and checks that they come in order.
struct Collector {
  std::vector<uint8_t> data;
  uint64_t next = 0;
  bool out_of_order = false;

  Consumer consumer() {
    return [this](uint64_t offset, const void* bytes, size_t n) {
      if (offset != next || offset + n > data.size()) out_of_order = true;
      if (!out_of_order) std::memcpy(data.data() + offset, bytes, n);
      next = offset + n;
    };
  }
};

// Names in /dev/shm that start with myriad-<run_id>-.
inline std::vector<std::string> shm_leftovers(const std::string& run_id) {
  glob_t found{};
  std::vector<std::string> names;
  if (glob(fmt::format("/dev/shm/myriad-{}-*", run_id).c_str(), 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) names.emplace_back(found.gl_pathv[i]);
  }
  globfree(&found);
  return names;
}

}  // namespace myriad::testing
