// The Slurm engine: inside an allocation (SLURM_JOB_ID set; the default
// there, `--engine slurm` to force it) `myriad run` starts the ranks with one
// srun, which starts them on the allocation's nodes.
//
// srun_argv() builds
//   srun --kill-on-bad-exit=1 [--ntasks N] [--nodes K --ntasks-per-node P]
//        [--label] [--output DIR/rank-%t.log] MYRIAD rank-exec --role R -- PROGRAM ARGS...
// srun passes the launcher's environment on (the job's variables and the
// user's -x/--env: the token never appears on a command line). Each rank
// starts as `myriad rank-exec`, which turns Slurm's SLURM_PROCID, ... into
// torchrun's and Myriad's variables and gives rank 0 a free MASTER_PORT
// (rank_place.h). Ranks without -np/--nproc-per-node: srun's own default
// (one per node of the allocation, or SLURM_NTASKS). --tag-output is srun's
// --label ("N: " before each line); --log-dir is srun's --output, one file
// per rank (then the console gets the ranks' stdout no more).
//
// An elastic job (--nnodes, --max-restarts) runs one agent per node instead:
//   srun --ntasks-per-node 1 --nodes K MYRIAD agent --rdzv-endpoint ... PROGRAM ARGS...
// each named by its Slurm node (SLURMD_NODENAME).
//
// run_slurm() runs srun as the one supervised child: a signal to `myriad
// run` reaches srun, which ends the step's tasks; slurmd kills whatever a
// task left behind when the step ends (also after scancel). srun exits with
// the highest code of its tasks (143 for the ranks it terminated after the
// first failure), so the job's code comes from srun's own report of the
// first task that failed (first_failed_task_code). Call it from the main
// thread.
#pragma once

#include <string>
#include <vector>

#include "launcher/job_env.h"
#include "launcher/run_plan.h"

namespace myriad::launcher {

std::vector<std::string> srun_argv(const RunPlan& plan, const JobEnv& job, const std::string& myriad_path);
// From srun's stderr lines: the code of the first "task N: Exited with exit
// code C" (C) or "task N: <signal name>" (128 + the signal) line; `srun_code`
// when there is none.
int first_failed_task_code(const std::vector<std::string>& srun_stderr, int srun_code);
std::string describe_slurm(const RunPlan& plan, const EnvVars& job_vars);
int run_slurm(const RunPlan& plan, const EnvVars& job_vars, const JobEnv& job);

}  // namespace myriad::launcher
