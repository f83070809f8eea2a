// `myriad agent`: one node of an elastic job. `myriad run` starts one per
// node; a user starts one by hand on each node (or as a hot spare) with the
// job's rendezvous endpoint and token, as with torchrun's multi-node use:
//
//   MYRIAD_TOKEN=<token> myriad agent --rdzv-endpoint host:port --rdzv-id job1
//       --nnodes 2:3 --nproc-per-node 4 train.py        (one command line)
#include <unistd.h>

#include <climits>
#include <memory>

#include "launcher/agent.h"
#include "launcher/agent_launch.h"
#include "launcher/commands.h"
#include "launcher/elastic_flags.h"
#include "launcher/job_env.h"
#include "launcher/program.h"
#include "launcher/run_plan.h"
#include "launcher/torchrun_flags.h"
#include "launcher/zygote.h"
#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::launcher {
namespace {

struct AgentFlags {
  ElasticFlags elastic;
  std::string nproc_per_node = "1";
  std::string node_id;
  std::string log_dir;
  std::string events;
  std::string grace_period = duration_flag(elastic::kDefaultGracePeriod);
  bool tag_output = true;
  std::vector<std::string> envs;
  std::vector<std::string> command;
};

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

int run_agent_command(const AgentFlags& flags) {
  if (!config::get_string(Env::process(), "MYRIAD_LOG_LEVEL")) set_log_level("warn");
  if (flags.command.empty()) {
    raise(ErrorCode::InvalidArgument, "no program given: usage is myriad agent [OPTIONS] PROGRAM [ARGS...]");
  }
  Env env = Env::process();
  AgentOptions options;
  ElasticFlags elastic = flags.elastic;
  if (elastic.rdzv_endpoint.empty())
    elastic.rdzv_endpoint = config::get_string(env, "MYRIAD_STORE").value_or("");
  if (elastic.rdzv_endpoint.empty()) {
    raise(
        ErrorCode::InvalidArgument,
        "myriad agent needs the job's store: give --rdzv-endpoint HOST:PORT or etcd://HOST:PORT,... (or set "
        "MYRIAD_STORE)");
  }
  options.store = rdzv_store_address(elastic);
  options.token = config::get_string(env, "MYRIAD_TOKEN").value_or("");
  elastic::AgentOptions& node = options.elastic;
  node.rdzv_id = flags.elastic.rdzv_id;
  options.run_id = config::get_string(env, "MYRIAD_RUN_ID").value_or(flags.elastic.rdzv_id);
  if (options.run_id.empty()) options.run_id = make_run_id();
  // Emulated Slurm nodes share one host name; SLURMD_NODENAME tells them apart.
  node.node_id = !flags.node_id.empty() ? flags.node_id
                                        : config::get_string(env, "SLURMD_NODENAME").value_or(host_name());
  std::tie(node.min_nodes, node.max_nodes) = parse_nnodes(flags.elastic.nnodes);
  node.nproc_per_node = parse_nproc_per_node(flags.nproc_per_node);
  if (node.nproc_per_node > kMaxRanksPerNode) {
    raise(ErrorCode::InvalidArgument, "--nproc-per-node {} is out of range: accepted values are 1 to {}",
          node.nproc_per_node, kMaxRanksPerNode);
  }
  const TorchrunFlags& torchrun = flags.elastic.torchrun;
  check_torchrun_flags(torchrun);
  apply_torchrun_flags(torchrun, options);
  if (flags.elastic.max_restarts < 0) {
    raise(ErrorCode::InvalidArgument, "--max-restarts {} must not be negative", flags.elastic.max_restarts);
  }
  node.max_restarts = flags.elastic.max_restarts;
  ElasticTimes times = elastic_times(flags.elastic);
  node.monitor_interval = times.monitor_interval;
  node.heartbeat_timeout = times.heartbeat_timeout;
  node.join_timeout = times.join_timeout;
  node.cooldown = times.node_cooldown;
  node.last_call = times.last_call;
  node.grace_period = config::parse_duration(flags.grace_period, "--grace-period");
  node.events_path = flags.events;
  options.log_dir = flags.log_dir;
  options.tag_output = flags.tag_output;
  options.argv = program_argv(
      flags.command, env,
      ProgramMode{.module = torchrun.module, .no_python = torchrun.no_python, .run_path = torchrun.run_path});
  options.program_path = find_executable(options.argv[0], env);
  if (!flags.elastic.preload.empty()) options.preload = parse_preload(flags.elastic.preload);
  for (const std::string& spec : flags.envs)
    options.user_env.push_back(parse_user_env(spec, "--env", false, env));
  return run_agent(options);
}

}  // namespace

CommandMain add_agent_command(CLI::App& app) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* agent =
      app.add_subcommand("agent", "Run one node of an elastic job: PROGRAM [ARGS...] per local rank");
  agent->footer(R"(
The store's token comes from MYRIAD_TOKEN. Workers get torchrun's variables
(RANK, LOCAL_RANK, WORLD_SIZE, GROUP_RANK, ROLE_RANK, MASTER_ADDR, MASTER_PORT,
TORCHELASTIC_RESTART_COUNT, TORCHELASTIC_MAX_RESTARTS, TORCHELASTIC_RUN_ID,
TORCHELASTIC_ERROR_FILE) and Myriad's. Exit code: the job's (0, or the
root-cause rank's code).)");
  agent->prefix_command();
  agent->positionals_at_end(false);
  add_elastic_flags(*agent, flags->elastic);
  agent->add_option("--nproc-per-node", flags->nproc_per_node, "Workers on this node")
      ->envname("PET_NPROC_PER_NODE")
      ->default_str("1");
  agent->add_option("--node-id", flags->node_id,
                    "This node's id (MYRIAD_NODE_ID of its workers; default: host name)");
  agent
      ->add_option("--log-dir", flags->log_dir,
                   "Write each rank's output to DIR/rank-N.log and events to DIR/events.jsonl")
      ->envname("PET_LOG_DIR");
  agent->add_option("--events", flags->events, "The goodput ledger file (default: LOG_DIR/events.jsonl)");
  agent
      ->add_option("--grace-period", flags->grace_period,
                   "After SIGTERM, how long workers get before SIGKILL")
      ->default_str(duration_flag(elastic::kDefaultGracePeriod));
  agent->add_flag("--tag-output,!--no-tag-output", flags->tag_output, "Prefix output lines with '[rank N] '");
  agent->add_option("--env", flags->envs, "Set VAR=VALUE in every worker (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return [flags, agent]() {
    flags->command = agent->remaining();
    return run_agent_command(*flags);
  };
}

}  // namespace myriad::launcher
