#include "launcher/run_plan.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <tuple>

#include "launcher/program.h"
#include "launcher/zygote.h"
#include "runtime/error.h"
#include "runtime/etcd_store.h"
#include "runtime/net.h"

namespace myriad::launcher {
namespace {

std::string this_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) raise_errno(errno, "gethostname");
  return name;
}

// Whether this machine could listen on `endpoint` now.
bool port_free(const HostPort& endpoint) {
  try {
    listen_tcp(endpoint.host, endpoint.port, 1);
    return true;
  } catch (const Error&) {
    return false;
  }
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

int slurm_count(const Env& env, std::string_view name) {
  std::optional<std::string> value = config::get_string(env, name);
  if (!value || value->find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<int>(config::parse_int(*value, name, 1, INT_MAX));
}

// srun's counts: --nnodes (else the allocation's nodes) and --nproc-per-node, or -np; neither: srun's
// default for the allocation. An elastic job runs one agent per node.
void plan_slurm(const RunOptions& options, const Env& env, RunPlan& plan) {
  plan.slurm_job_id = config::get_string(env, "SLURM_JOB_ID").value_or("");
  int allocated = slurm_count(env, "SLURM_JOB_NUM_NODES");
  if (allocated == 0) allocated = slurm_count(env, "SLURM_NNODES");
  plan.slurm_nodes = options.elastic.nnodes.empty() ? allocated : plan.max_nodes;
  if (options.elastic.nnodes.empty() && allocated > 0) plan.min_nodes = plan.max_nodes = allocated;
  if (options.nproc_per_node) check_count(*options.nproc_per_node, kMaxRanksPerNode, "--nproc-per-node");
  if (options.nproc) check_count(*options.nproc, static_cast<int>(kMaxWorldSize), "-np");
  if (plan.elastic) {
    plan.nproc_per_node = options.nproc_per_node.value_or(1);
    plan.world_size = plan.nproc_per_node * std::max(plan.max_nodes, 1);
    if (options.nproc && *options.nproc != plan.world_size) {
      raise(ErrorCode::InvalidArgument,
            "-np {} disagrees with {} node(s) of {} rank(s) in an elastic job: give --nproc-per-node",
            *options.nproc, plan.max_nodes, plan.nproc_per_node);
    }
    return;
  }
  if (options.nproc_per_node) {
    plan.slurm_per_node = *options.nproc_per_node;
    plan.nproc_per_node = *options.nproc_per_node;
    plan.world_size = plan.slurm_per_node * std::max(plan.slurm_nodes, 1);
    if (options.nproc && *options.nproc != plan.world_size) {
      raise(ErrorCode::InvalidArgument,
            "-np {} disagrees with --nproc-per-node {} on {} node(s): give one of them", *options.nproc,
            plan.slurm_per_node, plan.slurm_nodes);
    }
  } else if (options.nproc) {
    plan.slurm_tasks = *options.nproc;
    plan.world_size = *options.nproc;
  } else {
    int tasks = slurm_count(env, "SLURM_NTASKS");
    plan.world_size = tasks > 0 ? tasks : std::max(plan.slurm_nodes, 1);
  }
}

// Ranks and nodes: -np is the total, --nproc-per-node counts per node, --nnodes MIN:MAX the nodes (the
// local engine emulates MAX of them, one agent each).
void plan_nodes(const RunOptions& options, const Env& env, RunPlan& plan) {
  std::tie(plan.min_nodes, plan.max_nodes) = parse_nnodes(options.elastic.nnodes);
  plan.max_restarts = options.elastic.max_restarts;
  if (plan.max_restarts < 0) {
    raise(ErrorCode::InvalidArgument, "--max-restarts {} must not be negative", plan.max_restarts);
  }
  if (plan.max_nodes > kMaxNodes) {
    raise(ErrorCode::InvalidArgument, "--nnodes '{}' is out of range: at most {} nodes",
          options.elastic.nnodes, kMaxNodes);
  }
  plan.elastic = !options.elastic.nnodes.empty() || plan.max_restarts > 0 || options.emulated_nodes > 0;
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
  if (plan.engine == "slurm") {
    plan_slurm(options, env, plan);
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
  // --nnodes counts machines, as torchrun's: this machine is one node (one agent), unless
  // --emulated-nodes K runs K agents here, each an emulated node (then --nnodes defaults to K).
  if (options.emulated_nodes != 0) {
    check_count(options.emulated_nodes, kMaxEmulatedNodes, "--emulated-nodes");
    plan.local_agents = options.emulated_nodes;
    if (options.elastic.nnodes.empty()) plan.min_nodes = plan.max_nodes = plan.local_agents;
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

// The product of nodes and ranks per node, in 64 bits: --nnodes 1:32768 --nproc-per-node 4096 must be
// refused, not wrap around.
void check_world_size(const RunOptions& options, const RunPlan& plan) {
  int64_t world = int64_t{plan.nproc_per_node} * std::max(plan.max_nodes, plan.local_agents);
  if (plan.engine != "local" && !plan.elastic) world = plan.world_size;
  if (world > kMaxWorldSize) {
    raise(ErrorCode::InvalidArgument,
          "{} node(s) of {} rank(s) is {} ranks, more than the {} a job may have (--nnodes '{}', "
          "--nproc-per-node {})",
          std::max(plan.max_nodes, plan.local_agents), plan.nproc_per_node, world, kMaxWorldSize,
          options.elastic.nnodes, plan.nproc_per_node);
  }
}

}  // namespace

RunPlan make_run_plan(const RunOptions& given, const Env& env) {
  RunOptions options = given;
  options.elastic = apply_standalone(given.elastic);
  RunPlan plan;
  if (options.command.empty()) {
    raise(ErrorCode::InvalidArgument, "no program given: usage is myriad run [OPTIONS] PROGRAM [ARGS...]");
  }
  if (options.command[0].starts_with('-')) {
    raise(ErrorCode::InvalidArgument, "unknown option '{}' (see myriad run --help)", options.command[0]);
  }
  plan.hosts = read_hosts(options);
  for (const HostSlots& host : plan.hosts) plan.remote = plan.remote || !is_local_host(host.host);

  bool in_allocation = config::get_string(env, "SLURM_JOB_ID").has_value();
  plan.engine = !options.engine.empty() ? options.engine
                : !plan.hosts.empty()   ? "mpi"
                : in_allocation         ? "slurm"
                                        : "local";
  if (plan.engine != "local" && plan.engine != "mpi" && plan.engine != "slurm") {
    raise(ErrorCode::InvalidArgument, "--engine '{}' is not accepted: accepted values are local, mpi, slurm",
          options.engine);
  }
  if (plan.engine == "slurm" && !in_allocation) {
    raise(ErrorCode::InvalidArgument,
          "--engine slurm runs inside a Slurm allocation (salloc, sbatch), but SLURM_JOB_ID is not set");
  }
  if (plan.engine == "slurm" && !plan.hosts.empty()) {
    raise(ErrorCode::InvalidArgument,
          "--engine slurm takes its nodes from the allocation: drop -H/--hostfile");
  }
  if (plan.engine == "slurm") {
    // The allocation's nodes may be other machines: the store listens on every interface unless
    // --master-addr names this one's loopback.
    plan.remote = !options.master_addr.starts_with("127.") && options.master_addr != "localhost";
  }
  if (plan.engine == "local" && plan.remote) {
    raise(ErrorCode::InvalidArgument,
          "--engine local starts ranks on this machine only, but the hosts '{}' name other machines: use "
          "--engine mpi",
          format_host_list(plan.hosts));
  }

  plan_nodes(options, env, plan);
  check_world_size(options, plan);
  check_torchrun_flags(options.elastic.torchrun);
  plan.torchrun = options.elastic.torchrun;
  plan.role = options.elastic.torchrun.role;

  const TorchrunFlags& torchrun = options.elastic.torchrun;
  plan.argv = program_argv(
      options.command, env,
      ProgramMode{.module = torchrun.module, .no_python = torchrun.no_python, .run_path = torchrun.run_path});
  plan.program_path = plan.engine == "local"   ? find_executable(plan.argv[0], env)
                      : plan.engine == "slurm" ? find_executable("srun", env)
                                               : find_executable(options.mpirun, env);

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
  std::string rdzv_store = rdzv_store_address(options.elastic);
  if (is_etcd_address(rdzv_store)) {
    // etcd holds the rendezvous: no store here, every node (this one too) joins it with one agent.
    if (plan.engine != "local") {
      raise(ErrorCode::InvalidArgument,
            "--rdzv-backend etcd runs this node's ranks with the local engine (an agent per node), not "
            "--engine {}",
            plan.engine);
    }
    plan.join = true;
    plan.rdzv_endpoint = rdzv_store;
  } else if (!rdzv_store.empty()) {
    // The embedded store is the rendezvous endpoint: it listens there (a hand-started agent joins it).
    HostPort endpoint = parse_host_port(rdzv_store, "--rdzv-endpoint");
    // As torchrun's c10d rendezvous: the node whose address the endpoint names hosts the store; every
    // other node (or a second `myriad run` here, which finds the port taken) joins it as an agent.
    plan.join = !is_local_host(endpoint.host) || (endpoint.port != 0 && !port_free(endpoint));
    if (plan.join && plan.engine != "local") {
      raise(ErrorCode::InvalidArgument,
            "--rdzv-endpoint '{}' is another node's store: joining it runs this node's ranks with the local "
            "engine, not --engine {}",
            options.elastic.rdzv_endpoint, plan.engine);
    }
    plan.rdzv_endpoint = endpoint.to_string();
    plan.store_bind_host = endpoint.host;
    plan.store_advertise_host = options.master_addr.empty() ? endpoint.host : options.master_addr;
    plan.store_port = endpoint.port;
  }
  plan.map_by = options.map_by;
  plan.bind_to = options.bind_to;
  return plan;
}

}  // namespace myriad::launcher
