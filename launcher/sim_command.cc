// `myriad sim`: runs one collective's schedule for every rank of a
// synthetic topology through the native simulator (collectives/native/
// simulator.h) and prints the estimated time, the bytes moved, the
// data-flow check and the peak memory it took; or, with --rendezvous N,
// runs N elastic agents' rendezvous round against an in-process store and
// counts their store operations (sim_rendezvous.h).
//
//   myriad sim --collective allreduce --algorithm ring --nodes 2048 --ranks-per-node 8 --bytes 256M
//   myriad sim --rendezvous 1024
//
// Two runs when the vector is large: the timing run at the requested size
// without data (the schedule's matching, static round checks and deadlock
// detection all run), and a data run at the smallest count that gives every
// rank's block at least one element, so that memory stays bounded at 16,384
// ranks (docs/collectives.md "Simulating at scale"). Exit code 0 when every
// check passed, 1 when the simulator found a problem, 2 for a usage error.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/cost_model.h"
#include "collectives/native/selector.h"
#include "collectives/native/simulator.h"
#include "collectives/native/tuning_file.h"
#include "launcher/bench/coll_bench.h"
#include "launcher/commands.h"
#include "launcher/sim_rendezvous.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

// The largest rank count `myriad sim` accepts (the target scale).
constexpr int kMaxSimRanks = 16'384;
// Memory the data run may spend on the ranks' buffers before the count is
// cut down to the smallest that still covers every rank's block, and the
// most it may spend at all (alltoall at 16,384 ranks needs 805 MiB).
constexpr uint64_t kCheckBudgetBytes = uint64_t{256} << 20;
constexpr uint64_t kCheckCapBytes = uint64_t{2} << 30;

struct SimOptions {
  std::string collective = "allreduce";
  std::string algorithm = "auto";
  int nodes = 1;
  int ranks_per_node = 8;
  std::string bytes = "1M";
  int element_bytes = 4;
  int root = 0;
  std::string link = "intra=shm,inter=tcp";
  std::vector<std::string> alpha;      // CLASS=MICROSECONDS
  std::vector<std::string> bandwidth;  // CLASS=GB/s
  std::string tuning_file;
  std::string check = "auto";
  bool in_place = false;
  bool json = false;
  RendezvousSimOptions rendezvous;
};

LinkClass parse_link_class(const std::string& name, std::string_view flag) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kLinkClassCount; ++i) {
    const auto link = static_cast<LinkClass>(i);
    if (link_class_name(link) == name) return link;
    names.push_back(link_class_name(link));
  }
  raise(ErrorCode::InvalidArgument, "{}: unknown link class '{}' (accepted: {})", flag, name,
        fmt::join(names, ", "));
}

// "CLASS=NUMBER" of --alpha / --bandwidth.
std::pair<LinkClass, double> parse_link_value(const std::string& text, std::string_view flag) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos)
    raise(ErrorCode::InvalidArgument, "{} '{}': expected CLASS=NUMBER", flag, text);
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(text.substr(eq + 1), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() - eq - 1 || !(value >= 0)) {
    raise(ErrorCode::InvalidArgument, "{} '{}': '{}' is not a non-negative number", flag, text,
          text.substr(eq + 1));
  }
  return {parse_link_class(text.substr(0, eq), flag), value};
}

CostModel cost_model(const SimOptions& o, Tuning& tuning) {
  if (!o.tuning_file.empty()) tuning = load_tuning_file(o.tuning_file);
  CostModel& model = tuning.model;
  for (const std::string& text : o.alpha) {
    const auto [link, us] = parse_link_value(text, "--alpha");
    model.set_link(link, {us * 1e-6, model.link(link).beta});
  }
  for (const std::string& text : o.bandwidth) {
    const auto [link, gbps] = parse_link_value(text, "--bandwidth");
    if (gbps <= 0) raise(ErrorCode::InvalidArgument, "--bandwidth '{}': must be above 0 GB/s", text);
    model.set_link(link, {model.link(link).alpha, 1.0 / (gbps * 1e9)});
  }
  return model;
}

Topology topology_of(const SimOptions& o) {
  if (o.nodes < 1) raise(ErrorCode::InvalidArgument, "--nodes {}: must be at least 1", o.nodes);
  if (o.ranks_per_node < 1) {
    raise(ErrorCode::InvalidArgument, "--ranks-per-node {}: must be at least 1", o.ranks_per_node);
  }
  const int64_t ranks = int64_t{o.nodes} * o.ranks_per_node;
  if (ranks > kMaxSimRanks) {
    raise(ErrorCode::InvalidArgument, "--nodes {} x --ranks-per-node {} = {} ranks: at most {} are simulated",
          o.nodes, o.ranks_per_node, ranks, kMaxSimRanks);
  }
  LinkClass intra = LinkClass::Shm;
  LinkClass inter = LinkClass::Tcp;
  size_t begin = 0;
  while (begin <= o.link.size()) {
    const size_t end = std::min(o.link.find(',', begin), o.link.size());
    const std::string item = o.link.substr(begin, end - begin);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "intra" && key != "inter")) {
      raise(ErrorCode::InvalidArgument, "--link '{}': expected intra=CLASS,inter=CLASS", o.link);
    }
    (key == "intra" ? intra : inter) = parse_link_class(item.substr(eq + 1), "--link");
    begin = end + 1;
  }
  return Topology::uniform(o.nodes, o.ranks_per_node, intra, inter);
}

// Elements per rank's `count` from the op's bytes as collective_bytes counts them.
uint64_t count_for(OpKind kind, uint64_t bytes, int n, size_t eb) {
  const uint64_t ranks = static_cast<uint64_t>(n);
  switch (kind) {
    case OpKind::Allgather:
    case OpKind::ReduceScatter:
    case OpKind::Gather:
    case OpKind::Scatter: return bytes / eb / ranks;
    case OpKind::Alltoall: return bytes / eb / ranks / ranks;
    case OpKind::Barrier: return 0;
    default: return bytes / eb;
  }
}

// Elements of one rank's largest buffer per element of `count`.
uint64_t buffer_factor(OpKind kind, int n) {
  switch (kind) {
    case OpKind::Allgather:
    case OpKind::ReduceScatter:
    case OpKind::Gather:
    case OpKind::Scatter:
    case OpKind::Alltoall: return static_cast<uint64_t>(n);
    default: return 1;
  }
}

std::string mib(uint64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// What the data run simulates: the requested count when the ranks'
// buffers fit kCheckBudgetBytes; otherwise one-byte elements (the lanes
// of the wrapping sums are then bytes: any missing or doubled contribution
// still shows) at the smallest count that gives every rank's block (a
// reduction's chunk: count/n) an element, more while the budget allows.
// Skipped when even that needs more than kCheckCapBytes.
struct DataRun {
  uint64_t count = 0;
  size_t element_bytes = 1;
  uint64_t buffer_bytes = 0;  // the ranks' Input, Output and Scratch, estimated
  bool skipped = false;
};

DataRun data_run(OpKind kind, uint64_t count, int n, size_t eb, bool full) {
  const uint64_t per_element = 3 * buffer_factor(kind, n) * static_cast<uint64_t>(n);
  if (full || count * eb * per_element <= kCheckBudgetBytes)
    return {count, eb, count * eb * per_element, false};
  const uint64_t cover = buffer_factor(kind, n) == 1 ? static_cast<uint64_t>(n) : 1;
  const uint64_t small = std::min(count, std::max(cover, kCheckBudgetBytes / per_element));
  return {small, 1, small * per_element, small * per_element > kCheckCapBytes};
}

uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string seconds_text(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} us", s * 1e6);
  if (s < 1) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

struct Timed {
  SimulationResult result;
  double wall_s = 0;
};

Timed timed_simulate(const CollectiveArgs& args, const Algorithm& algorithm, const Topology& topology,
                     const CostModel& model, const SimulationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  Timed timed{simulate(args, algorithm, topology, model, options), 0};
  timed.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return timed;
}

int simulate_collective(const SimOptions& o) {
  const OpKind kind = [&] {
    try {
      return parse_op_kind(o.collective);
    } catch (const Error& e) {
      raise(ErrorCode::InvalidArgument, "--collective: {}", e.message());
    }
  }();
  if (kind == OpKind::Send || kind == OpKind::Recv || kind == OpKind::Allgatherv ||
      kind == OpKind::ReduceScatterv || kind == OpKind::Alltoallv) {
    raise(ErrorCode::InvalidArgument,
          "--collective {}: not simulated here (the `v` variants need per-rank counts; send/recv are not "
          "collectives)",
          o.collective);
  }
  if (o.element_bytes < 1)
    raise(ErrorCode::InvalidArgument, "--element-bytes {}: must be at least 1", o.element_bytes);
  const Topology topology = topology_of(o);
  const int n = topology.size();
  if (o.root < 0 || o.root >= n) raise(ErrorCode::InvalidArgument, "--root {}: not a rank of {}", o.root, n);
  const uint64_t bytes = [&] {
    try {
      return static_cast<uint64_t>(bench::parse_size(o.bytes));
    } catch (const Error& e) {
      raise(ErrorCode::InvalidArgument, "--bytes: {}", e.message());
    }
  }();
  if (o.check != "auto" && o.check != "off" && o.check != "full") {
    raise(ErrorCode::InvalidArgument, "--check '{}': accepted values are auto, full, off", o.check);
  }
  Tuning tuning;
  tuning.model = CostModel::defaults();
  const CostModel model = cost_model(o, tuning);
  const size_t eb = static_cast<size_t>(o.element_bytes);
  CollectiveArgs args;
  args.kind = kind;
  args.size = n;
  args.root = o.root;
  args.element_bytes = eb;
  args.count = count_for(kind, bytes, n, eb);
  args.topology = &topology;

  const Algorithm* algorithm = nullptr;
  std::string reason = "--algorithm";
  if (o.algorithm == "auto") {
    const AlgorithmChoice choice = Selector(tuning, {}).select(args);
    algorithm = choice.algorithm;
    reason = choice.reason;
  } else {
    algorithm = find_algorithm(kind, o.algorithm);
    if (algorithm == nullptr) {
      std::vector<std::string_view> names;
      for (const Algorithm* a : algorithms_for(kind)) names.push_back(a->name());
      raise(ErrorCode::InvalidArgument, "--algorithm {}: no such algorithm for {} (accepted: auto, {})",
            o.algorithm, op_kind_name(kind), fmt::join(names, ", "));
    }
  }

  const DataRun planned = data_run(kind, args.count, n, eb, o.check == "full");
  const bool checking = o.check != "off" && !planned.skipped;
  const bool one_run = checking && planned.count == args.count && planned.element_bytes == eb;
  SimulationOptions timing_options;
  timing_options.check_data = one_run;
  timing_options.in_place = o.in_place;
  const Timed timing = timed_simulate(args, *algorithm, topology, model, timing_options);
  std::optional<Timed> data;
  CollectiveArgs data_args = args;
  if (checking && !one_run && timing.result.ok) {
    data_args.count = planned.count;
    data_args.element_bytes = planned.element_bytes;
    SimulationOptions data_options = timing_options;
    data_options.check_data = true;
    data = timed_simulate(data_args, *algorithm, topology, model, data_options);
  }
  const SimulationResult& r = timing.result;
  const bool data_checked = one_run || data.has_value();
  const bool data_ok = data ? data->result.ok : r.ok;
  const std::string problem = !r.ok ? r.error : (data && !data->result.ok ? data->result.error : "");
  const uint64_t peak = peak_rss_bytes();
  const double wall = timing.wall_s + (data ? data->wall_s : 0);
  std::string check_text;
  if (data_checked) {
    check_text = fmt::format("{} ({} elements of {} B per rank{})", data_ok ? "pass" : "FAIL",
                             data_args.count, data_args.element_bytes, one_run ? "" : ", a second run");
  } else if (o.check == "off") {
    check_text = "off";
  } else if (planned.skipped) {
    check_text =
        fmt::format("skipped: the smallest covering run needs {} of buffers (--check full forces it)",
                    mib(planned.buffer_bytes));
  } else {
    check_text = "not run (the timing run failed)";
  }

  if (o.json) {
    nlohmann::json out{
        {"collective", op_kind_name(kind)},
        {"algorithm", algorithm->name()},
        {"reason", reason},
        {"ranks", n},
        {"nodes", o.nodes},
        {"ranks_per_node", o.ranks_per_node},
        {"bytes", bytes},
        {"count", args.count},
        {"ok", r.ok && (!data_checked || data_ok)},
        {"estimated_s", r.seconds},
        {"messages", r.messages},
        {"bytes_sent", r.bytes},
        {"max_rank_bytes_sent", r.max_rank_bytes},
        {"max_rounds", r.max_rounds},
        {"data_check", !data_checked ? (planned.skipped ? "skipped" : "off") : (data_ok ? "pass" : "fail")},
        {"data_check_count", data_checked ? data_args.count : 0},
        {"data_check_element_bytes", data_checked ? data_args.element_bytes : 0},
        {"problem", problem},
        {"peak_rss_bytes", peak},
        {"wall_s", wall}};
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << fmt::format(
        "myriad sim: {} {}, {} ranks ({} nodes x {}, intra {}, inter {}), {} bytes ({})\n",
        op_kind_name(kind), algorithm->name(), n, o.nodes, o.ranks_per_node,
        link_class_name(topology.intra_link()), link_class_name(topology.inter_link()), bytes, mib(bytes));
    std::cout << fmt::format("  algorithm        {} ({})\n", algorithm->name(), reason);
    if (r.ok) {
      std::cout << fmt::format("  estimated time   {}\n", seconds_text(r.seconds));
      std::cout << fmt::format("  messages         {}\n", r.messages);
      std::cout << fmt::format("  bytes sent       {} total, {} max per rank\n", r.bytes, r.max_rank_bytes);
      std::cout << fmt::format("  rounds           {} (most of any rank)\n", r.max_rounds);
    } else {
      std::cout << fmt::format("  schedule         FAIL: {}\n", r.error);
    }
    std::cout << fmt::format("  data check       {}\n", check_text);
    if (data && !data->result.ok) std::cout << fmt::format("  first problem    {}\n", data->result.error);
    std::cout << fmt::format("  peak memory      {}\n", mib(peak));
    std::cout << fmt::format("  wall time        {}\n", seconds_text(wall));
  }
  return r.ok && (!data_checked || data_ok) ? 0 : 1;
}

}  // namespace

CommandMain add_sim_command(CLI::App& app) {
  auto options = std::make_shared<SimOptions>();
  CLI::App* sim = app.add_subcommand(
      "sim", "Simulate a collective's schedule at up to 16,384 ranks, or a rendezvous round of N agents");
  sim->add_option(
         "--collective", options->collective,
         "allreduce, reduce, broadcast, allgather, reduce_scatter, alltoall, gather, scatter, barrier")
      ->capture_default_str();
  sim->add_option("--algorithm", options->algorithm, "an algorithm's name, or auto (the selector's choice)")
      ->capture_default_str();
  sim->add_option("--nodes", options->nodes, "nodes of the synthetic topology")->capture_default_str();
  sim->add_option("--ranks-per-node", options->ranks_per_node, "ranks on each node")->capture_default_str();
  sim->add_option("--bytes", options->bytes,
                  "the op's size as the selector sees it (1024, 64K, 256M, 1G): the vector of allreduce, "
                  "reduce, broadcast; the whole buffer of allgather, reduce_scatter, gather, scatter; every "
                  "byte sent of alltoall")
      ->capture_default_str();
  sim->add_option("--element-bytes", options->element_bytes, "bytes per element")->capture_default_str();
  sim->add_option("--root", options->root, "root rank of rooted ops")->capture_default_str();
  sim->add_option("--link", options->link,
                  "link classes: intra=CLASS,inter=CLASS (self shm tcp ucx nvlink ib)")
      ->capture_default_str();
  sim->add_option("--alpha", options->alpha,
                  "per-message latency of a class, CLASS=MICROSECONDS (repeatable)")
      ->delimiter(',');
  sim->add_option("--bandwidth", options->bandwidth, "bandwidth of a class, CLASS=GB/S (repeatable)")
      ->delimiter(',');
  sim->add_option("--tuning-file", options->tuning_file, "link costs and rules (docs/tuning.md)");
  sim->add_option("--check", options->check,
                  "data-flow check: auto (at a count that fits 256 MiB of buffers), full (at --bytes), off")
      ->capture_default_str();
  sim->add_flag("--in-place", options->in_place, "bind Input and Output in place");
  sim->add_flag("--json", options->json, "one JSON object instead of the table");
  sim->add_option("--rendezvous", options->rendezvous.agents,
                  "simulate a rendezvous round of N agents (threads) against an in-process store instead");
  return [options] {
    if (options->rendezvous.agents != 0) return simulate_rendezvous(options->rendezvous, options->json);
    return simulate_collective(*options);
  };
}

}  // namespace myriad::launcher
