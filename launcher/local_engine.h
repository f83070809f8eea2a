// The local engine: every node of the job is an agent (`myriad agent`, a
// child of `myriad run`) on this machine, and every rank a child of its
// agent.
//
// run_local() starts MAX of --nnodes agents (one emulated node each: node id
// "node-<k>" when there are several, the host name when there is one), with
// the job's variables and the user's -x/--env in their environment, and
// supervises them without stopping the others when one fails: the agents
// coordinate through the store (a lost agent is a lost node). It returns the
// job's exit code and prints its end: the root-cause rank when the job
// failed, and for an elastic job the goodput summary (job_report.h).
// describe_local() is the --dry-run text: per rank, a shell command line
// with the variables Myriad sets. Call run_local() from the main thread.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"
#include "launcher/supervisor.h"

namespace myriad::launcher {

// An agent's grace period over its ranks' plus this: the agent stops its ranks before it is killed.
inline constexpr std::chrono::milliseconds kAgentGraceMargin{5000};

std::vector<ChildSpec> agent_children(const RunPlan& plan, const JobEnv& job, const EnvVars& job_vars,
                                      const std::string& events_path);
std::string describe_local(const RunPlan& plan, const EnvVars& job_vars);
int run_local(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job);

}  // namespace myriad::launcher
