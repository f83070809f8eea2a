#include "launcher/bench/p2p_bench.h"

#include <chrono>

#include "launcher/bench/progress.h"
#include "launcher/bench/stats.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kUsPerSecond = 1e6;
constexpr uint64_t kDataTag = 1;
constexpr uint64_t kAckTag = 2;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One pair's measurement, run by both members; returns (latency s, bandwidth GB/s) on `a`.
std::pair<double, double> measure_pair(Communicator& comm, int a, int b, const P2pOptions& o) {
  const bool sender = comm.rank() == a;
  const int peer = sender ? b : a;
  std::vector<std::byte> small(std::max<size_t>(o.latency_bytes, 1));
  std::vector<std::byte> big(o.bytes * static_cast<size_t>(o.window));
  TensorView ping{small.data(), o.latency_bytes, DType::U8};
  TensorView ack{small.data(), 1, DType::U8};

  std::vector<double> latencies;
  for (int i = 0; i < o.warmup + o.iterations; ++i) {
    auto start = Clock::now();
    if (sender) {
      comm.send(ping, peer, kDataTag)->wait();
      comm.recv(ping, peer, kDataTag)->wait();
    } else {
      comm.recv(ping, peer, kDataTag)->wait();
      comm.send(ping, peer, kDataTag)->wait();
    }
    if (i >= o.warmup) latencies.push_back(seconds_since(start) / 2);
  }
  std::vector<double> rates;
  for (int i = 0; i < o.warmup + o.iterations; ++i) {
    auto start = Clock::now();
    std::vector<WorkPtr> works;
    for (int w = 0; w < o.window; ++w) {
      TensorView message{big.data() + static_cast<size_t>(w) * o.bytes, o.bytes, DType::U8};
      works.push_back(sender ? comm.send(message, peer, kDataTag) : comm.recv(message, peer, kDataTag));
    }
    for (const WorkPtr& work : works) work->wait();
    if (sender) {
      comm.recv(ack, peer, kAckTag)->wait();
    } else {
      comm.send(ack, peer, kAckTag)->wait();
    }
    double seconds = seconds_since(start);
    constexpr double kBytesPerGB = 1e9;
    if (i >= o.warmup) rates.push_back(static_cast<double>(o.bytes) * o.window / seconds / kBytesPerGB);
  }
  return {percentile(latencies, 0.5), percentile(rates, 0.5)};
}

}  // namespace

P2pResult run_p2p(BenchWorld& world, const P2pOptions& options) {
  if (options.iterations < 1 || options.window < 1) {
    raise(ErrorCode::InvalidArgument, "p2p: -n {} and --window {} must be at least 1", options.iterations,
          options.window);
  }
  if (options.backend == "nccl") {
    raise(ErrorCode::NotSupported,
          "p2p: --backend nccl is not measured by `myriad bench p2p` yet; use native or mpi");
  }
  std::shared_ptr<Communicator> comm = world.communicator(options.backend);
  P2pResult result;
  result.backend = options.backend;
  result.ranks = world.size();
  result.rank_nodes = world.nodes();
  result.bytes = options.bytes;
  const int n = world.size();
  Progress progress(options.progress && world.rank() == 0, static_cast<size_t>(n * (n - 1) / 2));
  std::vector<double> mine;  // "a b latency bandwidth" of the pairs this rank led
  std::string led;
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      progress.step(fmt::format("p2p {} <-> {}", a, b));
      if (world.rank() == a || world.rank() == b) {
        auto [latency, bandwidth] = measure_pair(*comm, a, b, options);
        if (world.rank() == a) led += fmt::format("{} {} {:a} {:a};", a, b, latency, bandwidth);
      }
      world.barrier();
    }
  }
  progress.finish();
  for (const std::string& text : world.gather(led)) {
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find(';', at);
      P2pPair pair;
      double latency = 0;
      double bandwidth = 0;
      char a_text[32], b_text[32];
      std::string item = text.substr(at, end - at);
      if (std::sscanf(item.c_str(), "%31s %31s %la %la", a_text, b_text, &latency, &bandwidth) == 4) {
        pair.a = std::atoi(a_text);
        pair.b = std::atoi(b_text);
        pair.latency_us = latency * kUsPerSecond;
        pair.bandwidth_gbs = bandwidth;
        const auto& nodes = result.rank_nodes;
        pair.link = nodes[static_cast<size_t>(pair.a)] == nodes[static_cast<size_t>(pair.b)] ? "shm" : "net";
        result.pairs.push_back(pair);
      }
      at = end + 1;
    }
  }
  std::vector<double> rates;
  for (const P2pPair& pair : result.pairs) rates.push_back(pair.bandwidth_gbs);
  result.median_gbs = percentile(rates, 0.5);
  for (P2pPair& pair : result.pairs)
    pair.slow = pair.bandwidth_gbs < options.slow_fraction * result.median_gbs;
  return result;
}

std::string format_p2p(const P2pResult& result, double slow_fraction) {
  const int n = result.ranks;
  std::vector<std::vector<const P2pPair*>> at(static_cast<size_t>(n),
                                              std::vector<const P2pPair*>(static_cast<size_t>(n)));
  for (const P2pPair& pair : result.pairs) {
    at[static_cast<size_t>(pair.a)][static_cast<size_t>(pair.b)] = &pair;
    at[static_cast<size_t>(pair.b)][static_cast<size_t>(pair.a)] = &pair;
  }
  auto matrix = [&](const char* title, auto value) {
    std::string out = fmt::format("# {}\n{:>6}", title, "rank");
    for (int j = 0; j < n; ++j) out += fmt::format(" {:>9}", j);
    out += "\n";
    for (int i = 0; i < n; ++i) {
      out += fmt::format("{:>6}", i);
      for (int j = 0; j < n; ++j) {
        const P2pPair* pair = at[static_cast<size_t>(i)][static_cast<size_t>(j)];
        out += pair == nullptr ? fmt::format(" {:>9}", "-") : fmt::format(" {:9.2f}", value(*pair));
      }
      out += "\n";
    }
    return out;
  };
  std::string out = fmt::format("# myriad bench p2p: backend {}, {} rank(s), {} B messages\n", result.backend,
                                result.ranks, result.bytes);
  out += matrix("bandwidth (GB/s)", [](const P2pPair& p) { return p.bandwidth_gbs; });
  out += matrix("latency (us)", [](const P2pPair& p) { return p.latency_us; });
  out += fmt::format("# median pair bandwidth: {:.2f} GB/s\n", result.median_gbs);
  int slow = 0;
  for (const P2pPair& pair : result.pairs) {
    if (!pair.slow) continue;
    ++slow;
    out += fmt::format("# SLOW pair {}-{} ({} <-> {}, {}): {:.2f} GB/s, below {:.0f}% of the median\n",
                       pair.a, pair.b, result.rank_nodes[static_cast<size_t>(pair.a)],
                       result.rank_nodes[static_cast<size_t>(pair.b)], pair.link, pair.bandwidth_gbs,
                       slow_fraction * 100);
  }
  if (slow == 0) out += "# no slow pairs\n";
  return out;
}

nlohmann::json p2p_result_json(const P2pResult& result) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const P2pPair& p : result.pairs) {
    pairs.push_back({{"a", p.a},
                     {"b", p.b},
                     {"link", p.link},
                     {"latency_us", p.latency_us},
                     {"bandwidth_gbs", p.bandwidth_gbs},
                     {"slow", p.slow}});
  }
  return {{"version", 1},          {"tool", "myriad bench p2p"}, {"backend", result.backend},
          {"ranks", result.ranks}, {"bytes", result.bytes},      {"median_gbs", result.median_gbs},
          {"pairs", pairs}};
}

}  // namespace myriad::bench
