#include "launcher/bench/accept.h"

#include <algorithm>

#include "launcher/bench/device.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

// The sweep behind a coll check starts this many times below its size.
constexpr size_t kSweepSpan = 64;
constexpr double kSweepFactor = 4.0;
constexpr int kCollWarmup = 2;

// Judges per-item values against a minimum (or a maximum), naming the worst and the failing items.
Verdict judge(std::string check, const std::vector<std::pair<std::string, double>>& items, double threshold,
              bool at_least, const std::string& unit) {
  Verdict v;
  v.check = std::move(check);
  v.expected = fmt::format("{} {:g} {}", at_least ? ">=" : "<=", threshold, unit);
  if (items.empty()) {
    v.measured = "nothing measured";
    v.failing = "no item to measure";
    return v;
  }
  auto worst = std::min_element(items.begin(), items.end(), [&](const auto& a, const auto& b) {
    return at_least ? a.second < b.second : a.second > b.second;
  });
  v.measured = fmt::format("{:.2f} {} (worst: {})", worst->second, unit, worst->first);
  std::vector<std::string> failing;
  for (const auto& [name, value] : items) {
    if (at_least ? value < threshold : value > threshold)
      failing.push_back(fmt::format("{} {:.2f}", name, value));
  }
  v.pass = failing.empty();
  if (!v.pass) v.failing = fmt::format("{}", fmt::join(failing, ", "));
  return v;
}

Verdict count_verdict(const std::string& check, int measured, int expected, const std::string& detail) {
  Verdict v;
  v.check = check;
  v.pass = measured == expected;
  v.measured = std::to_string(measured);
  v.expected = fmt::format("== {}", expected);
  if (!v.pass) v.failing = detail;
  return v;
}

Verdict could_not_run(const std::string& check, const std::string& expected, const std::string& why) {
  Verdict v;
  v.check = check;
  v.measured = "not measured";
  v.expected = expected;
  v.failing = why;
  return v;
}

void check_counts(BenchWorld& world, const AcceptSpec& spec, AcceptResult& out) {
  if (spec.nodes)
    out.verdicts.push_back(count_verdict("nodes", world.num_nodes(), *spec.nodes, "node count differs"));
  if (spec.ranks)
    out.verdicts.push_back(count_verdict("ranks", world.size(), *spec.ranks, "rank count differs"));
  if (spec.gpus_per_node) {
    std::vector<uint64_t> gpus = world.gather(static_cast<uint64_t>(device_count()));
    std::map<std::string, uint64_t> per_node;
    for (size_t r = 0; r < gpus.size(); ++r)
      per_node[world.nodes()[r]] = std::max(per_node[world.nodes()[r]], gpus[r]);
    Verdict v;
    v.check = "gpus_per_node";
    v.expected = fmt::format("== {}", *spec.gpus_per_node);
    std::vector<std::string> failing;
    uint64_t fewest = UINT64_MAX;
    for (const auto& [node, count] : per_node) {
      fewest = std::min(fewest, count);
      if (count != static_cast<uint64_t>(*spec.gpus_per_node))
        failing.push_back(fmt::format("node {} has {}", node, count));
    }
    v.measured = fmt::format("{} (fewest on a node)", fewest);
    v.pass = failing.empty();
    if (!v.pass) v.failing = fmt::format("{}", fmt::join(failing, ", "));
    out.verdicts.push_back(v);
  }
}

void check_membw(BenchWorld& world, const MembwCheck& check, AcceptResult& out) {
  MembwOptions options;
  options.bytes = check.bytes;
  options.iterations = check.iterations;
  options.device = check.device_copy_gbs.has_value();
  MembwResult result = run_membw(world, options);
  auto nodes_of = [](const std::map<std::string, double>& values) {
    std::vector<std::pair<std::string, double>> items;
    for (const auto& [node, value] : values) items.emplace_back("node " + node, value);
    return items;
  };
  if (check.copy_gbs_per_node) {
    out.verdicts.push_back(judge("membw.copy_gbs_per_node", nodes_of(result.node_copy_gbs),
                                 *check.copy_gbs_per_node, true, "GB/s"));
  }
  if (check.triad_gbs_per_node) {
    out.verdicts.push_back(judge("membw.triad_gbs_per_node", nodes_of(result.node_triad_gbs),
                                 *check.triad_gbs_per_node, true, "GB/s"));
  }
  if (check.device_copy_gbs) {
    std::vector<std::pair<std::string, double>> items;
    for (size_t r = 0; r < result.ranks.size(); ++r) {
      if (result.ranks[r].device_copy_gbs >= 0) {
        items.emplace_back(fmt::format("rank {} on {}", r, result.ranks[r].node),
                           result.ranks[r].device_copy_gbs);
      }
    }
    if (items.empty()) {
      out.verdicts.push_back(could_not_run("membw.device_copy_gbs",
                                           fmt::format(">= {:g} GB/s", *check.device_copy_gbs),
                                           "no GPU on any rank"));
    } else {
      out.verdicts.push_back(judge("membw.device_copy_gbs", items, *check.device_copy_gbs, true, "GB/s"));
    }
  }
  out.membw = std::move(result);
}

void check_p2p(BenchWorld& world, const P2pCheck& check, AcceptResult& out) {
  if (world.size() < 2) {
    out.verdicts.push_back(could_not_run("p2p", "pairs of ranks", "one rank: no pair to measure"));
    return;
  }
  P2pOptions options;
  options.backend = check.backend;
  options.bytes = check.bytes;
  options.iterations = check.iterations;
  P2pResult result = run_p2p(world, options);
  std::vector<std::pair<std::string, double>> bandwidths;
  std::vector<std::pair<std::string, double>> latencies;
  for (const P2pPair& pair : result.pairs) {
    std::string name =
        fmt::format("pair {}-{} ({}<->{})", pair.a, pair.b, result.rank_nodes[static_cast<size_t>(pair.a)],
                    result.rank_nodes[static_cast<size_t>(pair.b)]);
    bandwidths.emplace_back(name, pair.bandwidth_gbs);
    latencies.emplace_back(name, pair.latency_us);
  }
  if (check.min_bandwidth_gbs) {
    out.verdicts.push_back(
        judge("p2p.min_bandwidth_gbs", bandwidths, *check.min_bandwidth_gbs, true, "GB/s"));
  }
  if (check.max_latency_us) {
    out.verdicts.push_back(judge("p2p.max_latency_us", latencies, *check.max_latency_us, false, "us"));
  }
  out.p2p = std::move(result);
}

void check_gemm(BenchWorld& world, const GemmCheck& check, AcceptResult& out) {
  GemmOptions options;
  options.dtypes.clear();
  for (const auto& [dtype, threshold] : check.min_tflops) options.dtypes.push_back(dtype);
  options.sizes = {check.size};
  options.iterations = check.iterations;
  GemmResult result = run_gemm(world, options);
  for (const auto& [dtype, threshold] : check.min_tflops) {
    std::string name = fmt::format("gemm.{} n={}", dtype, check.size);
    std::vector<std::pair<std::string, double>> items;
    for (const GemmRow& row : result.rows) {
      if (row.dtype == dtype)
        items.emplace_back(fmt::format("rank {} on {}", row.rank, row.node), row.tflops);
    }
    if (items.empty()) {
      out.verdicts.push_back(
          could_not_run(name, fmt::format(">= {:g} TFLOP/s", threshold), "no GPU on any rank"));
    } else {
      out.verdicts.push_back(judge(name, items, threshold, true, "TFLOP/s"));
    }
  }
  out.gemm = std::move(result);
}

void check_coll(BenchWorld& world, const CollCheck& check, size_t index, AcceptResult& out) {
  std::string name = fmt::format("coll[{}] {} {} {} B", index, check.op, check.backend, check.bytes);
  CollOptions options;
  options.ops = {parse_coll_op(check.op)};
  options.backend = check.backend;
  options.dtype = parse_dtype(check.dtype);
  options.max_bytes = check.bytes;
  options.min_bytes = std::max<size_t>(check.bytes / kSweepSpan, dtype_size(options.dtype) * world.size());
  options.min_bytes = std::min(options.min_bytes, check.bytes);
  options.factor = kSweepFactor;
  options.iterations = check.iterations;
  options.warmup = kCollWarmup;
  CollSweep sweep{check, std::nullopt};
  try {
    sweep.result = run_coll(world, options);
  } catch (const Error& e) {
    // Every rank fails the same way for an unavailable backend: a verdict, not an abort.
    out.verdicts.push_back(
        could_not_run(name, fmt::format(">= {:g} GB/s busbw", check.min_busbw_gbs), e.message()));
    out.coll.push_back(sweep);
    return;
  }
  const CollRow& last = sweep.result->rows.back();
  Verdict v =
      judge(name, {{"out-of-place at " + std::to_string(last.shape.bytes) + " B", last.out_of_place.busbw}},
            check.min_busbw_gbs, true, "GB/s busbw");
  if (sweep.result->wrong_total > 0) {
    v.pass = false;
    v.failing = fmt::format("{} wrong result element(s)", sweep.result->wrong_total);
  }
  out.verdicts.push_back(v);
  out.coll.push_back(std::move(sweep));
}

}  // namespace

bool AcceptResult::passed() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.pass; });
}

AcceptResult run_accept(BenchWorld& world, const AcceptSpec& spec) {
  AcceptResult out;
  out.spec_name = spec.name.empty() ? spec.source : spec.name;
  out.ranks = world.size();
  out.nodes = world.num_nodes();
  check_counts(world, spec, out);
  if (spec.membw) check_membw(world, *spec.membw, out);
  if (spec.p2p) check_p2p(world, *spec.p2p, out);
  if (spec.gemm) check_gemm(world, *spec.gemm, out);
  for (size_t i = 0; i < spec.coll.size(); ++i) check_coll(world, spec.coll[i], i, out);
  return out;
}

std::string format_verdicts(const AcceptResult& result) {
  std::string out = fmt::format("# myriad bench accept: {} ({} rank(s) on {} node(s))\n", result.spec_name,
                                result.ranks, result.nodes);
  size_t width = 0;
  for (const Verdict& v : result.verdicts) width = std::max(width, v.check.size());
  int failed = 0;
  for (const Verdict& v : result.verdicts) {
    out += fmt::format("{}  {:<{}}  measured {}  expected {}", v.pass ? "PASS" : "FAIL", v.check, width,
                       v.measured, v.expected);
    if (!v.pass) {
      ++failed;
      out += fmt::format("  failing: {}", v.failing);
    }
    out += "\n";
  }
  out += fmt::format("# {}: {} check(s), {} passed, {} failed\n", failed == 0 ? "ACCEPTED" : "REJECTED",
                     result.verdicts.size(), result.verdicts.size() - static_cast<size_t>(failed), failed);
  return out;
}

}  // namespace myriad::bench
