#include "launcher/mpi_engine.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <set>

#include <fmt/ranges.h>

#include "launcher/agent_launch.h"
#include "launcher/command_line.h"
#include "launcher/job_files.h"
#include "launcher/job_report.h"
#include "launcher/supervisor.h"
#include "runtime/error.h"
#include "runtime/event_log.h"

namespace myriad::launcher {
namespace {

bool running_as_root() {
  return ::geteuid() == 0;
}

// The ledger: LOG_DIR/events.jsonl, else the job's temporary directory on this host (agents on other
// hosts, which cannot write it, go on without a ledger).
std::string events_path(const RunPlan& plan, const JobEnv& job) {
  return plan.log_dir.empty() ? job_temp_dir(job.run_id) + "/events.jsonl" : plan.log_dir + "/events.jsonl";
}

}  // namespace

std::string node_sizes(const RunPlan& plan) {
  // mpirun fills each host's slots in order under --map-by slot; another mapping is left to the
  // uniform rule of rank_place.h.
  if (plan.map_by != "slot") return "";
  if (plan.hosts.empty()) return std::to_string(plan.world_size);
  std::vector<std::string> sizes;
  int left = plan.world_size;
  for (const HostSlots& host : plan.hosts) {
    if (left <= 0) break;
    int take = std::min(left, host.slots);
    sizes.push_back(std::to_string(take));
    left -= take;
  }
  if (left > 0) return "";  // oversubscribed: mpirun's own placement
  return fmt::format("{}", fmt::join(sizes, ","));
}

std::vector<std::string> mpirun_argv(const RunPlan& plan, const EnvVars& job_vars, bool as_root,
                                     const std::string& myriad_path) {
  std::vector<std::string> argv{plan.program_path};
  // Open MPI refuses to run as root without this; containers often run as root.
  if (as_root) argv.push_back("--allow-run-as-root");
  argv.insert(argv.end(), {"-np", std::to_string(plan.world_size)});
  std::string hosts =
      plan.hosts.empty() ? fmt::format("localhost:{}", plan.world_size) : format_host_list(plan.hosts);
  argv.insert(argv.end(), {"--host", hosts, "--map-by", plan.map_by, "--bind-to", plan.bind_to});
  if (plan.tag_output) argv.push_back("--tag-output");
  if (!plan.log_dir.empty()) argv.insert(argv.end(), {"--output-filename", plan.log_dir});
  std::set<std::string> exported;
  for (const auto& [name, value] : job_vars) {
    if (exported.insert(name).second) argv.insert(argv.end(), {"-x", name});
  }
  // Each rank starts as `myriad rank-exec`, which sets torchrun's variables from Open MPI's and execs the
  // program (launcher/rank_place.h).
  argv.insert(argv.end(), {myriad_path, "rank-exec", "--role", plan.role});
  if (std::string sizes = node_sizes(plan); !sizes.empty()) argv.insert(argv.end(), {"--node-sizes", sizes});
  argv.push_back("--");
  argv.insert(argv.end(), plan.argv.begin(), plan.argv.end());
  return argv;
}

std::vector<std::string> mpirun_agents_argv(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job,
                                            bool as_root) {
  std::vector<std::string> argv{plan.program_path};
  if (as_root) argv.push_back("--allow-run-as-root");
  std::vector<HostSlots> hosts = plan.hosts;
  if (hosts.empty()) hosts.push_back(HostSlots{"localhost", 1, {}});
  for (HostSlots& host : hosts) host.slots = 1;
  argv.insert(argv.end(), {"-np", std::to_string(hosts.size()), "--host", format_host_list(hosts), "--map-by",
                           "ppr:1:node", "--bind-to", "none"});
  std::set<std::string> exported;
  for (const auto& [name, value] : job_vars) {
    if (exported.insert(name).second) argv.insert(argv.end(), {"-x", name});
  }
  // The agents tag and forward their ranks' output themselves.
  std::vector<std::string> agent =
      agent_argv(plan, job, myriad_executable(), /*node_id=*/"", events_path(plan, job));
  argv.insert(argv.end(), agent.begin(), agent.end());
  return argv;
}

std::string describe_mpi(const RunPlan& plan, const EnvVars& job_vars) {
  std::vector<std::string> words{"env"};
  for (const auto& [name, value] : job_vars) words.push_back(name + "=" + value);
  std::vector<std::string> argv = mpirun_argv(plan, job_vars, running_as_root(), myriad_executable());
  words.insert(words.end(), argv.begin(), argv.end());
  return fmt::format("# mpi engine: {} rank(s) through mpirun; ranks read OMPI_COMM_WORLD_*\n{}\n",
                     plan.world_size, shell_join(words));
}

int run_mpi(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job) {
  ChildSpec child;
  child.spawn.label = "mpirun";
  child.spawn.path = plan.program_path;
  child.spawn.argv = plan.elastic ? mpirun_agents_argv(plan, job_vars, job, running_as_root())
                                  : mpirun_argv(plan, job_vars, running_as_root(), myriad_executable());
  child.spawn.environ = compose_environ(::environ, job_vars, rank_variable_names());
  // mpirun tags and forwards its ranks' output itself.
  child.capture_output = false;
  std::vector<ChildSpec> children;
  children.push_back(std::move(child));
  if (plan.elastic) {
    std::string dir = job_temp_dir(job.run_id);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      raise_errno(errno, fmt::format("cannot create the job's directory '{}'", dir));
    }
    // Events of an earlier job in the same --log-dir are not this one's.
    if (int fd = ::open(events_path(plan, job).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        fd >= 0) {
      ::close(fd);
    }
    EventLog(events_path(plan, job)).append(nlohmann::json{{"event", "job_start"}, {"run_id", job.run_id}});
  }
  Supervisor supervisor(plan.supervision);
  int code = supervisor.run(std::move(children));
  if (!plan.elastic) return code;
  return report_job(JobEnd{.plan = &plan,
                           .job = &job,
                           .events_path = events_path(plan, job),
                           .supervisor_code = code,
                           .received_signal = supervisor.received_signal(),
                           .failed_agent = supervisor.first_failure(),
                           // mpirun's agents name their nodes themselves: each is waited for until it
                           // acknowledges the end or its lease stops.
                           .own_nodes = {}});
}

}  // namespace myriad::launcher
