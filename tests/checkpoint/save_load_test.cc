// Saves and loads by real forked ranks into real files: every dtype and
// nested values, resharding between world sizes, back-to-back saves, saves
// during collectives, retention, leftovers of interrupted saves, and a
// step saved again.
#include <gtest/gtest.h>

#include <fstream>

#include "checkpoint/file_io.h"
#include "checkpoint/format.h"
#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

using checkpoint::Checkpointer;
using checkpoint::Placement;

// Every rank loads `step` into its own part and compares.
int load_check(Rank& r, const std::string& dir, const std::vector<TensorSpec>& specs, uint64_t step) {
  OwnedState owned(specs, r.rank, r.size, step, false);
  try {
    checkpoint::load_checkpoint(owned.state(), dir, {.step = step, .rank = r.rank});
  } catch (const Error& e) {
    r.report(fmt::format("load of step {} failed: {}", step, e.what()));
    return kRankLoadFailed;
  }
  if (std::string m = owned.mismatch(step); !m.empty()) {
    r.report(m);
    return kRankMismatch;
  }
  return kRankOk;
}

TEST(SaveLoadTest, RoundTripOfEveryDtypeAndNestedValues) {
  TempDir dir;
  const auto specs = mixed_specs();
  WorldResult saved = save_steps(dir.path(), 2, specs, {3});
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();

  checkpoint::Manifest m = checkpoint::read_manifest(dir.path(), 3);
  EXPECT_EQ(m.world_size, 2);
  EXPECT_EQ(m.metadata.at("saved_by"), "save_steps");
  EXPECT_EQ(m.values, sample_values(3));
  EXPECT_EQ(m.tensors.size(), specs.size());
  EXPECT_EQ(checkpoint::read_latest_pointer(dir.path()), 3u);
  EXPECT_TRUE(checkpoint::verify_step(dir.path(), 3).ok());

  WorldResult loaded =
      run_world(Layout::one_node(2), [&](Rank& r) { return load_check(r, dir.path(), specs, 3); });
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 3), "");
}

struct Reshard {
  int from;
  int to;
};
void PrintTo(const Reshard& r, std::ostream* out) {
  *out << r.from << "to" << r.to;
}

class ReshardTest : public ::testing::TestWithParam<Reshard> {};

TEST_P(ReshardTest, LoadsOnAnotherWorldSizeReadingOnlyItsChunks) {
  TempDir dir;
  const auto specs = mixed_specs();
  // Small chunks: a loading rank's rows start and end inside chunks.
  constexpr uint64_t kChunk = 40;
  WorldResult saved = save_steps(dir.path(), GetParam().from, specs, {7}, {.chunk_bytes = kChunk});
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();

  WorldResult loaded = run_world(Layout::one_node(GetParam().to), [&](Rank& r) {
    if (int rc = load_check(r, dir.path(), specs, 7); rc != kRankOk) return rc;
    // Only the chunks that overlap this rank's rows are read: for a sharded
    // tensor that is its own rows plus at most one partial chunk at each end.
    std::vector<TensorSpec> one{{"matrix", DType::F32, {37, 2, 3}, Placement::Sharded}};
    OwnedState owned(one, r.rank, r.size, 7, false);
    auto result = checkpoint::load_checkpoint(owned.state(), dir.path(), {.step = 7});
    const uint64_t own = owned.state().tensors[0].view.bytes();
    if (result.bytes_read > own + 2 * kChunk) {
      r.report(fmt::format("read {} bytes for {} of its own", result.bytes_read, own));
      return kRankUnexpected;
    }
    return kRankOk;
  });
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();
}

INSTANTIATE_TEST_SUITE_P(Sizes, ReshardTest, ::testing::Values(Reshard{4, 2}, Reshard{2, 3}, Reshard{3, 4}),
                         [](const auto& info) {
                           return fmt::format("{}to{}", info.param.from, info.param.to);
                         });

TEST(SaveLoadTest, SavesIssuedWhileThePreviousPersistRunsNeverInterleave) {
  TempDir dir;
  const auto specs = mixed_specs();
  WorldResult saved = run_world(Layout::one_node(3), [&](Rank& r) {
    Checkpointer ck(r.comm);
    std::vector<std::unique_ptr<OwnedState>> states;
    std::vector<checkpoint::SaveHandle> handles;
    for (uint64_t step = 1; step <= 6; ++step) {
      states.push_back(std::make_unique<OwnedState>(specs, r.rank, r.size, step, true));
      handles.push_back(ck.save(states.back()->state(), dir.path(), step));  // no wait in between
    }
    try {
      for (auto& h : handles) h.wait();
    } catch (const Error& e) {
      r.report(e.what());
      return kRankSaveFailed;
    }
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  EXPECT_EQ(checkpoint::list_steps(dir.path()), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  for (uint64_t step = 1; step <= 6; ++step) {
    EXPECT_TRUE(checkpoint::verify_step(dir.path(), step).ok()) << step;
    EXPECT_EQ(load_and_compare(dir.path(), specs, step, step), "");
  }
  EXPECT_EQ(checkpoint::read_latest_pointer(dir.path()), 6u);
}

TEST(SaveLoadTest, SkipIfBusyIsTheSameChoiceOnEveryRank) {
  TempDir dir;
  // Large enough that a persist is often still running when the next save
  // comes; whether it is depends on the machine, what must hold does not:
  // every rank skips the same saves, and exactly the others are committed.
  const std::vector<TensorSpec> specs{{"big", DType::F32, {2048, 1024}, Placement::Sharded}};
  constexpr uint64_t kSaves = 8;
  WorldResult saved = run_world(Layout::one_node(2), [&](Rank& r) {
    Checkpointer ck(r.comm, {.skip_if_busy = true});
    std::vector<std::unique_ptr<OwnedState>> states;
    std::vector<checkpoint::SaveHandle> handles;
    for (uint64_t step = 1; step <= kSaves; ++step) {
      states.push_back(std::make_unique<OwnedState>(specs, r.rank, r.size, step, true));
      handles.push_back(ck.save(states.back()->state(), dir.path(), step));
    }
    ck.wait_all();
    std::string skipped;
    for (auto& h : handles) skipped += h.skipped() ? "1" : "0";
    r.report("skipped " + skipped);
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  ASSERT_EQ(saved.reports.size(), 2u);
  const auto flags_of = [&](const std::string& report) {
    const size_t at = report.find("skipped ");
    return at == std::string::npos ? std::string() : report.substr(at + 8, kSaves);
  };
  const std::string flags = flags_of(saved.reports[0]);
  ASSERT_EQ(flags.size(), kSaves) << saved.describe();
  EXPECT_EQ(flags, flags_of(saved.reports[1])) << saved.describe();
  std::vector<uint64_t> expected;
  for (uint64_t step = 1; step <= kSaves; ++step) {
    if (flags[step - 1] == '0') expected.push_back(step);
  }
  EXPECT_EQ(flags[0], '0') << "the first save has nothing to wait for";
  EXPECT_EQ(checkpoint::list_steps(dir.path()), expected) << flags;
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, expected.back()), "");
}

TEST(SaveLoadTest, SaveDuringCollectivesOnTheSameCommunicator) {
  TempDir dir;
  const auto specs = mixed_specs();
  constexpr int kOps = 40;
  WorldResult saved = run_world(Layout::one_node(3), [&](Rank& r) {
    Checkpointer ck(r.comm);
    OwnedState owned(specs, r.rank, r.size, 5, true);
    std::vector<std::vector<int64_t>> buffers(kOps, std::vector<int64_t>(64));
    std::vector<WorkPtr> works;
    checkpoint::SaveHandle handle;
    for (int i = 0; i < kOps; ++i) {
      for (auto& v : buffers[i]) v = r.rank + i;
      works.push_back(r.comm->allreduce(TensorView{buffers[i].data(), buffers[i].size(), DType::I64}));
      if (i == kOps / 2) handle = ck.save(owned.state(), dir.path(), 5);
    }
    try {
      for (auto& w : works) w->wait();
      handle.wait();
    } catch (const Error& e) {
      r.report(e.what());
      return kRankOpFailed;
    }
    for (int i = 0; i < kOps; ++i) {
      const int64_t want = 3 * i + 0 + 1 + 2;
      for (int64_t v : buffers[i]) {
        if (v != want) {
          r.report(fmt::format("allreduce {} gave {}, expected {}", i, v, want));
          return kRankWrongResult;
        }
      }
    }
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 5), "");
}

TEST(SaveLoadTest, RetentionKeepsTheNewestSteps) {
  TempDir dir;
  const auto specs = mixed_specs();
  WorldResult saved = save_steps(dir.path(), 2, specs, {1, 2, 3, 4, 5}, {.keep_last = 2});
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  EXPECT_EQ(checkpoint::list_steps(dir.path()), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(checkpoint::read_latest_pointer(dir.path()), 5u);
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 5), "");
  for (const std::string& name : checkpoint::list_dir(dir.path())) {
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  }
}

TEST(SaveLoadTest, LeftoversOfAnInterruptedSaveAreRemovedByTheNextSave) {
  TempDir dir;
  const auto specs = mixed_specs();
  const std::string leftover = dir.path() + "/step-000000009.tmp-crashed";
  checkpoint::make_dir(leftover);
  std::ofstream(leftover + "/rank-00000.bin") << "partial";
  std::ofstream(dir.path() + "/latest.tmp-crashed") << "step-0000";
  WorldResult saved = save_steps(dir.path(), 2, specs, {1});
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  EXPECT_FALSE(checkpoint::path_exists(leftover));
  EXPECT_FALSE(checkpoint::path_exists(dir.path() + "/latest.tmp-crashed"));
  EXPECT_EQ(checkpoint::list_steps(dir.path()), (std::vector<uint64_t>{1}));
}

TEST(SaveLoadTest, SavingAStepAgainReplacesIt) {
  TempDir dir;
  const auto specs = mixed_specs();
  ASSERT_TRUE(save_steps(dir.path(), 2, specs, {1, 2}).all_succeeded());
  // A restart from step 1 saves step 2 again, with other contents (those of
  // pattern 8 here).
  WorldResult again = run_world(Layout::one_node(2), [&](Rank& r) {
    Checkpointer ck(r.comm);
    OwnedState owned(specs, r.rank, r.size, 8, true);
    ck.save(owned.state(), dir.path(), 2).wait();
    return kRankOk;
  });
  ASSERT_TRUE(again.all_succeeded()) << again.describe();
  EXPECT_EQ(checkpoint::list_steps(dir.path()), (std::vector<uint64_t>{1, 2}));
  OwnedState owned(specs, 0, 1, 8, false);
  checkpoint::load_checkpoint(owned.state(), dir.path(), {.step = 2});
  EXPECT_EQ(owned.mismatch(8), "");
  EXPECT_TRUE(checkpoint::verify_step(dir.path(), 2).ok());
}

TEST(SaveLoadTest, BadStateFailsEveryRankAndCommitsNothing) {
  TempDir dir;
  const auto specs = mixed_specs();
  ASSERT_TRUE(save_steps(dir.path(), 2, specs, {1}).all_succeeded());
  WorldResult bad = run_world(Layout::one_node(2), [&](Rank& r) {
    Checkpointer ck(r.comm);
    OwnedState owned(specs, r.rank, r.size, 2, true);
    if (r.rank == 1) owned.state().tensors[0].row_offset = 100;  // rows outside the tensor
    try {
      ck.save(owned.state(), dir.path(), 2).wait();
    } catch (const Error& e) {
      const bool named = contains(e.message(), "sharded.f32") || contains(e.message(), "rank 1");
      if (!named) r.report(e.what());
      return named ? kRankOk : kRankUnexpected;
    }
    r.report("the save succeeded");
    return kRankUnexpected;
  });
  EXPECT_TRUE(bad.all_succeeded()) << bad.describe();
  EXPECT_EQ(checkpoint::list_steps(dir.path()), (std::vector<uint64_t>{1}));
  EXPECT_EQ(load_and_compare(dir.path(), specs, std::nullopt, 1), "");
}

}  // namespace
}  // namespace myriad::test
