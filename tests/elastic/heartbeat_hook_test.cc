// The collectives' heartbeat hook: with MYRIAD_HEARTBEAT_FILE set, every
// collective a rank submits beats into its slot, so an agent sees a rank
// that is stuck outside (or inside) its collectives stop beating.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "collectives/communicator.h"
#include "runtime/heartbeat.h"
#include "runtime/world.h"
#include "tests/harness/process.h"

namespace myriad {
namespace {

TEST(HeartbeatHook, EveryCollectiveSubmissionBeats) {
  test::TempDir dir;
  HeartbeatTable table = HeartbeatTable::create(dir.path() + "/heartbeats", 2);
  constexpr int kOps = 5;
  test::RanksResult result = test::fork_ranks(1, [&](int) {
    ::setenv("MYRIAD_HEARTBEAT_FILE", table.path().c_str(), 1);
    ::setenv("MYRIAD_LOCAL_RANK", "1", 1);
    auto comm = Communicator::create(World::join(Env::from_map({})));
    int64_t value = 1;
    for (int i = 0; i < kOps; ++i) comm->allreduce(TensorView{&value, 1, DType::I64})->wait();
    return value == 1 ? 0 : 1;
  });
  ASSERT_TRUE(result.all_succeeded()) << result.describe();
  EXPECT_GE(table.read(1).beats, static_cast<uint64_t>(kOps));
  EXPECT_FALSE(table.read(1).step.has_value());
  EXPECT_FALSE(table.read(0).has_beaten());
}

}  // namespace
}  // namespace myriad
