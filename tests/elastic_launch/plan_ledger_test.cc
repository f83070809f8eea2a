// `myriad plan --ledger` on the goodput ledger of a real job: `myriad run`
// of elastic_train (2 ranks, a checkpoint every 4 steps) that fails at step
// 10 in every round, so the ledger holds one failure recovered from, its
// restore, and the checkpoints' blocking times (snapshot_taken). Every
// component then comes from the ledger, and the plan's numbers are the
// ledger's own summary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "elastic/ledger.h"
#include "elastic_launch_test.h"

namespace myriad::test {
namespace {

class PlanLedger : public ElasticLaunchTest {};

TEST_F(PlanLedger, EveryComponentComesFromARealRunsLedger) {
  std::string run_id = new_run_id();
  TrainConfig config{.steps = 20, .fail_at_step = 10, .ckpt_dir = dir_.path() + "/ckpt"};
  CommandResult job =
      run_command(run_options(run_id, {"--max-restarts", "1", "--nproc-per-node", "2"}, config));
  ASSERT_EQ(job.shell_code(), 3) << job.describe();  // the second round fails too: no restart left
  const std::string path = log_dir(run_id) + "/events.jsonl";
  elastic::GoodputReport report = elastic::summarize(elastic::read_events(path));
  ASSERT_EQ(report.recoveries.size(), 1u) << job.describe();
  ASSERT_GE(report.checkpoints, 2) << job.describe();
  EXPECT_GT(report.checkpoint_blocking_seconds, 0);

  CommandOptions plan;
  plan.argv = {myriad_path(), "plan", "--gpus", "16384", "--mtbf-hours", "3.1", "--ledger", path, "--json"};
  plan.timeout = kWaitTimeout;
  CommandResult result = run_command(plan);
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  nlohmann::json out = nlohmann::json::parse(result.out);
  for (const char* name : {"save", "detection", "stop", "rendezvous", "restart", "restore"}) {
    EXPECT_EQ(out["sources"][name], "ledger") << name << ": " << result.out;
  }
  const elastic::LostTime& recovery = report.recoveries[0];
  const nlohmann::json& lost = out["daly"]["lost_per_failure"];
  EXPECT_NEAR(lost["stop"].get<double>(), recovery.stop, 1e-9);
  EXPECT_NEAR(lost["restart"].get<double>(), recovery.restart, 1e-9);
  EXPECT_NEAR(lost["restore"].get<double>(), recovery.restore, 1e-9);
  EXPECT_GT(recovery.restore, 0) << "the restarted ranks restored step 8";
  EXPECT_NEAR(out["save_seconds"].get<double>(), report.checkpoint_blocking_seconds, 1e-9);
  EXPECT_EQ(out["ledger"]["failures"], 2);
  const double ettr = out["daly"]["ettr"].get<double>();
  EXPECT_GT(ettr, 0.5);
  EXPECT_LT(ettr, 1);
}

}  // namespace
}  // namespace myriad::test
