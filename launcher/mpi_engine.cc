#include "launcher/mpi_engine.h"

#include <fmt/format.h>
#include <unistd.h>

#include <set>

#include "launcher/command_line.h"
#include "launcher/supervisor.h"

namespace myriad::launcher {
namespace {

bool running_as_root() {
  return ::geteuid() == 0;
}

}  // namespace

std::vector<std::string> mpirun_argv(const RunPlan& plan, const EnvVars& job_vars, bool as_root) {
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
  argv.insert(argv.end(), plan.argv.begin(), plan.argv.end());
  return argv;
}

std::string describe_mpi(const RunPlan& plan, const EnvVars& job_vars) {
  std::vector<std::string> words{"env"};
  for (const auto& [name, value] : job_vars) words.push_back(name + "=" + value);
  std::vector<std::string> argv = mpirun_argv(plan, job_vars, running_as_root());
  words.insert(words.end(), argv.begin(), argv.end());
  return fmt::format("# mpi engine: {} rank(s) through mpirun; ranks read OMPI_COMM_WORLD_*\n{}\n",
                     plan.world_size, shell_join(words));
}

int run_mpi(const RunPlan& plan, const EnvVars& job_vars) {
  ChildSpec child;
  child.spawn.label = "mpirun";
  child.spawn.path = plan.program_path;
  child.spawn.argv = mpirun_argv(plan, job_vars, running_as_root());
  child.spawn.environ = compose_environ(::environ, job_vars, rank_variable_names());
  // mpirun tags and forwards its ranks' output itself.
  child.capture_output = false;
  std::vector<ChildSpec> children;
  children.push_back(std::move(child));
  Supervisor supervisor(plan.supervision);
  return supervisor.run(std::move(children));
}

}  // namespace myriad::launcher
