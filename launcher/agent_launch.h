// How `myriad run` starts its agents: the `myriad agent` command line that
// carries a plan's elastic settings (used by the local engine, one agent per
// emulated node, and by the MPI engine, one per host through mpirun).
// Pure apart from myriad_executable(), which reads /proc/self/exe.
#pragma once

#include <string>
#include <vector>

#include "launcher/agent.h"
#include "launcher/job_env.h"
#include "launcher/run_plan.h"

namespace myriad::launcher {

// Copies torchrun's per-worker flags (role, -r/-t, filter, prefix template, signals, local address) into
// an agent's options.
void apply_torchrun_flags(const TorchrunFlags& flags, AgentOptions& options);

// This process's executable: the agents run the same `myriad` (on other hosts, at the same path).
std::string myriad_executable();

// argv of `myriad agent ... PROGRAM ARGS` for one node. An empty `node_id`
// leaves the agent's default (its host name); an empty `events_path` leaves
// the ledger to --log-dir; a `node_rank` below 0 passes no --node-rank.
std::vector<std::string> agent_argv(const RunPlan& plan, const JobEnv& job, const std::string& myriad_path,
                                    const std::string& node_id, const std::string& events_path,
                                    int node_rank = -1);

}  // namespace myriad::launcher
