// Power loss at every step of a save. A save runs once through
// FaultFileSystem, which records every operation; the log is then replayed
// to build what the disk would hold had the power gone after operation k,
// for k = 0..N and every subset of the directory changes not yet fsynced
// (tests/checkpoint/power_loss.h). Each such tree is written out and read
// with the normal reader: the newest committed step must load and verify,
// and be the previous checkpoint or the new one (the new one once the save
// has returned). Then each fsync of the save in turn is replayed as a no-op,
// and the sweep must find a power loss that breaks that promise: no fsync
// is there for nothing, and the sweep can see each one missing.
//
// The saves are single-rank, in this process (a world of one);
// power_loss_world_test.cc sweeps a save by forked ranks.
#include <gtest/gtest.h>

#include <iostream>
#include <set>

#include "checkpoint/checkpointer.h"
#include "checkpoint/file_io.h"
#include "collectives/communicator.h"
#include "runtime/config.h"
#include "runtime/logging.h"
#include "runtime/world.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/checkpoint/fault_file_system.h"
#include "tests/checkpoint/power_loss.h"

namespace myriad::test {
namespace {

using checkpoint::Placement;

// --- the model itself -------------------------------------------------------

FileOp op(FileOp::Kind kind, std::string path, std::string path2 = "", std::string data = "",
          uint64_t handle = 0) {
  return {.kind = kind,
          .handle = handle,
          .path = std::move(path),
          .path2 = std::move(path2),
          .data = std::move(data)};
}

TEST(PowerLossModel, DataWrittenSinceTheLastFsyncIsLost) {
  PowerLoss m(FileTree{.dirs = {"d"}});
  m.apply(op(FileOp::Kind::Create, "d/f", "", "", 1));
  m.apply(op(FileOp::Kind::SyncDir, "d"));
  m.apply(op(FileOp::Kind::Append, "d/f", "", "abc", 1));
  EXPECT_EQ(m.crash_states(DirectoryLoss::RevertAll)[0].files.at("d/f"), "");
  m.apply(op(FileOp::Kind::SyncFile, "d/f", "", "", 1));
  m.apply(op(FileOp::Kind::Append, "d/f", "", "def", 1));
  EXPECT_EQ(m.crash_states(DirectoryLoss::RevertAll)[0].files.at("d/f"), "abc");
  EXPECT_EQ(m.visible().files.at("d/f"), "abcdef");
}

TEST(PowerLossModel, ANameIsDurableOnlyOnceItsDirectoryIsFsynced) {
  PowerLoss m(FileTree{.dirs = {"d"}});
  m.apply(op(FileOp::Kind::Create, "d/f", "", "", 1));
  m.apply(op(FileOp::Kind::Append, "d/f", "", "abc", 1));
  m.apply(op(FileOp::Kind::SyncFile, "d/f", "", "", 1));
  EXPECT_FALSE(m.crash_states(DirectoryLoss::RevertAll)[0].files.contains("d/f"));
  EXPECT_EQ(m.pending_changes(), 1u);
  m.apply(op(FileOp::Kind::SyncDir, "d"));
  EXPECT_EQ(m.crash_states(DirectoryLoss::RevertAll)[0].files.at("d/f"), "abc");
  // A directory made but never fsynced loses everything below it, even
  // what was fsynced inside it.
  m.apply(op(FileOp::Kind::MakeDir, "d/sub"));
  m.apply(op(FileOp::Kind::Create, "d/sub/g", "", "", 2));
  m.apply(op(FileOp::Kind::SyncFile, "d/sub/g", "", "", 2));
  m.apply(op(FileOp::Kind::SyncDir, "d/sub"));
  EXPECT_FALSE(m.crash_states(DirectoryLoss::RevertAll)[0].dirs.contains("d/sub"));
}

TEST(PowerLossModel, RenamesRevertAndAnySubsetKeepsALaterOneWithoutAnEarlierOne) {
  PowerLoss m(FileTree{.files = {{"a", "1"}, {"b", "2"}}});
  m.apply(op(FileOp::Kind::Rename, "a", "x"));
  m.apply(op(FileOp::Kind::Rename, "b", "y"));
  const std::vector<FileTree> revert = m.crash_states(DirectoryLoss::RevertAll);
  ASSERT_EQ(revert.size(), 1u);
  EXPECT_EQ(revert[0], (FileTree{.files = {{"a", "1"}, {"b", "2"}}}));
  const std::vector<FileTree> any = m.crash_states(DirectoryLoss::AnySubset);
  EXPECT_EQ(any.size(), 4u);
  EXPECT_NE(std::find(any.begin(), any.end(), FileTree{.files = {{"a", "1"}, {"y", "2"}}}), any.end());
  // A rename is atomic: no state has both names of one file, or neither.
  for (const FileTree& t : any) EXPECT_EQ(t.files.size(), 2u);
  m.apply(op(FileOp::Kind::SyncDir, ""));
  EXPECT_EQ(m.crash_states(DirectoryLoss::AnySubset), (std::vector<FileTree>{m.visible()}));
}

TEST(PowerLossModel, AnExchangeIsAtomicAndARemovedTreeMayLoseOnlySomeFiles) {
  PowerLoss m(FileTree{.dirs = {"s", "t"}, .files = {{"s/f", "old"}, {"s/g", "old"}, {"t/f", "new"}}});
  m.apply(op(FileOp::Kind::Exchange, "s", "t"));
  for (const FileTree& t : m.crash_states(DirectoryLoss::AnySubset)) {
    EXPECT_TRUE(t.files.at("s/f") == "old" || t.files.at("s/f") == "new");
    EXPECT_EQ(t.files.contains("s/g"), t.files.at("s/f") == "old");
  }
  m.apply(op(FileOp::Kind::RemoveTree, "t"));  // the old content, now at t
  bool partly_removed = false;
  for (const FileTree& t : m.crash_states(DirectoryLoss::AnySubset)) {
    if (t.dirs.contains("t") && t.files.contains("t/f") != t.files.contains("t/g")) partly_removed = true;
  }
  EXPECT_TRUE(partly_removed);
}

TEST(PowerLossModel, TheRecordedLogReplaysToWhatTheDiskHolds) {
  TempDir dir;
  checkpoint::make_dir(dir.path() + "/before");
  const FileTree start = capture_tree(dir.path());
  FaultFileSystem fs(dir.path());
  checkpoint::write_file_durably(fs, dir.path() + "/before/a", "alpha");
  fs.make_dir(dir.path() + "/n");
  checkpoint::replace_file_atomically(fs, dir.path() + "/n/p", dir.path() + "/n/p.tmp", "pointer");
  std::vector<unsigned char> big(3 * 4096 + 17, 7);
  checkpoint::write_file_durably(fs, dir.path() + "/n/big", big.data(), big.size());
  fs.rename(dir.path() + "/before", dir.path() + "/after");
  fs.remove_file(dir.path() + "/n/missing");
  PowerLoss m(start);
  for (const FileOp& o : fs.log()) m.apply(o);
  EXPECT_EQ(m.visible().difference(capture_tree(dir.path())), "");
  EXPECT_EQ(m.visible(), capture_tree(dir.path()));
}

// --- saves ------------------------------------------------------------------

struct Shape {
  std::string name;
  std::vector<TensorSpec> specs;
};

std::vector<Shape> shapes() {
  return {
      {"mixed", mixed_specs()},
      // Page-aligned body through O_DIRECT (where the disk allows it) and a
      // tail through the page cache: two descriptors, one fsync.
      {"large",
       {{"weights", DType::F32, {256, 256}, Placement::Sharded},
        {"tail", DType::U8, {1001}, Placement::Replicated}}},
      {"values_only", {}},
      {"scalar", {{"scalar", DType::F64, {}, Placement::Replicated}}},
  };
}

struct Scenario {
  std::string name{};
  std::vector<uint64_t> before{};  // steps saved first, with the real file system
  uint64_t step = 0;               // the step saved through the fault layer
  int keep_last = 0;
  bool fresh_dir = false;     // the checkpoint directory does not exist yet
  bool leftover = false;      // an interrupted save's directory is there
  bool new_specs = false;     // the save's state has one more tensor (tells a re-save from the old)
  size_t expected_syncs = 0;  // fsyncs of the save, each checked for necessity
  // Ordinals (among the save's fsyncs) that this situation does not need,
  // shown to be so; every call site is needed in some other situation.
  std::set<size_t> unneeded_syncs{};
};

void PrintTo(const Scenario& s, std::ostream* out) {
  *out << s.name;
}
void PrintTo(const Shape& s, std::ostream* out) {
  *out << s.name;
}

std::vector<Scenario> scenarios() {
  return {
      // The checkpoint directory's own name is fsynced into its parent.
      // With no `latest` before, a lost new pointer leaves the reader the
      // newest step directory, which is the new one: the last fsync of the
      // directory is not needed here (it is after a previous step).
      {.name = "FirstSaveIntoANewDirectory",
       .step = 1,
       .fresh_dir = true,
       .expected_syncs = 7,
       .unneeded_syncs = {6}},
      {.name = "SaveAfterAPreviousStep", .before = {1}, .step = 2, .expected_syncs = 6},
      // Retention's fsync of the directory (before it removes the oldest
      // step's files) also makes the new `latest` durable.
      {.name = "RetentionRemovesTheOldestStep",
       .before = {1, 2},
       .step = 3,
       .keep_last = 2,
       .expected_syncs = 7,
       .unneeded_syncs = {5}},
      {.name = "ResaveOfAnExistingStep", .before = {5, 7}, .step = 5, .new_specs = true, .expected_syncs = 6},
      {.name = "SaveOverAnInterruptedSavesLeftovers",
       .before = {1},
       .step = 2,
       .leftover = true,
       .expected_syncs = 6},
  };
}

std::vector<TensorSpec> save_specs(const Scenario& s, const Shape& shape) {
  std::vector<TensorSpec> specs = shape.specs;
  if (s.new_specs) specs.push_back({"resaved", DType::F32, {7, 5}, Placement::Sharded});
  return specs;
}

std::shared_ptr<Communicator> world_of_one() {
  std::shared_ptr<World> world = World::join(Env::from_map({}));
  return Communicator::create(world);
}

// One recorded save and what the sweep needs to judge it.
struct RecordedSave {
  std::unique_ptr<TempDir> tmp;
  std::string disk;   // the fault layer's root
  std::string crash;  // where each crash state is written out
  FileTree durable;   // the disk when the save began
  std::vector<FileOp> log;
  std::optional<SavedStep> previous;
  SavedStep next;
};

RecordedSave record_save(const Scenario& s, const Shape& shape) {
  set_log_level("warn");  // a sweep loads thousands of times
  RecordedSave r;
  r.tmp = std::make_unique<TempDir>();
  r.disk = r.tmp->path() + "/disk";
  r.crash = r.tmp->path() + "/crash";
  checkpoint::make_dir(r.disk);
  const std::string dir = r.disk + "/ck";
  std::shared_ptr<Communicator> comm = world_of_one();
  {
    checkpoint::Checkpointer before(comm, {.run_id = "before", .snapshot_dir = ""});
    for (uint64_t step : s.before) {
      OwnedState owned(shape.specs, 0, 1, step, true);
      before.save(owned.state(), dir, step).wait();
      r.previous = SavedStep{step, shape.specs};
    }
  }
  if (!s.fresh_dir) checkpoint::make_dir(dir);
  if (s.leftover) {
    checkpoint::make_dir(dir + "/step-000000002.tmp-old");
    checkpoint::write_file_durably(dir + "/step-000000002.tmp-old/rank-00000.bin", std::string(5000, 'x'));
  }
  r.durable = capture_tree(r.disk);
  auto fault = std::make_shared<FaultFileSystem>(r.disk);
  r.next = SavedStep{s.step, save_specs(s, shape)};
  {
    checkpoint::Checkpointer ck(
        comm, {.keep_last = s.keep_last, .run_id = "powerloss", .snapshot_dir = "", .file_system = fault});
    OwnedState owned(r.next.specs, 0, 1, s.step, true);
    ck.save(owned.state(), dir, s.step).wait();
  }
  r.log = fault->log();
  return r;
}

std::function<std::string(const FileTree&, bool)> checker(const RecordedSave& r) {
  return [&r](const FileTree& tree, bool save_done) {
    write_tree(tree, r.crash);
    return check_after_power_loss(r.crash + "/ck", r.previous, r.next, save_done);
  };
}

class PowerLossSave : public testing::TestWithParam<std::tuple<Scenario, Shape>> {};

TEST_P(PowerLossSave, EveryCrashPointLeavesThePreviousOrTheNewCheckpoint) {
  const auto& [scenario, shape] = GetParam();
  RecordedSave r = record_save(scenario, shape);
  ASSERT_FALSE(r.log.empty());
  // The model must agree with the disk, or its crash states mean nothing.
  PowerLoss replay(r.durable);
  for (const FileOp& o : r.log) replay.apply(o);
  ASSERT_EQ(replay.visible().difference(capture_tree(r.disk)), "");

  for (DirectoryLoss loss : {DirectoryLoss::RevertAll, DirectoryLoss::AnySubset}) {
    PowerLossOutcome out =
        sweep_power_losses({.durable = &r.durable, .log = &r.log, .loss = loss}, checker(r));
    const char* model = loss == DirectoryLoss::RevertAll ? "revert-all" : "any-subset";
    std::cout << fmt::format(
        "power loss sweep {}/{} ({}): {} operations, {} crash points, {} crash states, {} "
        "distinct trees checked\n",
        scenario.name, shape.name, model, r.log.size(), out.crash_points, out.crash_states,
        out.distinct_trees);
    EXPECT_EQ(out.crash_points, r.log.size() + 1);
    EXPECT_TRUE(out.failures.empty())
        << model << ": " << out.failures.size() << " failing crash states, first "
        << (out.failures.empty() ? "" : out.failures[0]);
  }
}

std::string case_name(const testing::TestParamInfo<std::tuple<Scenario, Shape>>& info) {
  return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Saves, PowerLossSave,
                         testing::Combine(testing::ValuesIn(scenarios()), testing::ValuesIn(shapes())),
                         case_name);

// Each fsync of the save, replayed as a no-op, must let some power loss
// lose or damage a checkpoint: the sweep above would catch its removal.
class PowerLossTeeth : public testing::TestWithParam<Scenario> {};

TEST_P(PowerLossTeeth, EachFsyncOfTheSaveIsNeededAndItsAbsenceIsFound) {
  const Scenario& scenario = GetParam();
  RecordedSave r = record_save(scenario, shapes()[0]);
  std::vector<size_t> syncs;
  for (size_t i = 0; i < r.log.size(); ++i) {
    if (r.log[i].is_sync()) syncs.push_back(i);
  }
  std::string listed;
  for (size_t i : syncs) listed += "\n  " + r.log[i].describe();
  EXPECT_EQ(syncs.size(), scenario.expected_syncs) << "the save's fsyncs:" << listed;
  for (size_t n = 0; n < syncs.size(); ++n) {
    const size_t i = syncs[n];
    PowerLossOutcome out = sweep_power_losses({.durable = &r.durable,
                                               .log = &r.log,
                                               .loss = DirectoryLoss::AnySubset,
                                               .disabled_syncs = {i},
                                               .stop_at_first_failure = true},
                                              checker(r));
    if (scenario.unneeded_syncs.contains(n)) {
      EXPECT_TRUE(out.failures.empty())
          << "fsync #" << n << " (" << r.log[i].describe()
          << ") is listed as not needed here, but without it: " << out.failures[0];
      std::cout << fmt::format("{}: fsync #{} ({}, operation {}) not needed here, as listed\n", scenario.name,
                               n, r.log[i].describe(), i);
      continue;
    }
    EXPECT_FALSE(out.failures.empty()) << "without fsync #" << n << " (" << r.log[i].describe()
                                       << ") no power loss goes wrong: the sweep cannot see it missing";
    if (!out.failures.empty()) {
      std::cout << fmt::format("{}: without fsync #{} ({}, operation {}): {}\n", scenario.name, n,
                               r.log[i].describe(), i, out.failures[0]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Saves, PowerLossTeeth, testing::ValuesIn(scenarios()),
                         [](const testing::TestParamInfo<Scenario>& info) { return info.param.name; });

}  // namespace
}  // namespace myriad::test
