// The local engine: every rank is a child of `myriad run` on this machine.
//
// local_children() turns a plan into one ChildSpec per rank: the program,
// the launcher's environment plus the job's and the rank's variables
// (job_env.h), output captured with the "[rank N] " prefix when tagging is
// on, and DIR/rank-N.log when --log-dir is given. run_local() runs them
// under a Supervisor and returns the job's exit code (supervisor.h).
// describe_local() is the --dry-run text: per rank, a shell command line
// with the variables Myriad sets. Call run_local() from the main thread.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"
#include "launcher/supervisor.h"

namespace myriad::launcher {

std::vector<ChildSpec> local_children(const RunPlan& plan, const EnvVars& job_vars, char** base_environ);
std::string describe_local(const RunPlan& plan, const EnvVars& job_vars);
int run_local(const RunPlan& plan, const EnvVars& job_vars);

}  // namespace myriad::launcher
