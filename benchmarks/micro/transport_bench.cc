// Transport micro-benchmarks: shm and tcp between two forked processes.
//
//   ping-pong: 8 B there and back per iteration (latency = time / 2)
//   stream:    one message of 1 MiB or 64 MiB per iteration, received into a
//              destination buffer (memcpy out of the transport's buffer, as a
//              plain receive does), then a 0-byte acknowledgement
//
// The peer (rank 1) is forked per benchmark run, before timing starts; it
// serves until rank 0 closes its transport. Extra arguments select fifo
// cells (shm) and staging/socket buffers (tcp) so that the constants in
// shm_transport.h and tcp_transport.h can be chosen by measurement.
// Figures and the command: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collectives/native/shm_transport.h"
#include "collectives/native/tcp_transport.h"

namespace myriad {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::microseconds kWait{1000};

struct Board {
  std::atomic<int> arrived{0};
  std::atomic<int> pids[2];
  char addresses[2][256];
  void barrier() {
    const int ticket = arrived.fetch_add(1) + 1;
    const int target = (ticket + 1) / 2 * 2;
    while (arrived.load() < target) std::this_thread::yield();
  }
};

struct Setup {
  bool shm = true;
  size_t bytes = 8;
  bool echo = true;  // ping-pong; else stream with a 0-byte acknowledgement
  ShmConfig shm_config;
  TcpConfig tcp_config;
};

std::unique_ptr<Transport> connect_rank(const Setup& setup, Board* board, int rank,
                                        const std::string& run_id) {
  board->pids[rank].store(getpid());
  board->barrier();
  TransportOptions options;
  options.rank = rank;
  options.size = 2;
  options.run_id = run_id;
  options.comm_id = "bench";
  options.pids = {board->pids[0].load(), board->pids[1].load()};
  std::unique_ptr<Transport> t;
  if (setup.shm) {
    t = std::make_unique<ShmTransport>(options, setup.shm_config);
  } else {
    t = std::make_unique<TcpTransport>(options, setup.tcp_config);
  }
  std::strcpy(board->addresses[rank], t->address().c_str());
  board->barrier();
  t->connect({1 - rank}, {board->addresses[0], board->addresses[1]}, Clock::now() + std::chrono::seconds(30));
  return t;
}

void drive(Transport& t, const bool& done) {
  while (!done) {
    if (!t.progress()) t.wait_for_activity(kWait);
  }
}

// One message each way: send `bytes`, then receive `reply` bytes into `out`.
void exchange(Transport& t, int peer, const char* data, size_t bytes, char* out, size_t reply, uint64_t tag,
              bool send_first) {
  SendRequest send;
  send.peer = peer;
  send.data = data;
  send.bytes = bytes;
  send.tag = tag;
  RecvRequest recv;
  recv.peer = peer;
  recv.bytes = reply;
  recv.tag = tag;
  recv.consumer = [out](uint64_t offset, const void* piece, size_t n) {
    std::memcpy(out + offset, piece, n);
  };
  if (send_first) {
    t.post(&send);
    drive(t, send.complete);
    t.post(&recv);
    drive(t, recv.complete);
  } else {
    t.post(&recv);
    drive(t, recv.complete);
    t.post(&send);
    drive(t, send.complete);
  }
}

void serve(const Setup& setup, Board* board, const std::string& run_id) {
  auto t = connect_rank(setup, board, 1, run_id);
  std::vector<char> in(setup.bytes, 1), out(setup.echo ? setup.bytes : 0, 2);
  try {
    for (uint64_t tag = 0;; ++tag) exchange(*t, 0, out.data(), out.size(), in.data(), in.size(), tag, false);
  } catch (const Error&) {
    // Rank 0 closed its transport: the run is over.
  }
}

void run(benchmark::State& state, Setup setup) {
  auto* board =
      new (mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) Board{};
  static std::atomic<int> counter{0};
  const std::string run_id = "bench" + std::to_string(getpid()) + "x" + std::to_string(counter++);
  const pid_t child = fork();
  if (child == 0) {
    serve(setup, board, run_id);
    _exit(0);
  }
  {
    auto t = connect_rank(setup, board, 0, run_id);
    std::vector<char> out(setup.bytes, 3), in(setup.echo ? setup.bytes : 0, 4);
    uint64_t tag = 0;
    for (int i = 0; i < 3; ++i, ++tag) {  // warm the pages and the connection
      exchange(*t, 1, out.data(), out.size(), in.data(), in.size(), tag, true);
    }
    for (auto _ : state) {
      exchange(*t, 1, out.data(), out.size(), in.data(), in.size(), tag++, true);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * setup.bytes * (setup.echo ? 2 : 1)));
  }
  int status = 0;
  waitpid(child, &status, 0);
  munmap(board, sizeof(Board));
}

// Args: bytes, cell KiB, cells, spin microseconds before the futex sleep (-1: default).
void BM_Shm(benchmark::State& state) {
  Setup setup;
  if (state.range(3) >= 0) setup.shm_config.spin = std::chrono::microseconds(state.range(3));
  setup.bytes = static_cast<size_t>(state.range(0));
  setup.echo = setup.bytes <= 64;
  if (state.range(1) > 0) setup.shm_config.slot_bytes = static_cast<size_t>(state.range(1)) << 10;
  if (state.range(2) > 0) setup.shm_config.slots = static_cast<uint32_t>(state.range(2));
  run(state, setup);
}

// Args: bytes, staging KiB, socket buffer KiB (0: kernel autotuning).
void BM_Tcp(benchmark::State& state) {
  Setup setup;
  setup.shm = false;
  setup.bytes = static_cast<size_t>(state.range(0));
  setup.echo = setup.bytes <= 64;
  if (state.range(1) > 0) setup.tcp_config.staging_bytes = static_cast<size_t>(state.range(1)) << 10;
  setup.tcp_config.socket_buffer_bytes = static_cast<int>(state.range(2) << 10);
  run(state, setup);
}

constexpr int64_t kMiB = 1 << 20;

// The defaults: ping-pong 8 B, stream 1 MiB and 64 MiB.
BENCHMARK(BM_Shm)
    ->ArgNames({"bytes", "cell_KiB", "cells", "spin_us"})
    ->Args({8, 0, 0, -1})
    ->Args({kMiB, 0, 0, -1})
    ->Args({64 * kMiB, 0, 0, -1})
    ->UseRealTime();
BENCHMARK(BM_Tcp)
    ->ArgNames({"bytes", "staging_KiB", "sockbuf_KiB"})
    ->Args({8, 0, 0})
    ->Args({kMiB, 0, 0})
    ->Args({64 * kMiB, 0, 0})
    ->UseRealTime();

// Sweeps behind the constants (filter with --benchmark_filter=Sweep).
void BM_ShmSweep(benchmark::State& state) {
  BM_Shm(state);
}
void BM_TcpSweep(benchmark::State& state) {
  BM_Tcp(state);
}
BENCHMARK(BM_ShmSweep)
    ->ArgNames({"bytes", "cell_KiB", "cells", "spin_us"})
    ->ArgsProduct({{kMiB, 64 * kMiB}, {64, 256, 1024}, {4, 8, 16}, {-1}})
    ->UseRealTime();
BENCHMARK(BM_ShmSweep)
    ->ArgNames({"bytes", "cell_KiB", "cells", "spin_us"})
    ->ArgsProduct({{8}, {0}, {0}, {0, 5, 20, 100}})
    ->UseRealTime();
BENCHMARK(BM_TcpSweep)
    ->ArgNames({"bytes", "staging_KiB", "sockbuf_KiB"})
    ->ArgsProduct({{kMiB, 64 * kMiB}, {64, 256, 1024}, {0, 4096}})
    ->UseRealTime();

}  // namespace
}  // namespace myriad

BENCHMARK_MAIN();
