#include "launcher/local_engine.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "launcher/agent_launch.h"
#include "launcher/command_line.h"
#include "launcher/job_files.h"
#include "launcher/job_report.h"
#include "runtime/error.h"
#include "runtime/event_log.h"

namespace myriad::launcher {
namespace {

std::string node_id(const RunPlan& plan, int node) {
  if (plan.local_agents > 1) return fmt::format("node-{}", node);
  char name[HOST_NAME_MAX + 1] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

std::vector<std::string> node_ids(const RunPlan& plan) {
  std::vector<std::string> ids;
  for (int node = 0; node < plan.local_agents; ++node) ids.push_back(node_id(plan, node));
  return ids;
}

EnvVars rank_env(const RunPlan& plan, const EnvVars& job_vars, int rank) {
  EnvVars vars = job_vars;
  int local = rank % plan.nproc_per_node;
  EnvVars place = rank_variables(RankPlace{.rank = rank,
                                           .world_size = plan.world_size,
                                           .local_rank = local,
                                           .local_world_size = plan.nproc_per_node,
                                           .group_rank = rank / plan.nproc_per_node});
  vars.insert(vars.end(), place.begin(), place.end());
  vars.emplace_back("MYRIAD_NODE_ID", node_id(plan, rank / plan.nproc_per_node));
  return vars;
}

}  // namespace

std::vector<ChildSpec> agent_children(const RunPlan& plan, const JobEnv& job, const EnvVars& job_vars,
                                      const std::string& events_path) {
  std::string self = myriad_executable();
  std::vector<ChildSpec> agents;
  for (int node = 0; node < plan.local_agents; ++node) {
    // --node-rank K names this machine's first node: emulated node i asks
    // for K + i (under c10d each agent gets K as given, and warns of it).
    const int node_rank = plan.torchrun.node_rank < 0              ? -1
                          : plan.torchrun.rdzv_backend == "static" ? plan.torchrun.node_rank + node
                                                                   : plan.torchrun.node_rank;
    std::vector<std::string> argv = agent_argv(plan, job, self, node_id(plan, node), events_path, node_rank);
    ChildSpec agent;
    agent.spawn.label = fmt::format("agent {}", node_id(plan, node));
    agent.spawn.path = self;
    agent.spawn.argv = std::move(argv);
    // The job's variables (store, token, run id) and the user's reach the ranks through their agent.
    agent.spawn.environ = compose_environ(::environ, job_vars);
    agent.capture_output = false;
    agents.push_back(std::move(agent));
  }
  return agents;
}

std::string describe_local(const RunPlan& plan, const EnvVars& job_vars) {
  std::string out = fmt::format("# local engine: {} rank(s) on this machine", plan.world_size);
  if (plan.local_agents > 1) out += fmt::format(", {} node(s) of {}", plan.local_agents, plan.nproc_per_node);
  if (plan.min_nodes > plan.local_agents) {
    out += fmt::format(" (waits for {} more node(s) to join through the store)",
                       plan.min_nodes - plan.local_agents);
  }
  if (!plan.log_dir.empty()) out += fmt::format(", logs in {}/rank-N.log", plan.log_dir);
  out += '\n';
  for (int rank = 0; rank < std::min(plan.world_size, plan.local_agents * plan.nproc_per_node); ++rank) {
    std::vector<std::string> words{"env"};
    for (const auto& [name, value] : rank_env(plan, job_vars, rank)) words.push_back(name + "=" + value);
    words.insert(words.end(), plan.argv.begin(), plan.argv.end());
    out += fmt::format("rank {}: {}\n", rank, shell_join(words));
  }
  return out;
}

int run_local(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job) {
  std::string temp_dir = job_temp_dir(job.run_id);
  if (::mkdir(temp_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    raise_errno(errno, fmt::format("cannot create the job's directory '{}'", temp_dir));
  }
  std::string events_path =
      plan.log_dir.empty() ? temp_dir + "/events.jsonl" : plan.log_dir + "/events.jsonl";
  // Events of an earlier job in the same --log-dir are not this one's.
  if (int fd = ::open(events_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); fd >= 0)
    ::close(fd);
  EventLog events(events_path);
  events.append(nlohmann::json{{"event", "job_start"},
                               {"run_id", job.run_id},
                               {"nodes", plan.local_agents},
                               {"nproc_per_node", plan.nproc_per_node},
                               {"max_restarts", plan.max_restarts}});
  SupervisorOptions options = plan.supervision;
  options.stop_on_failure = false;
  options.report_exits = false;
  options.grace_period += kAgentGraceMargin;
  Supervisor supervisor(options);
  int code = supervisor.run(agent_children(plan, job, job_vars, events_path));
  int exit_code = report_job(JobEnd{.plan = &plan,
                                    .job = &job,
                                    .events_path = events_path,
                                    .supervisor_code = code,
                                    .received_signal = supervisor.received_signal(),
                                    .failed_agent = supervisor.first_failure(),
                                    .own_nodes = node_ids(plan)});
  return exit_code;
}

}  // namespace myriad::launcher
