#include "launcher/slurm_engine.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <regex>

#include "launcher/agent_launch.h"
#include "launcher/command_line.h"
#include "launcher/job_files.h"
#include "launcher/job_report.h"
#include "launcher/supervisor.h"
#include "runtime/error.h"
#include "runtime/event_log.h"

namespace myriad::launcher {

namespace {

// srun names a task's signal by strsignal()'s text.
int signal_named(std::string_view text) {
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* name = ::strsignal(sig);
    if (name != nullptr && text == name) return sig;
  }
  return 0;
}

}  // namespace

int first_failed_task_code(const std::vector<std::string>& srun_stderr, int srun_code) {
  static const std::regex kTask(R"(srun: error: \S+: tasks? [0-9,\-\[\]]+: (.*)$)");
  static const std::regex kExited(R"(Exited with exit code (\d+))");
  for (const std::string& line : srun_stderr) {
    std::smatch m;
    if (!std::regex_search(line, m, kTask)) continue;
    std::string what = m[1];
    std::smatch code;
    if (std::regex_search(what, code, kExited)) return std::stoi(code[1]);
    if (int sig = signal_named(what); sig != 0) return 128 + sig;
  }
  return srun_code;
}

std::vector<std::string> srun_argv(const RunPlan& plan, const JobEnv& job, const std::string& myriad_path) {
  std::vector<std::string> argv{plan.program_path, "--kill-on-bad-exit=1"};
  if (plan.elastic) {
    argv.insert(argv.end(), {"--ntasks-per-node", "1"});
    if (plan.slurm_nodes > 0) argv.insert(argv.end(), {"--nodes", std::to_string(plan.slurm_nodes)});
    std::vector<std::string> agent = agent_argv(plan, job, myriad_path, /*node_id=*/"", /*events_path=*/"");
    argv.insert(argv.end(), agent.begin(), agent.end());
    return argv;
  }
  if (plan.slurm_per_node > 0) {
    argv.insert(argv.end(), {"--ntasks-per-node", std::to_string(plan.slurm_per_node)});
    if (plan.slurm_nodes > 0) argv.insert(argv.end(), {"--nodes", std::to_string(plan.slurm_nodes)});
  }
  if (plan.slurm_tasks > 0) argv.insert(argv.end(), {"--ntasks", std::to_string(plan.slurm_tasks)});
  if (plan.tag_output) argv.push_back("--label");
  if (!plan.log_dir.empty()) argv.insert(argv.end(), {"--output", plan.log_dir + "/rank-%t.log"});
  argv.insert(argv.end(), {myriad_path, "rank-exec", "--role", plan.role, "--"});
  argv.insert(argv.end(), plan.argv.begin(), plan.argv.end());
  return argv;
}

std::string describe_slurm(const RunPlan& plan, const EnvVars& job_vars) {
  std::vector<std::string> words{"env"};
  for (const auto& [name, value] : job_vars) words.push_back(name + "=" + value);
  JobEnv job{.store = {plan.store_advertise_host, plan.store_port},
             .token = "<token>",
             .run_id = "<run id>",
             .restart_count = 0,
             .user = {}};
  std::vector<std::string> argv = srun_argv(plan, job, myriad_executable());
  words.insert(words.end(), argv.begin(), argv.end());
  return fmt::format("# slurm engine: ranks through srun in allocation {}; ranks read SLURM_*\n{}\n",
                     plan.slurm_job_id, shell_join(words));
}

int run_slurm(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job) {
  if (!plan.log_dir.empty()) {
    std::string dir = plan.log_dir;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      raise_errno(errno, fmt::format("--log-dir '{}': cannot create the directory", dir));
    }
  }
  ChildSpec child;
  child.spawn.label = "srun";
  child.spawn.path = plan.program_path;
  child.spawn.argv = srun_argv(plan, job, myriad_executable());
  child.spawn.environ = compose_environ(::environ, job_vars, rank_variable_names());
  // srun labels its ranks' lines itself; its stderr is read for the first failed task.
  child.capture_output = true;
  std::vector<ChildSpec> children;
  children.push_back(std::move(child));
  SupervisorOptions options = plan.supervision;
  options.report_exits = false;  // srun has named the failed task
  Supervisor supervisor(options);
  int code = supervisor.run(std::move(children));
  if (code != 0 && supervisor.first_failure() && supervisor.received_signal() == 0) {
    code = first_failed_task_code(supervisor.first_failure()->stderr_tail, code);
  }
  if (!plan.elastic) return code;
  return report_job(JobEnd{.plan = &plan,
                           .job = &job,
                           .events_path = "",
                           .supervisor_code = code,
                           .received_signal = supervisor.received_signal(),
                           .failed_agent = supervisor.first_failure(),
                           .own_nodes = {}});
}

}  // namespace myriad::launcher
