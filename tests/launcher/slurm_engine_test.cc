// The Slurm engine's srun command line and its reading of srun's report
// (the multi-node runs against a real Slurm are in tests/python/test_dropin.py).
#include "launcher/slurm_engine.h"

#include <gtest/gtest.h>

#include "launcher/command_line.h"

namespace myriad::launcher {
namespace {

RunPlan slurm_plan() {
  RunPlan plan;
  plan.engine = "slurm";
  plan.program_path = "/usr/bin/srun";
  plan.argv = {"python", "train.py"};
  plan.slurm_nodes = 2;
  plan.slurm_per_node = 4;
  plan.role = "default";
  return plan;
}

TEST(SrunArgv, RanksStartAsRankExecWithTheCounts) {
  JobEnv job{.store = {"127.0.0.1", 5}, .token = "secret", .run_id = "r", .restart_count = 0, .user = {}};
  std::string line = shell_join(srun_argv(slurm_plan(), job, "/bin/myriad"));
  EXPECT_EQ(line,
            "/usr/bin/srun --kill-on-bad-exit=1 --ntasks-per-node 4 --nodes 2 --label /bin/myriad rank-exec "
            "--role default -- python train.py");
  EXPECT_EQ(line.find("secret"), std::string::npos) << "the token must not be on srun's command line";
  RunPlan plan = slurm_plan();
  plan.slurm_per_node = 0;
  plan.slurm_tasks = 3;
  plan.tag_output = false;
  plan.log_dir = "/logs";
  EXPECT_EQ(shell_join(srun_argv(plan, job, "/bin/myriad")),
            "/usr/bin/srun --kill-on-bad-exit=1 --ntasks 3 --output /logs/rank-%t.log /bin/myriad rank-exec "
            "--role default -- python train.py");
}

TEST(SrunReport, TheFirstFailedTaskGivesTheCode) {
  // srun exits 143 here: the highest code, of the task it terminated after task 1 failed.
  EXPECT_EQ(first_failed_task_code({"[rank 0] hello", "srun: error: n2: task 1: Exited with exit code 3",
                                    "srun: launch/slurm: _step_signal: Terminating StepId=2.0",
                                    "srun: error: n1: task 0: Terminated"},
                                   143),
            3);
  EXPECT_EQ(first_failed_task_code({"srun: error: n1: tasks 0-1: Killed"}, 137), 128 + 9);
  EXPECT_EQ(first_failed_task_code({"srun: error: n1: task 2: Segmentation fault"}, 139), 128 + 11);
  EXPECT_EQ(first_failed_task_code({"some output"}, 7), 7);
}

}  // namespace
}  // namespace myriad::launcher
