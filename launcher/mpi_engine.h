// The MPI engine: `myriad run` starts one mpirun, which starts the ranks.
//
// mpirun_argv() builds
//   mpirun [--allow-run-as-root] -np N --host h1:s1,... --map-by M --bind-to B
//          [--tag-output] [--output-filename DIR] -x NAME ... PROGRAM ARGS...
// A job without hosts gets --host localhost:N, so that N ranks start on a
// machine with fewer cores. The job's variables travel by name (-x NAME):
// their values are in mpirun's environment, not on its command line, where
// any user could read the job token. Each rank learns its place from Open
// MPI's OMPI_COMM_WORLD_* variables; the per-rank Myriad/torchrun names are
// removed from mpirun's environment so that a stale inherited value cannot
// override them. run_mpi() runs mpirun as the one supervised child
// (signals forwarded, --timeout applied) and returns its exit code.
// describe_mpi() is the --dry-run text. Call run_mpi() from the main thread.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"

namespace myriad::launcher {

std::vector<std::string> mpirun_argv(const RunPlan& plan, const EnvVars& job_vars, bool as_root);
std::string describe_mpi(const RunPlan& plan, const EnvVars& job_vars);
int run_mpi(const RunPlan& plan, const EnvVars& job_vars);

}  // namespace myriad::launcher
