#include "launcher/run_plan.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <tuple>

#include "launcher/program.h"
#include "launcher/zygote.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

std::string this_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) raise_errno(errno, "gethostname");
  return name;
}

std::vector<HostSlots> read_hosts(const RunOptions& options) {
  if (!options.hosts.empty() && !options.hostfile.empty()) {
    raise(ErrorCode::InvalidArgument, "-H '{}' and --hostfile '{}' both name hosts: give one of them",
          options.hosts, options.hostfile);
  }
  if (!options.hosts.empty()) return parse_host_list(options.hosts, "-H");
  if (!options.hostfile.empty()) return read_hostfile(options.hostfile);
  return {};
}

std::chrono::milliseconds duration_flag(const std::string& text, std::string_view flag) {
  return config::parse_duration(text, flag);
}

void check_count(int value, int max, std::string_view flag) {
  if (value < 1 || value > max) {
    raise(ErrorCode::InvalidArgument, "{} {} is out of range: accepted values are 1 to {}", flag, value, max);
  }
}

// Ranks and nodes: -np is the total, --nproc-per-node counts per node, --nnodes MIN:MAX the nodes (the
// local engine emulates MAX of them, one agent each).
void plan_nodes(const RunOptions& options, RunPlan& plan) {
  std::tie(plan.min_nodes, plan.max_nodes) = parse_nnodes(options.elastic.nnodes);
  plan.max_restarts = options.elastic.max_restarts;
  if (plan.max_restarts < 0) {
    raise(ErrorCode::InvalidArgument, "--max-restarts {} must not be negative", plan.max_restarts);
  }
  plan.elastic = !options.elastic.nnodes.empty() || plan.max_restarts > 0;
  plan.elastic_times = elastic_times(options.elastic);
  if (!options.elastic.preload.empty())
    parse_preload(options.elastic.preload);  // a bad list fails here, once
  plan.preload = options.elastic.preload;
  plan.rdzv_id = options.elastic.rdzv_id;
  if (plan.engine == "mpi" && plan.elastic) {
    // One agent per host through mpirun; each runs the host's slots (or --nproc-per-node) ranks.
    std::vector<HostSlots> hosts =
        plan.hosts.empty() ? std::vector<HostSlots>{{"localhost", 1, {}}} : plan.hosts;
    int per_node = options.nproc_per_node.value_or(hosts.front().slots);
    if (!options.nproc_per_node) {
      for (const HostSlots& host : hosts) {
        if (host.slots != per_node) {
          raise(
              ErrorCode::InvalidArgument,
              "an elastic job runs the same number of ranks on every host, but {} has {} slot(s) and {} has "
              "{}: give --nproc-per-node",
              hosts.front().host, per_node, host.host, host.slots);
        }
      }
    }
    check_count(per_node, kMaxRanksPerNode, "--nproc-per-node");
    plan.nproc_per_node = per_node;
    if (options.elastic.nnodes.empty()) plan.min_nodes = plan.max_nodes = static_cast<int>(hosts.size());
    if (plan.max_nodes != static_cast<int>(hosts.size())) {
      raise(ErrorCode::InvalidArgument,
            "--nnodes '{}' with the mpi engine: mpirun starts one agent per host, and {} host(s) are named; "
            "make MAX the number of hosts",
            options.elastic.nnodes, hosts.size());
    }
    plan.world_size = per_node * plan.max_nodes;
    if (options.nproc && *options.nproc != plan.world_size) {
      raise(ErrorCode::InvalidArgument, "-np {} disagrees with {} host(s) of {} rank(s): give one of them",
            *options.nproc, plan.max_nodes, per_node);
    }
    return;
  }
  if (plan.engine == "mpi") {
    int hosts = std::max<int>(1, static_cast<int>(plan.hosts.size()));
    int max_size = plan.remote ? kMaxRanksPerNode * hosts : kMaxRanksPerNode;
    if (options.nproc) check_count(*options.nproc, max_size, "-np");
    if (options.nproc_per_node) check_count(*options.nproc_per_node, kMaxRanksPerNode, "--nproc-per-node");
    int default_size = plan.hosts.empty() ? 1 : total_slots(plan.hosts);
    plan.world_size = options.nproc
                          ? *options.nproc
                          : (options.nproc_per_node ? *options.nproc_per_node * hosts : default_size);
    plan.nproc_per_node = plan.world_size;
    return;
  }
  int nodes = plan.max_nodes;
  if (options.nproc_per_node) {
    check_count(*options.nproc_per_node, kMaxRanksPerNode, "--nproc-per-node");
    plan.nproc_per_node = *options.nproc_per_node;
    if (options.nproc && *options.nproc != plan.nproc_per_node * nodes) {
      raise(ErrorCode::InvalidArgument,
            "-np {} disagrees with --nproc-per-node {} on {} node(s): give one of them", *options.nproc,
            plan.nproc_per_node, nodes);
    }
  } else if (options.nproc) {
    check_count(*options.nproc, kMaxRanksPerNode, "-np");
    if (*options.nproc % nodes != 0) {
      raise(ErrorCode::InvalidArgument,
            "-np {} does not divide among {} node(s): give --nproc-per-node instead", *options.nproc, nodes);
    }
    plan.nproc_per_node = *options.nproc / nodes;
  } else {
    plan.nproc_per_node = plan.hosts.empty() ? 1 : total_slots(plan.hosts);
  }
  plan.world_size = plan.nproc_per_node * nodes;
}

}  // namespace

RunPlan make_run_plan(const RunOptions& options, const Env& env) {
  RunPlan plan;
  if (options.command.empty()) {
    raise(ErrorCode::InvalidArgument, "no program given: usage is myriad run [OPTIONS] PROGRAM [ARGS...]");
  }
  if (options.command[0].starts_with('-')) {
    raise(ErrorCode::InvalidArgument, "unknown option '{}' (see myriad run --help)", options.command[0]);
  }
  plan.hosts = read_hosts(options);
  for (const HostSlots& host : plan.hosts) plan.remote = plan.remote || !is_local_host(host.host);

  plan.engine = options.engine.empty() ? (plan.hosts.empty() ? "local" : "mpi") : options.engine;
  if (plan.engine != "local" && plan.engine != "mpi") {
    raise(ErrorCode::InvalidArgument, "--engine '{}' is not accepted: accepted values are local, mpi",
          options.engine);
  }
  if (plan.engine == "local" && plan.remote) {
    raise(ErrorCode::InvalidArgument,
          "--engine local starts ranks on this machine only, but the hosts '{}' name other machines: use "
          "--engine mpi",
          format_host_list(plan.hosts));
  }

  plan_nodes(options, plan);

  plan.argv = program_argv(options.command, env);
  plan.program_path =
      plan.engine == "local" ? find_executable(plan.argv[0], env) : find_executable(options.mpirun, env);

  for (const std::string& spec : options.exports)
    plan.user_env.push_back(parse_user_env(spec, "-x", true, env));
  for (const std::string& spec : options.envs)
    plan.user_env.push_back(parse_user_env(spec, "--env", false, env));

  plan.log_dir = options.log_dir;
  plan.tag_output = options.tag_output;
  plan.supervision.timeout = duration_flag(options.timeout, "--timeout");
  plan.supervision.grace_period = duration_flag(options.grace_period, "--grace-period");
  plan.dry_run = options.dry_run;

  // Remote ranks must reach the store through a real interface; a local job keeps it on loopback.
  plan.store_bind_host = plan.remote ? "0.0.0.0" : "127.0.0.1";
  plan.store_advertise_host =
      !options.master_addr.empty() ? options.master_addr : (plan.remote ? this_host_name() : "127.0.0.1");
  if (options.master_port < 0 || options.master_port > 65535) {
    raise(ErrorCode::InvalidArgument, "--master-port {} is out of range: accepted values are 0 to 65535",
          options.master_port);
  }
  plan.store_port = static_cast<uint16_t>(options.master_port);
  if (!options.elastic.rdzv_endpoint.empty()) {
    // The embedded store is the rendezvous endpoint: it listens there (a hand-started agent joins it).
    HostPort endpoint = parse_host_port(options.elastic.rdzv_endpoint, "--rdzv-endpoint");
    if (!is_local_host(endpoint.host)) {
      raise(ErrorCode::InvalidArgument,
            "--rdzv-endpoint '{}': myriad run hosts the rendezvous store itself, so the host must be this "
            "machine",
            options.elastic.rdzv_endpoint);
    }
    plan.store_bind_host = endpoint.host;
    plan.store_advertise_host = options.master_addr.empty() ? endpoint.host : options.master_addr;
    plan.store_port = endpoint.port;
  }
  plan.map_by = options.map_by;
  plan.bind_to = options.bind_to;
  return plan;
}

}  // namespace myriad::launcher
