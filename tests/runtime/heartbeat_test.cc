// HeartbeatTable and the rank-side heartbeat:: functions: the file layout,
// ranks in forked children beating into their slots while the parent reads,
// a rank that stops beating, and the writer's no-op cases (unset variable,
// a bad file), which never throw.
#include "runtime/heartbeat.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kPatience = 20s;

std::string table_path(const test::TempDir& dir) {
  return dir.path() + "/heartbeats";
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The children see the table as MYRIAD_HEARTBEAT_FILE at slot `rank`.
void point_at(const std::string& path, int rank) {
  ::setenv("MYRIAD_HEARTBEAT_FILE", path.c_str(), 1);
  ::setenv("MYRIAD_LOCAL_RANK", std::to_string(rank).c_str(), 1);
}

TEST(HeartbeatTable, LayoutIsTheDocumentedOne) {
  test::TempDir dir;
  HeartbeatTable table = HeartbeatTable::create(table_path(dir), 3);
  std::string bytes = file_bytes(table.path());
  ASSERT_EQ(bytes.size(), 64u * 4);
  EXPECT_EQ(bytes.substr(0, 8), "MYRHBEAT");
  uint32_t version = 0, slots = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&slots, bytes.data() + 12, 4);
  EXPECT_EQ(version, kHeartbeatVersion);
  EXPECT_EQ(slots, 3u);

  table.step(2, 41, 1234);
  bytes = file_bytes(table.path());
  uint64_t fields[5];
  std::memcpy(fields, bytes.data() + size_t{64} * 3, sizeof(fields));
  EXPECT_EQ(fields[1], 1234u);  // beat_ns
  EXPECT_EQ(fields[2], 1u);     // beats
  EXPECT_EQ(fields[3], 42u);    // step + 1
  EXPECT_EQ(fields[4], 1234u);  // step_ns
}

TEST(HeartbeatTable, OpenSeesTheCreatorsSlotsAndResetZeroesOne) {
  test::TempDir dir;
  HeartbeatTable created = HeartbeatTable::create(table_path(dir), 2);
  HeartbeatTable opened = HeartbeatTable::open(table_path(dir));
  EXPECT_EQ(opened.slots(), 2);
  EXPECT_FALSE(created.read(1).has_beaten());
  opened.attach(1, 77);
  opened.step(1, 0, 10);
  HeartbeatSlot slot = created.read(1);
  EXPECT_EQ(slot.pid, 77u);
  ASSERT_TRUE(slot.step.has_value());
  EXPECT_EQ(*slot.step, 0u);
  created.reset(1);
  slot = opened.read(1);
  EXPECT_EQ(slot.pid, 0u);
  EXPECT_FALSE(slot.has_beaten());
  EXPECT_FALSE(slot.step.has_value());
}

TEST(HeartbeatTable, BadSlotsAndFilesAreErrors) {
  test::TempDir dir;
  EXPECT_THROW(HeartbeatTable::create(table_path(dir), 0), Error);
  HeartbeatTable table = HeartbeatTable::create(table_path(dir), 2);
  try {
    table.read(2);
    ADD_FAILURE() << "read slot 2 of 2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(e.message().find("slot 2"), std::string::npos) << e.message();
  }
  std::string garbage = dir.path() + "/garbage";
  std::ofstream(garbage) << std::string(128, 'x');
  try {
    HeartbeatTable::open(garbage);
    ADD_FAILURE() << "opened garbage";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_NE(e.message().find(garbage), std::string::npos) << e.message();
  }
  try {
    HeartbeatTable::open(dir.path() + "/missing");
    ADD_FAILURE() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
  }
}

TEST(HeartbeatTable, TheCreatorRemovesItsFile) {
  test::TempDir dir;
  { HeartbeatTable table = HeartbeatTable::create(table_path(dir), 1); }
  EXPECT_NE(::access(table_path(dir).c_str(), F_OK), 0);
}

TEST(Heartbeat, ForkedRanksBeatAndReportStepsIntoTheirSlots) {
  test::TempDir dir;
  HeartbeatTable table = HeartbeatTable::create(table_path(dir), 3);
  test::RanksResult result = test::fork_ranks(3, [&](int rank) {
    point_at(table.path(), rank);
    if (!heartbeat::enabled()) return 1;
    for (uint64_t n = 0; n < 10; ++n) heartbeat::step(100 * rank + n);
    heartbeat::beat();
    return 0;
  });
  ASSERT_TRUE(result.all_succeeded()) << result.describe();
  for (int rank = 0; rank < 3; ++rank) {
    HeartbeatSlot slot = table.read(rank);
    EXPECT_NE(slot.pid, 0u);
    EXPECT_NE(slot.pid, static_cast<uint64_t>(::getpid()));
    EXPECT_EQ(slot.beats, 11u);
    ASSERT_TRUE(slot.step.has_value());
    EXPECT_EQ(*slot.step, 100u * rank + 9);
    EXPECT_LE(slot.step_ns, slot.last_beat_ns);
    EXPECT_LE(slot.last_beat_ns, HeartbeatTable::now_ns());
  }
}

TEST(Heartbeat, ARankThatStopsBeatingFallsBehind) {
  test::TempDir dir;
  HeartbeatTable table = HeartbeatTable::create(table_path(dir), 2);
  test::RanksResult result = test::fork_ranks(2, [&](int rank) {
    point_at(table.path(), rank);
    heartbeat::beat();
    if (rank == 0) return 0;  // beats once, then stops
    // Rank 1 keeps beating until its beats are clearly newer than rank 0's
    // last one, as the agent would see a hung rank next to a live one.
    HeartbeatTable reader = HeartbeatTable::open(table.path());
    bool ahead = test::wait_until(
        [&] {
          heartbeat::beat();
          HeartbeatSlot stopped = reader.read(0);
          return stopped.has_beaten() && reader.read(1).last_beat_ns > stopped.last_beat_ns + 50'000'000;
        },
        kPatience);
    return ahead ? 0 : 1;
  });
  ASSERT_TRUE(result.all_succeeded()) << result.describe();
  HeartbeatSlot stopped = table.read(0);
  HeartbeatSlot live = table.read(1);
  EXPECT_EQ(stopped.beats, 1u);
  EXPECT_GT(live.beats, 1u);
  EXPECT_LT(stopped.last_beat_ns, live.last_beat_ns);
}

TEST(Heartbeat, WithoutTheVariableOrWithABadFileBeatsAreNoOps) {
  test::TempDir dir;
  std::string garbage = dir.path() + "/garbage";
  std::ofstream(garbage) << "not a table";
  HeartbeatTable table = HeartbeatTable::create(table_path(dir), 1);
  test::RanksResult result = test::fork_ranks(4, [&](int rank) {
    switch (rank) {
      case 0: ::unsetenv("MYRIAD_HEARTBEAT_FILE"); break;
      case 1: point_at(garbage, 0); break;
      case 2: point_at(dir.path() + "/missing", 0); break;
      case 3: point_at(table.path(), 5); break;  // a slot the table does not have
    }
    heartbeat::beat();
    heartbeat::step(3);
    if (heartbeat::enabled()) return 1;
    heartbeat::beat();
    return 0;
  });
  ASSERT_TRUE(result.all_succeeded()) << result.describe();
  EXPECT_FALSE(table.read(0).has_beaten());
}

}  // namespace
}  // namespace myriad
