// The whole job killed while a checkpoint persists (a machine losing power,
// a scheduler's SIGKILL): the torn step is never loaded; run again, the job
// resumes from the last committed step and ends with the result of a run
// without failure.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "checkpoint/reader.h"
#include "elastic_launch_test.h"

namespace myriad::test {
namespace {

namespace fs = std::filesystem;

// The kill must land inside a persist; a persist that finishes first is tried again.
constexpr int kAttempts = 4;

using KilledJob = ElasticLaunchTest;

// The step of a save in progress newer than the last committed one ("step-N.tmp-<run id>"), if any.
std::optional<uint64_t> persist_in_progress(const std::string& dir) {
  static const std::regex pattern(R"(step-0*(\d+)\.tmp-.*)");
  std::optional<uint64_t> committed = checkpoint::latest_step(dir);
  if (!committed) return std::nullopt;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::smatch match;
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern) && std::stoull(match[1].str()) > *committed) {
      return std::stoull(match[1].str());
    }
  }
  return std::nullopt;
}

TEST_F(KilledJob, KilledDuringAPersistResumesFromTheLastCommittedStep) {
  // 32 MB of parameters, persisted at 16 MB/s per rank (MYRIAD_CKPT_WRITE_MBPS): each persist takes
  // about a second however fast the disk (a tmpfs) is, and the kill lands inside one.
  TrainConfig config{.steps = 24,
                     .param_count = 4'000'000,
                     .batch = 2,
                     .ckpt_every = 4,
                     .step_ms = 0,
                     .fail_at_step = -1,
                     .ckpt_dir = {}};
  std::optional<uint64_t> torn;
  std::optional<uint64_t> committed;
  for (int attempt = 0; attempt < kAttempts && !torn; ++attempt) {
    std::string run_id = new_run_id();
    config.ckpt_dir = dir_.path() + "/ckpt-" + run_id;
    std::unique_ptr<RunningCommand> job =
        start_command(run_options(run_id, {"--max-restarts", "3", "--nproc-per-node", "2"}, config,
                                  {{"MYRIAD_CKPT_WRITE_MBPS", "16"}}));
    std::optional<uint64_t> in_progress;
    wait_until(
        [&] {
          in_progress = persist_in_progress(config.ckpt_dir);
          return in_progress.has_value();
        },
        kWaitTimeout);
    ASSERT_TRUE(in_progress) << "no persist seen in " << config.ckpt_dir << "\n" << job->out_so_far();
    // The launcher's death takes the agents with it, and theirs the workers
    // (PR_SET_PDEATHSIG): the whole job dies at once, and nothing cleans up.
    job->send_signal(SIGKILL);
    CommandResult killed = job->wait();
    EXPECT_EQ(killed.status.signal, SIGKILL) << killed.describe();
    forget_killed_job(run_id);
    committed = checkpoint::latest_step(config.ckpt_dir);
    ASSERT_TRUE(committed);
    // A kill between the rename of step-N/ and the update of `latest` leaves step N committed
    // (docs/checkpoint-format.md) but not yet named: not a torn save, so try again.
    std::vector<uint64_t> listed = checkpoint::list_steps(config.ckpt_dir);
    bool renamed = std::find(listed.begin(), listed.end(), *in_progress) != listed.end();
    if (*committed < *in_progress && !renamed) torn = in_progress;
  }
  ASSERT_TRUE(torn) << "every kill came after the persist had committed (" << kAttempts << " attempts)";
  std::printf("killed during the persist of step %llu; step %llu was committed\n",
              static_cast<unsigned long long>(*torn), static_cast<unsigned long long>(*committed));
  std::vector<uint64_t> steps = checkpoint::list_steps(config.ckpt_dir);
  EXPECT_EQ(std::count(steps.begin(), steps.end(), *torn), 0) << "the torn step " << *torn << " is listed";

  // Run again: a new job (new run id: its node memory is gone), the same directory.
  std::string run_id = new_run_id();
  CommandResult result =
      run_command(run_options(run_id, {"--max-restarts", "3", "--nproc-per-node", "2"}, config));
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(checksum_of(result.out), baseline_checksum(config)) << result.describe();
  std::vector<Resume> resumes = resumes_of(result.out);
  ASSERT_EQ(resumes.size(), 2u) << result.describe();
  for (const Resume& resume : resumes) {
    EXPECT_EQ(resume.step, static_cast<long>(*committed)) << result.describe();
    EXPECT_EQ(resume.source, "disk") << result.describe();
  }
  // The interrupted save's temporary directory was removed by a later save.
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(config.ckpt_dir, ec)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace myriad::test
