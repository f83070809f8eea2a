// The simulator catches faulty schedules built by hand (byte-count
// mismatch, deadlock, hazards, out-of-bounds and misaligned spans, writes
// to Input, a wrong result, a barrier that leaves early) and estimates
// times that follow the cost model.
#include "collectives/native/simulator.h"

#include <gtest/gtest.h>

#include "collectives/native/algorithm.h"
#include "collectives/native/cost_model.h"
#include "runtime/error.h"
#include "sim_test_util.h"

namespace myriad {
namespace {

using testing::make_args;

constexpr size_t kElement = 8;

Span in(uint64_t element, uint64_t count) {
  return {BufferId::Input, element * kElement, count * kElement};
}
Span out(uint64_t element, uint64_t count) {
  return {BufferId::Output, element * kElement, count * kElement};
}

Schedule rounds(std::vector<std::vector<Step>> steps) {
  Schedule schedule;
  schedule.algorithm = "handmade";
  for (std::vector<Step>& round : steps) schedule.rounds.push_back(Round{std::move(round)});
  return schedule;
}

SimulationResult run(const CollectiveArgs& args, const std::vector<Schedule>& schedules,
                     bool in_place = false) {
  SimulationOptions options;
  options.in_place = in_place;
  return simulate_schedules(args, schedules, Topology::uniform(1, args.size), CostModel::defaults(), options);
}

// A correct two-rank allreduce of 4 elements: swap, then add.
std::vector<Schedule> good_allreduce() {
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(
        rounds({{send_step(1 - rank, in(0, 4)), recv_reduce_step(1 - rank, out(0, 4), in(0, 4))}}));
  }
  return schedules;
}

TEST(SimulatorTest, HandmadeAllreduceIsCorrect) {
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), good_allreduce());
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.messages, 2u);
  EXPECT_EQ(result.bytes, 64u);
  EXPECT_GT(result.seconds, 0);
}

TEST(SimulatorTest, CatchesByteCountMismatch) {
  std::vector<Schedule> schedules = good_allreduce();
  schedules[1].rounds[0].steps[1] = recv_reduce_step(0, out(0, 3), in(0, 3));
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("byte count mismatch"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("expects 24 bytes"), std::string::npos) << result.error;
}

TEST(SimulatorTest, CatchesDeadlockOfTwoReceivers) {
  // Both ranks receive first and send in the next round: neither moves.
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(rounds({{recv_step(1 - rank, out(0, 4))}, {send_step(1 - rank, in(0, 4))}}));
  }
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("deadlock: 2 of 2 ranks"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("receive 32 bytes from rank"), std::string::npos) << result.error;
}

TEST(SimulatorTest, SendsDoNotBufferSoSendSendDeadlocks) {
  // Each rank sends in round 0 and receives in round 1: fine with unbounded
  // buffering, a deadlock with real transports.
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(rounds({{send_step(1 - rank, in(0, 4))}, {recv_step(1 - rank, out(0, 4))}}));
  }
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("deadlock"), std::string::npos) << result.error;
}

TEST(SimulatorTest, CatchesUnmatchedSend) {
  std::vector<Schedule> schedules = good_allreduce();
  schedules[0].rounds.push_back(Round{{send_step(1, in(0, 1))}});
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("deadlock: 1 of 2"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("rank 0 in round 1 waits to send 8 bytes to rank 1"), std::string::npos)
      << result.error;
}

TEST(SimulatorTest, CatchesIntraRoundHazard) {
  // Sending Output while a receive in the same round writes it.
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(
        rounds({{copy_step(in(0, 4), out(0, 4))},
                {send_step(1 - rank, out(0, 4)), recv_reduce_step(1 - rank, out(0, 4), out(0, 4))}}));
  }
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("hazard"), std::string::npos) << result.error;
}

TEST(SimulatorTest, CatchesHazardThroughInPlaceAlias) {
  // Out of place this is sound; in place Input is Output and the receive
  // overwrites what the send reads.
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(
        rounds({{send_step(1 - rank, in(0, 4)), recv_reduce_step(1 - rank, out(0, 4), out(0, 4))}}));
  }
  EXPECT_FALSE(run(make_args(OpKind::Allreduce, 2, 4), schedules, false).ok);  // reads unwritten Output
  const SimulationResult in_place = run(make_args(OpKind::Allreduce, 2, 4), schedules, true);
  EXPECT_FALSE(in_place.ok);
  EXPECT_NE(in_place.error.find("hazard"), std::string::npos) << in_place.error;
}

TEST(SimulatorTest, CatchesOutOfBoundsMisalignedAndInputWrites) {
  const CollectiveArgs args = make_args(OpKind::Allreduce, 2, 4);
  std::vector<Schedule> schedules = good_allreduce();
  schedules[0].rounds[0].steps[0] = send_step(1, in(1, 4));
  SimulationResult result = run(args, schedules);
  EXPECT_NE(result.error.find("outside Input of 32 bytes"), std::string::npos) << result.error;

  schedules = good_allreduce();
  schedules[0].rounds[0].steps[0] = send_step(1, Span{BufferId::Input, 4, 8});
  result = run(args, schedules);
  EXPECT_NE(result.error.find("whole 8-byte elements"), std::string::npos) << result.error;

  schedules = good_allreduce();
  schedules[1].rounds[0].steps[1] = recv_step(0, in(0, 4));
  result = run(args, schedules);
  EXPECT_NE(result.error.find("writes Input"), std::string::npos) << result.error;

  schedules = good_allreduce();
  schedules[1].rounds[0].steps[0] = send_step(1, in(0, 4));
  result = run(args, schedules);
  EXPECT_NE(result.error.find("peer 1 is not another rank"), std::string::npos) << result.error;
}

TEST(SimulatorTest, CatchesWrongResult) {
  // Rank 1 forgets to add its own input.
  std::vector<Schedule> schedules = good_allreduce();
  schedules[1].rounds[0].steps[1] = recv_step(0, out(0, 4));
  const SimulationResult result = run(make_args(OpKind::Allreduce, 2, 4), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("wrong result: rank 1: Output byte 0"), std::string::npos) << result.error;
}

TEST(SimulatorTest, CatchesBarrierThatLeavesEarly) {
  // A ring of three zero-byte messages, one hop: rank 0 hears only rank 2.
  std::vector<Schedule> schedules;
  const Span none{BufferId::Scratch, 0, 0};
  for (int rank = 0; rank < 3; ++rank) {
    schedules.push_back(rounds({{send_step((rank + 1) % 3, none), recv_step((rank + 2) % 3, none)}}));
  }
  const SimulationResult result = run(make_args(OpKind::Barrier, 3, 0), schedules);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("barrier: rank 0 leaves without having heard from rank 1"), std::string::npos)
      << result.error;
}

TEST(SimulatorTest, TimeFollowsTheModel) {
  // One 1 MiB message each way at alpha 10 us, 1 GB/s, no reduction cost:
  // 10 us + 1048576 ns.
  CostModel model;
  model.set_link(LinkClass::Shm, {10e-6, 1e-9});
  const uint64_t count = 1 << 17;
  std::vector<Schedule> schedules;
  for (int rank = 0; rank < 2; ++rank) {
    schedules.push_back(rounds(
        {{send_step(1 - rank, in(0, count)), recv_reduce_step(1 - rank, out(0, count), in(0, count))}}));
  }
  const SimulationResult result =
      simulate_schedules(make_args(OpKind::Allreduce, 2, count), schedules, Topology::uniform(1, 2), model);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_NEAR(result.seconds, 10e-6 + (count * kElement) * 1e-9, 1e-9);
}

TEST(SimulatorTest, InterNodeLinksCostMore) {
  const Algorithm& ring = *find_algorithm(OpKind::Allreduce, "ring");
  const CollectiveArgs args = make_args(OpKind::Allreduce, 8, 1 << 16);
  const SimulationResult one_node = simulate(args, ring, Topology::uniform(1, 8), CostModel::defaults());
  const SimulationResult two_nodes = simulate(args, ring, Topology::uniform(2, 4), CostModel::defaults());
  ASSERT_TRUE(one_node.ok && two_nodes.ok);
  EXPECT_LT(one_node.seconds, two_nodes.seconds);
}

TEST(SimulatorTest, RefusesMismatchedTopology) {
  const Algorithm& ring = *find_algorithm(OpKind::Allreduce, "ring");
  EXPECT_THROW(
      simulate(make_args(OpKind::Allreduce, 4, 1), ring, Topology::uniform(1, 3), CostModel::defaults()),
      Error);
}

}  // namespace
}  // namespace myriad
