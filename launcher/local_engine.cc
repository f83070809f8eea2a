#include "launcher/local_engine.h"

#include <fmt/format.h>
#include <unistd.h>

#include "launcher/command_line.h"

namespace myriad::launcher {
namespace {

RankPlace local_place(const RunPlan& plan, int rank) {
  return RankPlace{.rank = rank,
                   .world_size = plan.world_size,
                   .local_rank = rank,
                   .local_world_size = plan.world_size,
                   .group_rank = 0};
}

EnvVars rank_env(const RunPlan& plan, const EnvVars& job_vars, int rank) {
  EnvVars vars = job_vars;
  EnvVars place = rank_variables(local_place(plan, rank));
  vars.insert(vars.end(), place.begin(), place.end());
  return vars;
}

}  // namespace

std::vector<ChildSpec> local_children(const RunPlan& plan, const EnvVars& job_vars, char** base_environ) {
  std::vector<ChildSpec> children;
  children.reserve(static_cast<size_t>(plan.world_size));
  for (int rank = 0; rank < plan.world_size; ++rank) {
    ChildSpec child;
    child.spawn.label = fmt::format("rank {}", rank);
    child.spawn.path = plan.program_path;
    child.spawn.argv = plan.argv;
    child.spawn.environ = compose_environ(base_environ, rank_env(plan, job_vars, rank));
    child.capture_output = true;
    if (plan.tag_output) child.prefix = fmt::format("[rank {}] ", rank);
    if (!plan.log_dir.empty()) child.log_path = fmt::format("{}/rank-{}.log", plan.log_dir, rank);
    children.push_back(std::move(child));
  }
  return children;
}

std::string describe_local(const RunPlan& plan, const EnvVars& job_vars) {
  std::string out = fmt::format("# local engine: {} rank(s) on this machine", plan.world_size);
  if (!plan.log_dir.empty()) out += fmt::format(", logs in {}/rank-N.log", plan.log_dir);
  out += '\n';
  for (int rank = 0; rank < plan.world_size; ++rank) {
    std::vector<std::string> words{"env"};
    for (const auto& [name, value] : rank_env(plan, job_vars, rank)) words.push_back(name + "=" + value);
    words.insert(words.end(), plan.argv.begin(), plan.argv.end());
    out += fmt::format("rank {}: {}\n", rank, shell_join(words));
  }
  return out;
}

int run_local(const RunPlan& plan, const EnvVars& job_vars) {
  Supervisor supervisor(plan.supervision);
  return supervisor.run(local_children(plan, job_vars, ::environ));
}

}  // namespace myriad::launcher
