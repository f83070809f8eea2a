#include "launcher/agent_launch.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad::launcher {
namespace {

std::string ms(std::chrono::milliseconds d) {
  return fmt::format("{}ms", d.count());
}

}  // namespace

void apply_torchrun_flags(const TorchrunFlags& flags, AgentOptions& options) {
  options.role = flags.role;
  options.redirects = flags.redirects;
  options.tee = flags.tee;
  options.local_ranks_filter = flags.local_ranks_filter;
  options.log_line_prefix_template = flags.log_line_prefix_template;
  options.signals_to_handle = flags.signals_to_handle;
  options.local_addr = flags.local_addr;
  // As torchrun: the node rank places the node under the static rendezvous
  // (torchrun's default) and is ignored, with a warning, under c10d.
  if (flags.rdzv_backend == "static") {
    options.elastic.node_rank = flags.node_rank;
  } else if (flags.node_rank > 0) {
    MYRIAD_LOG_WARN(
        "--node-rank {} is used only with --rdzv-backend static: ignored (the {} rendezvous assigns "
        "group ranks)",
        flags.node_rank, flags.rdzv_backend);
  }
}

std::string myriad_executable() {
  char path[PATH_MAX + 1] = {};
  ssize_t n = ::readlink("/proc/self/exe", path, PATH_MAX);
  if (n <= 0) raise_errno(errno, "readlink /proc/self/exe (the myriad binary, to start the agents)");
  return std::string(path, static_cast<size_t>(n));
}

std::vector<std::string> agent_argv(const RunPlan& plan, const JobEnv& job, const std::string& myriad_path,
                                    const std::string& node_id, const std::string& events_path,
                                    int node_rank) {
  std::vector<std::string> argv{myriad_path,
                                "agent",
                                "--rdzv-endpoint",
                                job.store.to_string(),
                                "--rdzv-id",
                                job.run_id,
                                "--nnodes",
                                fmt::format("{}:{}", plan.min_nodes, plan.max_nodes),
                                "--nproc-per-node",
                                std::to_string(plan.nproc_per_node),
                                "--max-restarts",
                                std::to_string(plan.max_restarts),
                                "--monitor-interval",
                                ms(plan.elastic_times.monitor_interval),
                                "--heartbeat-timeout",
                                ms(plan.elastic_times.heartbeat_timeout),
                                "--join-timeout",
                                ms(plan.elastic_times.join_timeout),
                                "--last-call",
                                ms(plan.elastic_times.last_call),
                                "--node-cooldown",
                                ms(plan.elastic_times.node_cooldown),
                                "--grace-period",
                                ms(plan.supervision.grace_period)};
  if (!node_id.empty()) argv.insert(argv.end(), {"--node-id", node_id});
  if (!events_path.empty()) argv.insert(argv.end(), {"--events", events_path});
  if (!plan.log_dir.empty()) argv.insert(argv.end(), {"--log-dir", plan.log_dir});
  if (!plan.preload.empty()) argv.insert(argv.end(), {"--preload", plan.preload});
  if (!plan.tag_output) argv.push_back("--no-tag-output");
  const TorchrunFlags& torchrun = plan.torchrun;
  argv.insert(argv.end(), {"--role", torchrun.role, "--signals-to-handle", torchrun.signals_to_handle,
                           "--rdzv-backend", torchrun.rdzv_backend});
  if (node_rank >= 0) argv.insert(argv.end(), {"--node-rank", std::to_string(node_rank)});
  auto pass = [&argv](const char* flag, const std::string& value) {
    if (!value.empty()) argv.insert(argv.end(), {flag, value});
  };
  pass("--redirects", torchrun.redirects);
  pass("--tee", torchrun.tee);
  pass("--local-ranks-filter", torchrun.local_ranks_filter);
  pass("--log-line-prefix-template", torchrun.log_line_prefix_template);
  pass("--local-addr", torchrun.local_addr);
  // plan.argv is resolved already (interpreter first where one is needed): the agent runs it as it is.
  argv.push_back("--no-python");
  argv.insert(argv.end(), plan.argv.begin(), plan.argv.end());
  return argv;
}

}  // namespace myriad::launcher
