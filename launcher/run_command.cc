// `myriad run`: parses the flags into RunOptions, plans the job, starts the
// embedded store and hands the job to the local or the MPI engine.
#include <filesystem>
#include <memory>

#include "launcher/agent.h"
#include "launcher/agent_launch.h"
#include "launcher/commands.h"
#include "launcher/job_files.h"
#include "launcher/local_engine.h"
#include "launcher/mpi_engine.h"
#include "launcher/output_forwarder.h"
#include "launcher/run_plan.h"
#include "launcher/slurm_engine.h"
#include "launcher/zygote.h"
#include "runtime/bootstrap.h"
#include "runtime/error.h"
#include "runtime/etcd_store.h"
#include "runtime/logging.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

constexpr const char* kRunFooter = R"(
Every rank gets MYRIAD_RANK, MYRIAD_WORLD_SIZE, MYRIAD_LOCAL_RANK,
MYRIAD_LOCAL_WORLD_SIZE, MYRIAD_STORE, MYRIAD_TOKEN, MYRIAD_RUN_ID,
MYRIAD_RESTART_COUNT, MYRIAD_NODE_ID and torchrun's RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, ROLE_RANK, MASTER_ADDR, MASTER_PORT,
TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_MAX_RESTARTS, TORCHELASTIC_RUN_ID,
TORCHELASTIC_ERROR_FILE (under --engine mpi the place comes from Open MPI's
OMPI_COMM_WORLD_* instead). The local engine runs one agent per node
(--nnodes MIN:MAX counts machines, as torchrun's; --emulated-nodes K runs K
agents here); with --max-restarts a failed, hung or lost rank restarts every
rank in a new round. torchrun's flags are accepted in both spellings
(--nproc-per-node, --nproc_per_node) and from PET_* variables.
Exit code: 0, or the first failed rank's code (128+S for signal S), 124 after
--timeout, 128+S when myriad run itself got signal S, 2 for a usage error.
Examples:
  myriad run -np 4 ./train
  myriad run -np 8 train.py --epochs 3
  myriad run --emulated-nodes 3 --nnodes 2:3 --nproc-per-node 2 --max-restarts 3 train.py
  myriad run -H node1:4,node2:4 ./train       (runs through mpirun))";

// With --dry-run nothing is started: the store's port and the token are not known yet.
EnvVars dry_run_job_vars(const RunPlan& plan) {
  std::string port = plan.store_port != 0 ? std::to_string(plan.store_port) : "<port>";
  EnvVars vars = plan.user_env;
  if (is_etcd_address(plan.rdzv_endpoint)) {
    // The agents meet in etcd; the ranks get the store their round's group rank 0 serves.
    vars.emplace_back("MYRIAD_STORE", "<the round's store, on the node of group rank 0>");
    vars.emplace_back("MYRIAD_TOKEN", "<the round's token>");
  } else {
    vars.emplace_back("MYRIAD_STORE", fmt::format("{}:{}", plan.store_advertise_host, port));
    vars.emplace_back("MYRIAD_TOKEN", "<token>");
  }
  vars.emplace_back("MYRIAD_RUN_ID", "<run id>");
  vars.emplace_back("MYRIAD_RESTART_COUNT", "0");
  vars.emplace_back("TORCHELASTIC_USE_AGENT_STORE", "False");
  vars.emplace_back("MASTER_ADDR", plan.engine == "mpi" ? "<rank 0's host>" : plan.store_advertise_host);
  vars.emplace_back("MASTER_PORT", "<a free port, chosen per round>");
  return vars;
}

void make_log_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) raise(ErrorCode::Io, "--log-dir '{}': cannot create the directory: {}", dir, ec.message());
}

// This machine is one node of a job whose store is elsewhere (--rdzv-endpoint): one agent joins it, as
// `myriad agent` would, with the same token (MYRIAD_TOKEN, which both sides must have).
int join_job(const RunPlan& plan) {
  Env env = Env::process();
  AgentOptions agent;
  agent.store = plan.rdzv_endpoint;
  agent.token = config::get_string(env, "MYRIAD_TOKEN").value_or("");
  // An etcd store has its own access control; each round's ranks get a store with its own token.
  if (agent.token.empty() && !is_etcd_address(plan.rdzv_endpoint)) {
    raise(
        ErrorCode::InvalidArgument,
        "--rdzv-endpoint {} is another node's store, and joining it needs that job's token: set MYRIAD_TOKEN "
        "to the same value on every node",
        plan.rdzv_endpoint);
  }
  elastic::AgentOptions& node = agent.elastic;
  node.rdzv_id = plan.rdzv_id;
  agent.run_id = config::get_string(env, "MYRIAD_RUN_ID").value_or(plan.rdzv_id);
  if (agent.run_id.empty()) agent.run_id = make_run_id();
  node.node_id = config::get_string(env, "MYRIAD_NODE_ID")
                     .value_or(config::get_string(env, "SLURMD_NODENAME").value_or(host_name()));
  node.min_nodes = plan.min_nodes;
  node.max_nodes = plan.max_nodes;
  node.nproc_per_node = plan.nproc_per_node;
  node.max_restarts = plan.max_restarts;
  node.monitor_interval = plan.elastic_times.monitor_interval;
  node.heartbeat_timeout = plan.elastic_times.heartbeat_timeout;
  node.join_timeout = plan.elastic_times.join_timeout;
  node.last_call = plan.elastic_times.last_call;
  node.cooldown = plan.elastic_times.node_cooldown;
  node.grace_period = plan.supervision.grace_period;
  agent.log_dir = plan.log_dir;
  agent.tag_output = plan.tag_output;
  agent.program_path = plan.program_path;
  agent.argv = plan.argv;
  agent.user_env = plan.user_env;
  if (!plan.preload.empty()) agent.preload = parse_preload(plan.preload);
  apply_torchrun_flags(plan.torchrun, agent);
  if (!plan.log_dir.empty()) make_log_dir(plan.log_dir);
  return run_agent(agent);
}

int run_job(const RunOptions& options) {
  // The console belongs to the ranks' output: the launcher's own info lines
  // (store started, stopped) show only when MYRIAD_LOG_LEVEL asks for them.
  if (!config::get_string(Env::process(), "MYRIAD_LOG_LEVEL")) set_log_level("warn");
  RunPlan plan = make_run_plan(options, Env::process());
  if (plan.dry_run) {
    EnvVars vars = dry_run_job_vars(plan);
    write_all(STDOUT_FILENO, plan.engine == "mpi"     ? describe_mpi(plan, vars)
                             : plan.engine == "slurm" ? describe_slurm(plan, vars)
                                                      : describe_local(plan, vars));
    return 0;
  }
  if (plan.join) return join_job(plan);
  if (!plan.log_dir.empty()) make_log_dir(plan.log_dir);
  // Before the store's thread starts, so that it inherits the mask and signals reach the supervisor only.
  Supervisor::block_signals();
  // A token and rendezvous id the user gives are kept, so that agents started by hand can join.
  std::string token = config::get_string(Env::process(), "MYRIAD_TOKEN").value_or("");
  if (!plan.elastic || token.empty()) token = make_token();
  JobEnv job{.store = {},
             .token = token,
             .run_id = plan.rdzv_id.empty() ? make_run_id() : plan.rdzv_id,
             .restart_count = 0,
             .user = plan.user_env};
  // Declared before the store and the engine: its cleanup runs last, after every rank is gone.
  JobFilesGuard files(job.run_id);
  TcpStoreServer store(
      TcpStoreServerOptions{.host = plan.store_bind_host, .port = plan.store_port, .token = job.token});
  job.store = HostPort{plan.store_advertise_host, store.port()};
  MYRIAD_LOG_DEBUG("job {}: store at {} (bound to {}), {} engine, {} rank(s)", job.run_id,
                   job.store.to_string(), store.address(), plan.engine, plan.world_size);
  EnvVars vars = job_variables(job);
  if (plan.engine == "slurm") return run_slurm(plan, vars, job);
  return plan.engine == "mpi" ? run_mpi(plan, vars, job) : run_local(plan, vars, job);
}

}  // namespace

CommandMain add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  auto nproc = std::make_shared<int>(0);
  auto nproc_per_node = std::make_shared<std::string>();
  CLI::App* run = app.add_subcommand("run", "Start a job: PROGRAM [ARGS...] on N ranks");
  run->footer(kRunFooter);
  // Everything from PROGRAM on belongs to the program, untouched (its own flags included).
  run->prefix_command();
  run->positionals_at_end(false);
  CLI::Option* nproc_option = run->add_option(
      "-n,--np", *nproc,
      "Number of ranks in all (mpirun's -np is accepted). With hosts it defaults to the sum of "
      "their slots; otherwise to 1");
  CLI::Option* per_node_option = run->add_option("--nproc-per-node", *nproc_per_node,
                                                 "Ranks per node: a number, auto, cpu or gpu (torchrun's)")
                                     ->envname("PET_NPROC_PER_NODE");
  run->add_option("--emulated-nodes", options->emulated_nodes,
                  "Run K agents on this machine, each an emulated node (its own node id, snapshots and "
                  "heartbeats; --nnodes defaults to K). --nnodes alone counts machines, as torchrun's");
  add_elastic_flags(*run, options->elastic);
  run->add_option("-H,--host", options->hosts, "Hosts and slots: host[:slots],... (selects --engine mpi)");
  run->add_option(
      "--hostfile,--machinefile", options->hostfile,
      "File of hosts: 'host [slots=N] [max_slots=M]' per line, # comments (selects --engine mpi)");
  run->add_option(
      "--engine", options->engine,
      "How ranks start: local (fork/exec here; the default), mpi (through mpirun; the default with "
      "hosts) or slurm (through srun; the default inside an allocation)");
  run->add_option("--log-dir", options->log_dir,
                  "Also write each rank's output to DIR/rank-N.log (mpi engine: mpirun's --output-filename); "
                  "with -r/-t torchrun's layout under DIR instead")
      ->envname("PET_LOG_DIR");
  run->add_flag("--tag-output,!--no-tag-output", options->tag_output,
                "Prefix each output line with '[rank N] ' (on by default)");
  run->add_option("--timeout", options->timeout,
                  "Stop the whole job after this long and exit 124: seconds, or a number with ms/s/m/h; 0 "
                  "is no limit")
      ->default_str("0");
  run->add_option("--grace-period", options->grace_period,
                  "After SIGTERM, how long ranks get to exit before SIGKILL")
      ->default_str(duration_flag(elastic::kDefaultGracePeriod));
  run->add_option("-x", options->exports,
                  "Export VAR from this environment, or set VAR=VALUE, in every rank (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run->add_option("--env", options->envs, "Set VAR=VALUE in every rank (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run->add_flag("--dry-run", options->dry_run,
                "Print what would run (per rank the command and variables; for mpi the mpirun line)");
  run->add_option("--master-addr", options->master_addr,
                  "Address ranks use to reach the launcher's store (default: 127.0.0.1 for a local job, "
                  "this host's name otherwise)")
      ->envname("PET_MASTER_ADDR");
  run->add_option("--master-port", options->master_port,
                  "Port of the launcher's store (default: a free port)")
      ->envname("PET_MASTER_PORT");
  run->add_option("--map-by", options->map_by, "mpirun's --map-by (mpi engine)")->default_str("slot");
  run->add_option("--bind-to", options->bind_to, "mpirun's --bind-to (mpi engine)")->default_str("none");
  run->add_option("--mpirun", options->mpirun, "The mpirun to run (mpi engine)")->default_str("mpirun");
  return [options, run, nproc, nproc_option, nproc_per_node, per_node_option]() {
    if (nproc_option->count() > 0) options->nproc = *nproc;
    if (per_node_option->count() > 0 || !nproc_per_node->empty()) {
      options->nproc_per_node = parse_nproc_per_node(*nproc_per_node);
    }
    options->command = run->remaining();
    return run_job(*options);
  };
}

}  // namespace myriad::launcher
