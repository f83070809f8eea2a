// The MPI engine: `myriad run` starts one mpirun, which starts the ranks.
//
// mpirun_argv() builds
//   mpirun [--allow-run-as-root] -np N --host h1:s1,... --map-by M --bind-to B
//          [--tag-output] [--output-filename DIR] -x NAME ...
//          MYRIAD rank-exec --role R [--node-sizes N0,...] -- PROGRAM ARGS...
// A job without hosts gets --host localhost:N, so that N ranks start on a
// machine with fewer cores. The job's variables travel by name (-x NAME):
// their values are in mpirun's environment, not on its command line, where
// any user could read the job token. Each rank starts as `myriad rank-exec`
// (MYRIAD: the `myriad` binary at the same path on every host), which turns
// Open MPI's OMPI_COMM_WORLD_* variables into torchrun's and Myriad's and
// gives rank 0 a free MASTER_PORT before it execs the program (rank_place.h;
// --node-sizes: the ranks per host under --map-by slot, for GROUP_RANK).
// The per-rank Myriad/torchrun names are
// removed from mpirun's environment so that a stale inherited value cannot
// override them. run_mpi() runs mpirun as the one supervised child
// (signals forwarded, --timeout applied) and returns its exit code.
// describe_mpi() is the --dry-run text. Call run_mpi() from the main thread.
//
// An elastic job (--nnodes, --max-restarts) runs one agent per host instead:
//   mpirun -np H --host h1:1,... --map-by ppr:1:node myriad agent --rdzv-endpoint ... PROGRAM ARGS...
// (the `myriad` binary at the same path on every host); the agents start the
// ranks, restart them, and the end reports the root cause (job_report.h).
// mpirun ends the whole job when an agent itself dies, so a lost host is not
// survived on this engine: start `myriad agent` on each host for that.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"

namespace myriad::launcher {

std::vector<std::string> mpirun_argv(const RunPlan& plan, const EnvVars& job_vars, bool as_root,
                                     const std::string& myriad_path);
// "4,4,2": the ranks each host gets under --map-by slot; empty for another mapping.
std::string node_sizes(const RunPlan& plan);
std::vector<std::string> mpirun_agents_argv(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job,
                                            bool as_root);
std::string describe_mpi(const RunPlan& plan, const EnvVars& job_vars);
int run_mpi(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job);

}  // namespace myriad::launcher
