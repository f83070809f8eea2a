// kill -9 during persist: a saving rank, or the whole job, dies at a random
// moment of a stream of saves. After every trial `latest` names a step that
// loads and verifies, and no committed step is damaged. The trials share
// one directory, so each also starts over the leftovers of the previous.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

constexpr int kTrials = 50;
constexpr int kRanks = 2;
constexpr int kSavesPerTrial = 40;  // more than a kill's latest moment leaves time for
// Kills land within this many microseconds of the first save: a save of this
// state takes a few milliseconds here, so the kills spread over several
// saves and every phase of them.
constexpr int kMaxKillDelayUs = 60'000;

std::vector<TensorSpec> crash_specs() {
  auto specs = mixed_specs();
  specs.push_back({"weights", DType::F32, {256, 256}, checkpoint::Placement::Sharded});  // 256 KiB
  return specs;
}

TEST(CrashTest, KillDuringPersistNeverDamagesACommittedStep) {
  TempDir dir;
  const auto specs = crash_specs();
  std::mt19937 rng(20261128);
  int committed_trials = 0;
  std::optional<uint64_t> previous_latest;
  for (int trial = 0; trial < kTrials; ++trial) {
    const bool whole_job = trial % 2 == 0;
    const int victim = static_cast<int>(rng() % kRanks);
    const int delay_us = static_cast<int>(rng() % kMaxKillDelayUs);
    const uint64_t first_step = static_cast<uint64_t>(trial) * 1000 + 1;
    SCOPED_TRACE(fmt::format("trial {}: {} at {} us", trial,
                             whole_job ? "kill the job" : fmt::format("kill rank {}", victim), delay_us));
    WorldOptions options;
    options.op_timeout = std::chrono::milliseconds(20'000);
    WorldResult result = run_world(
        Layout::one_node(kRanks),
        [&](Rank& r) {
          checkpoint::Checkpointer ck(r.comm, {.keep_last = 3});
          if (whole_job || r.rank == victim) {
            std::thread([delay_us] {
              std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
              ::kill(::getpid(), SIGKILL);
            }).detach();
          }
          for (uint64_t step = first_step; step < first_step + kSavesPerTrial; ++step) {
            OwnedState owned(specs, r.rank, r.size, step, true);
            try {
              ck.save(owned.state(), dir.path(), step).wait();
            } catch (const Error& e) {
              // A rank that outlives a killed peer (the victim, or the first of
              // the job to die): its save fails, which is right.
              if (e.code() == ErrorCode::PeerFailure || e.code() == ErrorCode::Timeout) {
                return kRankOk;
              }
              r.report(fmt::format("save of step {} failed: {}", step, e.what()));
              return kRankSaveFailed;
            }
          }
          return kRankOk;
        },
        options);
    for (int rank = 0; rank < kRanks; ++rank) {
      const ExitStatus& s = result.ranks.ranks[rank];
      const bool killed = !s.exited && s.signal == SIGKILL && !s.timed_out;
      EXPECT_TRUE(killed || (s.exited && s.code == 0)) << "rank " << rank << ": " << s.describe() << "\n"
                                                       << result.describe();
    }

    std::optional<uint64_t> latest = checkpoint::latest_step(dir.path());
    if (previous_latest) {
      ASSERT_TRUE(latest.has_value());
      EXPECT_GE(*latest, *previous_latest);
    }
    if (!latest) continue;  // killed before the first commit ever
    // A kill between the rename of a step and the update of `latest` leaves
    // the pointer on the previous step (or none yet): both are committed.
    if (auto pointer = checkpoint::read_latest_pointer(dir.path())) {
      EXPECT_TRUE(checkpoint::verify_step(dir.path(), *pointer).ok()) << "latest names step " << *pointer;
    }
    EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, *latest), "");
    for (uint64_t step : checkpoint::list_steps(dir.path())) {
      checkpoint::VerifyResult v = checkpoint::verify_step(dir.path(), step);
      EXPECT_TRUE(v.ok()) << "step " << step << ": " << (v.problems.empty() ? "" : v.problems[0]);
    }
    if (!previous_latest || *latest > *previous_latest) ++committed_trials;
    previous_latest = latest;
  }
  // The kills must not all land before the first commit, or nothing was tested.
  EXPECT_GT(committed_trials, kTrials / 4);
}

}  // namespace
}  // namespace myriad::test
