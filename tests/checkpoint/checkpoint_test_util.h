// Shared pieces of the multi-rank checkpoint tests: a world that saves test
// states, and checks made in the parent process on the files it left.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/checkpointer.h"
#include "tests/checkpoint/state_util.h"
#include "tests/collectives/world_fixture.h"

namespace myriad::test {

// Exit codes of the checkpoint tests' rank functions.
inline constexpr int kRankSaveFailed = 30;
inline constexpr int kRankLoadFailed = 31;
inline constexpr int kRankMismatch = 32;
inline constexpr int kRankUnexpected = 33;

// The specs most tests save: every dtype sharded (uneven rows) and
// replicated, a scalar, an empty tensor.
std::vector<TensorSpec> mixed_specs();

// `n` ranks on one node save `steps` (each filled with its step's pattern)
// into `dir`; every save is waited for. Returns the world's result.
WorldResult save_steps(const std::string& dir, int n, const std::vector<TensorSpec>& specs,
                       const std::vector<uint64_t>& steps, checkpoint::CheckpointerOptions options = {});

// Loads `step` (nullopt: latest) of `dir` in this process as a world of one
// and returns the mismatch against `expect_step`'s pattern ("" when equal).
std::string load_and_compare(const std::string& dir, const std::vector<TensorSpec>& specs,
                             std::optional<uint64_t> step, uint64_t expect_step);

// A step a test saved: its number and the specs its state had.
struct SavedStep {
  uint64_t step = 0;
  std::vector<TensorSpec> specs;
};
// The check after a simulated power loss during the save of `next` into
// `dir`: "" when the newest committed step (latest_step) loads and matches,
// and is `next` or — unless `save_done` (the save had returned) — the
// `previous` newest one (none: no checkpoint is fine too), and every
// committed step verifies; else what is wrong.
std::string check_after_power_loss(const std::string& dir, const std::optional<SavedStep>& previous,
                                   const SavedStep& next, bool save_done);

}  // namespace myriad::test
