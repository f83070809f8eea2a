#include "launcher/bench/membw_bench.h"

#include <chrono>
#include <cstring>

#include "launcher/bench/device.h"
#include "launcher/bench/stats.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kBytesPerGB = 1e9;
constexpr double kTriadScale = 3.0;
// STREAM's accounting: bytes read plus bytes written per element.
constexpr double kCopyTraffic = 2.0;
constexpr double kTriadTraffic = 3.0;

template <typename Fn>
double median_seconds(int iterations, Fn fn) {
  std::vector<double> samples;
  for (int i = 0; i < iterations; ++i) {
    auto start = Clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return percentile(samples, 0.5);
}

}  // namespace

MembwResult run_membw(BenchWorld& world, const MembwOptions& options) {
  if (options.iterations < 1)
    raise(ErrorCode::InvalidArgument, "membw: -n {} must be at least 1", options.iterations);
  const size_t count = std::max<size_t>(options.bytes / sizeof(double), 1);
  const double bytes = static_cast<double>(count * sizeof(double));
  // Touched once before timing, so that page faults are not measured.
  std::vector<double> a(count, 0.0);
  std::vector<double> b(count, 1.0);
  std::vector<double> c(count, 2.0);
  world.barrier();
  double copy =
      median_seconds(options.iterations, [&] { std::memcpy(a.data(), b.data(), count * sizeof(double)); });
  double triad = median_seconds(options.iterations, [&] {
    double* __restrict out = a.data();
    const double* __restrict x = b.data();
    const double* __restrict y = c.data();
    for (size_t i = 0; i < count; ++i) out[i] = x[i] + kTriadScale * y[i];
  });
  // Keep the triad's result observable so the loop is not elided.
  volatile double sink = a[count / 2];
  (void)sink;
  double device_gbs = -1;
  if (options.device && device_count() > 0) {
    device_gbs =
        device_copy_gbs(world.world()->local_rank() % device_count(), options.bytes, options.iterations);
  }
  std::vector<double> copies = world.gather(kCopyTraffic * bytes / copy / kBytesPerGB);
  std::vector<double> triads = world.gather(kTriadTraffic * bytes / triad / kBytesPerGB);
  std::vector<double> devices = world.gather(device_gbs);
  MembwResult result;
  result.bytes = count * sizeof(double);
  for (int r = 0; r < world.size(); ++r) {
    size_t i = static_cast<size_t>(r);
    MembwRank rank{world.nodes()[i], copies[i], triads[i], devices[i]};
    result.node_copy_gbs[rank.node] += rank.copy_gbs;
    result.node_triad_gbs[rank.node] += rank.triad_gbs;
    result.ranks.push_back(rank);
  }
  return result;
}

std::string format_membw(const MembwResult& result) {
  std::string out =
      fmt::format("# myriad bench membw: {} B arrays, STREAM accounting (copy 2x, triad 3x)\n", result.bytes);
  out += fmt::format("#{:>5}  {:>16}  {:>10}  {:>10}  {:>14}\n", "rank", "node", "copy GB/s", "triad GB/s",
                     "device GB/s");
  for (size_t r = 0; r < result.ranks.size(); ++r) {
    const MembwRank& rank = result.ranks[r];
    std::string device = rank.device_copy_gbs < 0 ? "-" : fmt::format("{:.2f}", rank.device_copy_gbs);
    out += fmt::format("{:>6}  {:>16}  {:10.2f}  {:10.2f}  {:>14}\n", r, rank.node, rank.copy_gbs,
                       rank.triad_gbs, device);
  }
  for (const auto& [node, copy] : result.node_copy_gbs) {
    out += fmt::format("# node {}: copy {:.2f} GB/s, triad {:.2f} GB/s (sum of its ranks)\n", node, copy,
                       result.node_triad_gbs.at(node));
  }
  return out;
}

nlohmann::json membw_result_json(const MembwResult& result) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const MembwRank& r : result.ranks) {
    ranks.push_back({{"node", r.node},
                     {"copy_gbs", r.copy_gbs},
                     {"triad_gbs", r.triad_gbs},
                     {"device_copy_gbs",
                      r.device_copy_gbs < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.device_copy_gbs)}});
  }
  return {
      {"version", 1},   {"tool", "myriad bench membw"},          {"bytes", result.bytes},
      {"ranks", ranks}, {"node_copy_gbs", result.node_copy_gbs}, {"node_triad_gbs", result.node_triad_gbs}};
}

}  // namespace myriad::bench
