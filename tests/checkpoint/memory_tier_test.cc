// The memory tier and buddy replication with real processes and real files:
// workers killed after a commit restore from their node's memory (even with
// the disk's files gone), a lost node's ranks restore from the replicas on a
// surviving node (also shrinking onto it), memory keeps exactly `keep`
// steps, a failed replication leaves the step committed, and a corrupted
// memory or buddy copy falls back to disk, naming the file.
// Each emulated node (MYRIAD_NODE_ID) gets its own snapshot directory under
// /dev/shm, as its agent would give it.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/format.h"
#include "checkpoint/memory_tier.h"
#include "checkpoint/reader.h"
#include "tests/checkpoint/checkpoint_test_util.h"

namespace myriad::test {
namespace {

namespace fs = std::filesystem;
using checkpoint::Checkpointer;

constexpr int kRankWrongSource = 40;

// A fresh directory in shared memory (tmpfs), as a node agent makes one.
class ShmDir {
 public:
  ShmDir() {
    std::string base = fs::is_directory("/dev/shm") ? "/dev/shm" : fs::temp_directory_path().string();
    std::string pattern = base + "/myriad-memtier-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    path_ = pattern;
  }
  ~ShmDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // The snapshot directory of emulated node `node`.
  std::string node(const std::string& node) const { return path_ + "/" + node; }

 private:
  std::string path_;
};

std::string node_dir(const ShmDir& shm, const Rank& r) {
  return shm.node(r.layout.nodes[r.rank]);
}

// Loads through a Checkpointer (as a restarted worker does) and checks the
// values and where they came from.
int load_and_check(Rank& r, Checkpointer& ck, const std::string& dir, const std::vector<TensorSpec>& specs,
                   uint64_t step, const std::function<bool(const checkpoint::LoadResult&)>& source_ok) {
  OwnedState owned(specs, r.rank, r.size, step, false);
  checkpoint::LoadResult result;
  try {
    result = ck.load(owned.state(), dir);
  } catch (const Error& e) {
    r.report(fmt::format("load failed: {}", e.what()));
    return kRankLoadFailed;
  }
  if (result.step != step) {
    r.report(fmt::format("loaded step {}, expected {}", result.step, step));
    return kRankMismatch;
  }
  if (std::string m = owned.mismatch(step); !m.empty()) {
    r.report(m);
    return kRankMismatch;
  }
  if (!source_ok(result)) {
    r.report(fmt::format("source {}: memory {} buddy {} disk {} bytes", result.source, result.memory_bytes,
                         result.buddy_bytes, result.disk_bytes));
    return kRankWrongSource;
  }
  return kRankOk;
}

bool from_memory_only(const checkpoint::LoadResult& r) {
  return r.source == "memory" && r.disk_bytes == 0 && r.buddy_bytes == 0 && r.memory_bytes == r.bytes_read;
}

void remove_rank_files(const std::string& step_dir) {
  for (const auto& entry : fs::directory_iterator(step_dir)) {
    if (entry.path().filename().string().starts_with("rank-")) fs::remove(entry.path());
  }
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  f.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&byte, 1);
}

// The first non-empty chunk that rank `rank`'s file holds.
const checkpoint::ChunkRecord* first_chunk_of(const checkpoint::Manifest& m, int rank) {
  for (const auto& t : m.tensors) {
    for (const auto& c : t.chunks) {
      if (c.file == checkpoint::rank_file_name(rank) && c.bytes > 0) return &c;
    }
  }
  return nullptr;
}

uint64_t file_bytes_under(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

TEST(MemoryTierTest, KilledWorkersRestoreFromMemoryWithoutReadingTheDisk) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  const Layout layout = Layout::one_node(3);
  // The snapshot directory comes from the environment, as the agent sets it.
  WorldResult saved = run_world(layout, [&](Rank& r) {
    ::setenv("MYRIAD_SNAPSHOT_DIR", node_dir(shm, r).c_str(), 1);
    Checkpointer ck(r.comm);
    for (uint64_t step : {1, 2}) {
      OwnedState owned(specs, r.rank, r.size, step, true);
      try {
        ck.save(owned.state(), dir.path(), step).wait();
      } catch (const Error& e) {
        r.report(e.what());
        return kRankSaveFailed;
      }
    }
    ::kill(::getpid(), SIGKILL);  // a worker crash, after the commit
    return kRankUnexpected;
  });
  for (const ExitStatus& s : saved.ranks.ranks) {
    ASSERT_TRUE(!s.exited && s.signal == SIGKILL) << saved.describe();
  }
  EXPECT_EQ(checkpoint::memory_steps(shm.node("n0")), (std::vector<uint64_t>{1, 2}));

  auto restore = [&] {
    return run_world(layout, [&](Rank& r) {
      ::setenv("MYRIAD_SNAPSHOT_DIR", node_dir(shm, r).c_str(), 1);
      Checkpointer ck(r.comm);
      return load_and_check(r, ck, dir.path(), specs, 2, from_memory_only);
    });
  };
  WorldResult loaded = restore();
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();

  // No data file on disk: only memory can have served the bytes.
  remove_rank_files(dir.path() + "/" + checkpoint::step_dir_name(2));
  loaded = restore();
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();
  // Not even the step's directory: the step is found in memory.
  fs::remove_all(dir.path() + "/" + checkpoint::step_dir_name(2));
  fs::remove(dir.path() + "/latest");
  loaded = restore();
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();
}

TEST(MemoryTierTest, ALostNodesRanksRestoreFromTheBuddyCopiesOnASurvivingNode) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  // Small chunks: the shrink below reads parts of chunks from both tiers.
  WorldResult saved = run_world(Layout::blocks(2, 2), [&](Rank& r) {
    Checkpointer ck(r.comm, {.chunk_bytes = 48, .snapshot_dir = node_dir(shm, r), .replicas = 1});
    for (uint64_t step : {5, 6}) {
      OwnedState owned(specs, r.rank, r.size, step, true);
      try {
        checkpoint::SaveHandle h = ck.save(owned.state(), dir.path(), step);
        h.wait();
        if (!h.replication_error().empty()) {
          r.report("replication: " + h.replication_error());
          return kRankUnexpected;
        }
      } catch (const Error& e) {
        r.report(e.what());
        return kRankSaveFailed;
      }
    }
    return ck.replication_failures() == 0 ? kRankOk : kRankUnexpected;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  // Buddy of rank r is (r + 2) % 4: node n0 keeps ranks 2 and 3, n1 ranks 0 and 1.
  for (int rank : {2, 3}) {
    EXPECT_TRUE(
        fs::exists(checkpoint::replica_step_dir(shm.node("n0"), 6) + "/" + checkpoint::rank_file_name(rank)));
  }
  for (int rank : {0, 1}) {
    EXPECT_TRUE(
        fs::exists(checkpoint::replica_step_dir(shm.node("n1"), 6) + "/" + checkpoint::rank_file_name(rank)));
  }

  // Node n1 is lost, with its memory. Its ranks 2 and 3 restart on the
  // surviving n0; ranks 0 and 1 move to a fresh node n2 (nothing in memory).
  fs::remove_all(shm.node("n1"));
  const Layout restart = Layout::of("restart", {"n2", "n2", "n0", "n0"});
  WorldResult loaded = run_world(restart, [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r), .replicas = 1});
    if (r.layout.nodes[r.rank] == "n2") {
      return load_and_check(r, ck, dir.path(), specs, 6,
                            [](const auto& res) { return res.source == "disk" && res.memory_bytes == 0; });
    }
    return load_and_check(r, ck, dir.path(), specs, 6, [](const auto& res) {
      return res.source == "memory+buddy" && res.buddy_bytes > 0 && res.disk_bytes == 0;
    });
  });
  EXPECT_TRUE(loaded.all_succeeded()) << loaded.describe();

  // Shrink: 4 ranks -> the 2 ranks of n0, resharding from memory and buddy
  // copies, with no data file left on disk.
  remove_rank_files(dir.path() + "/" + checkpoint::step_dir_name(6));
  WorldResult shrunk = run_world(Layout::of("shrink", {"n0", "n0"}), [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r), .replicas = 1});
    // Rank 0 now holds the old ranks 0 and 1's rows (n0's own files), rank 1
    // those of the old ranks 2 and 3 (the lost node's, in n0's replicas).
    const std::string expected = r.rank == 0 ? "memory" : "memory+buddy";
    return load_and_check(r, ck, dir.path(), specs, 6,
                          [&](const auto& res) { return res.source == expected && res.disk_bytes == 0; });
  });
  EXPECT_TRUE(shrunk.all_succeeded()) << shrunk.describe();
}

TEST(MemoryTierTest, AFailedReplicationIsReportedAndTheStepStaysCommitted) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  // Node n1 cannot keep replicas: its replicas area is a plain file.
  fs::create_directories(shm.node("n1"));
  std::ofstream(shm.node("n1") + "/" + std::string(checkpoint::kReplicasName)) << "in the way";
  WorldResult saved = run_world(Layout::blocks(2, 1), [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r), .replicas = 1});
    OwnedState owned(specs, r.rank, r.size, 8, true);
    checkpoint::SaveHandle h;
    try {
      h = ck.save(owned.state(), dir.path(), 8);
      h.wait();
    } catch (const Error& e) {
      r.report(e.what());
      return kRankSaveFailed;
    }
    const std::string error = h.replication_error();
    const bool want_failure = r.rank == 1;  // the receiver of rank 0's replica
    if (want_failure != !error.empty() || ck.replication_failures() != (want_failure ? 1 : 0) ||
        (want_failure && !contains(error, "replica of rank 0 not kept"))) {
      r.report(fmt::format("replication error '{}', {} failures", error, ck.replication_failures()));
      return kRankUnexpected;
    }
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  EXPECT_TRUE(checkpoint::verify_step(dir.path(), 8).ok());
  EXPECT_EQ(checkpoint::latest_step(dir.path()), 8u);
  EXPECT_EQ(load_and_compare(dir.path(), specs, 8, 8), "");
}

TEST(MemoryTierTest, MemoryKeepsExactlyTheLastKStepsAndReportsTheirBytes) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  WorldResult saved = run_world(Layout::blocks(2, 1), [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r), .snapshot_keep = 2, .replicas = 1});
    for (uint64_t step = 1; step <= 5; ++step) {
      OwnedState owned(specs, r.rank, r.size, step, true);
      try {
        ck.save(owned.state(), dir.path(), step).wait();
      } catch (const Error& e) {
        r.report(e.what());
        return kRankSaveFailed;
      }
    }
    return ck.memory_bytes() > 0 ? kRankOk : kRankUnexpected;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  for (const std::string node : {"n0", "n1"}) {
    SCOPED_TRACE(node);
    const checkpoint::MemoryUsage usage = checkpoint::memory_usage(shm.node(node));
    EXPECT_EQ(usage.steps, 2);
    EXPECT_EQ(usage.replica_steps, 2);
    EXPECT_EQ(checkpoint::memory_steps(shm.node(node)), (std::vector<uint64_t>{4, 5}));
    EXPECT_EQ(usage.bytes, file_bytes_under(shm.node(node)));
    // Two own snapshots, two replicas, two manifests, nothing else.
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(shm.node(node)))
      files += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 6);
  }
}

TEST(MemoryTierTest, ACorruptedMemoryCopyFallsBackToDiskNamingTheFile) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  WorldResult saved = run_world(Layout::one_node(2), [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r)});
    OwnedState owned(specs, r.rank, r.size, 3, true);
    try {
      ck.save(owned.state(), dir.path(), 3).wait();
    } catch (const Error& e) {
      r.report(e.what());
      return kRankSaveFailed;
    }
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();

  // Loaded here, as a world of one: every chunk of both files is read.
  const std::string snapdir = shm.node("n0");
  {
    OwnedState owned(specs, 0, 1, 3, false);
    checkpoint::LoadResult res =
        checkpoint::load_checkpoint(owned.state(), dir.path(), {.snapshot_dir = snapdir});
    EXPECT_EQ(res.source, "memory");
    EXPECT_EQ(res.disk_bytes, 0u);
    EXPECT_EQ(owned.mismatch(3), "");
  }
  // Flip a byte inside a chunk of rank 1's memory copy.
  const checkpoint::Manifest m = checkpoint::read_manifest(dir.path(), 3);
  const checkpoint::ChunkRecord* chunk = first_chunk_of(m, 1);
  ASSERT_NE(chunk, nullptr);
  const std::string bad = checkpoint::memory_step_dir(snapdir, 3) + "/" + checkpoint::rank_file_name(1);
  flip_byte(bad, chunk->offset);
  OwnedState owned(specs, 0, 1, 3, false);
  testing::internal::CaptureStderr();
  checkpoint::LoadResult res =
      checkpoint::load_checkpoint(owned.state(), dir.path(), {.snapshot_dir = snapdir});
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(owned.mismatch(3), "");
  EXPECT_EQ(res.source, "memory+disk");
  EXPECT_EQ(res.disk_bytes, chunk->bytes);
  ASSERT_EQ(res.fallbacks.size(), 1u);
  const std::string where = fmt::format("{}: offset {}", bad, chunk->offset);
  EXPECT_TRUE(contains(res.fallbacks[0], where)) << res.fallbacks[0];
  EXPECT_TRUE(contains(log, where)) << log;
}

TEST(MemoryTierTest, ACorruptedBuddyCopyFallsBackToDiskNamingTheFile) {
  TempDir dir;
  ShmDir shm;
  const auto specs = mixed_specs();
  WorldResult saved = run_world(Layout::blocks(2, 1), [&](Rank& r) {
    Checkpointer ck(r.comm, {.snapshot_dir = node_dir(shm, r), .replicas = 1});
    OwnedState owned(specs, r.rank, r.size, 4, true);
    try {
      ck.save(owned.state(), dir.path(), 4).wait();
    } catch (const Error& e) {
      r.report(e.what());
      return kRankSaveFailed;
    }
    return kRankOk;
  });
  ASSERT_TRUE(saved.all_succeeded()) << saved.describe();
  // n1 is lost; n0 holds rank 0's snapshot and rank 1's replica, one of
  // whose chunks is damaged.
  fs::remove_all(shm.node("n1"));
  const checkpoint::Manifest m = checkpoint::read_manifest(dir.path(), 4);
  const checkpoint::ChunkRecord* chunk = first_chunk_of(m, 1);
  ASSERT_NE(chunk, nullptr);
  const std::string bad =
      checkpoint::replica_step_dir(shm.node("n0"), 4) + "/" + checkpoint::rank_file_name(1);
  flip_byte(bad, chunk->offset);

  OwnedState owned(specs, 0, 1, 4, false);
  checkpoint::LoadResult res =
      checkpoint::load_checkpoint(owned.state(), dir.path(), {.snapshot_dir = shm.node("n0")});
  EXPECT_EQ(owned.mismatch(4), "");
  EXPECT_EQ(res.source, "memory+buddy+disk");
  EXPECT_EQ(res.disk_bytes, chunk->bytes);
  ASSERT_EQ(res.fallbacks.size(), 1u);
  EXPECT_TRUE(contains(res.fallbacks[0], fmt::format("buddy copy: {}: offset {}", bad, chunk->offset)))
      << res.fallbacks[0];
}

}  // namespace
}  // namespace myriad::test
