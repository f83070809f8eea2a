// The goodput ledger: summarize() on hand-built event lists whose losses
// are computed by hand in the comments (one cause at a time), and
// read_events() on a ledger with a torn last line and a garbage line.
#include "elastic/ledger.h"

#include <gtest/gtest.h>

#include <fstream>

#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad::elastic {
namespace {

using json = nlohmann::json;

json event(const char* name, double t, json fields = json::object()) {
  fields["event"] = name;
  fields["t"] = t;
  return fields;
}

// One failure, restored from a checkpoint at step 100 after reaching 140.
//   startup     100 -> 110 (first step)                      10
//   detection   fault 250 -> detected 260                    10
//   stop        260 -> 263                                    3
//   rendezvous  263 -> 268                                    5
//   restore     slowest rank 4 s                              4
//   restart     268 -> 280 less the restore                   8
//   recompute   steps 101..140 at 1 s/step: 280 -> 319       39
// wall 300, lost 79, productive 221 (110..250 and 319..400).
TEST(Ledger, AFailureCostsDetectionStopRendezvousRestartRestoreAndRecompute) {
  std::vector<json> events = {
      event("job_start", 100),
      event("round_formed", 102, {{"generation", 0}, {"members", {"a"}}, {"world_size", 2}, {"join_s", 2.0}}),
      event("workers_started", 103, {{"generation", 0}}),
      event("first_step", 110, {{"generation", 0}, {"step", 0}}),
      event("step_progress", 210, {{"generation", 0}, {"step", 100}}),
      event("failure_detected", 260,
            {{"generation", 0},
             {"cause", "exit"},
             {"rank", 1},
             {"node", "a"},
             {"fault_t", 250.0},
             {"last_step", 140},
             {"detail", "exit code 3"}}),
      event("workers_stopped", 263, {{"generation", 0}}),
      event("round_formed", 268, {{"generation", 1}, {"members", {"a"}}, {"world_size", 2}, {"join_s", 5.0}}),
      event("workers_started", 269, {{"generation", 1}}),
      event("restore_done", 275, {{"rank", 0}, {"step", 100}, {"source", "memory"}, {"seconds", 2.0}}),
      event("restore_done", 276, {{"rank", 1}, {"step", 100}, {"source", "disk"}, {"seconds", 4.0}}),
      event("first_step", 280, {{"generation", 1}, {"step", 101}}),
      event("step_progress", 380, {{"generation", 1}, {"step", 201}}),
      event("job_end", 400, {{"exit_code", 0}}),
  };
  GoodputReport r = summarize(events);
  EXPECT_DOUBLE_EQ(r.wall_seconds, 300);
  EXPECT_DOUBLE_EQ(r.lost.startup, 10);
  EXPECT_DOUBLE_EQ(r.lost.detection, 10);
  EXPECT_DOUBLE_EQ(r.lost.stop, 3);
  EXPECT_DOUBLE_EQ(r.lost.rendezvous, 5);
  EXPECT_DOUBLE_EQ(r.lost.restore, 4);
  EXPECT_DOUBLE_EQ(r.lost.restart, 8);
  EXPECT_DOUBLE_EQ(r.lost.recompute, 39);
  EXPECT_EQ(r.recomputed_steps, 39);
  EXPECT_DOUBLE_EQ(r.productive_seconds, 221);
  EXPECT_DOUBLE_EQ(r.effective_ratio, 221.0 / 300);
  EXPECT_EQ(r.restarts, 1);
  EXPECT_EQ(r.failures, 1);
  EXPECT_EQ(r.failures_by_cause, (std::map<std::string, int>{{"exit", 1}}));
  // The one recovery, by component (what `myriad plan --ledger` averages).
  ASSERT_EQ(r.recoveries.size(), 1u);
  EXPECT_DOUBLE_EQ(r.recoveries[0].startup, 0);
  EXPECT_DOUBLE_EQ(r.recoveries[0].detection, 10);
  EXPECT_DOUBLE_EQ(r.recoveries[0].stop, 3);
  EXPECT_DOUBLE_EQ(r.recoveries[0].rendezvous, 5);
  EXPECT_DOUBLE_EQ(r.recoveries[0].restart, 8);
  EXPECT_DOUBLE_EQ(r.recoveries[0].restore, 4);
  EXPECT_DOUBLE_EQ(r.recoveries[0].recompute, 39);
  EXPECT_EQ(r.checkpoints, 0);
  // Order in the file does not matter: events are sorted by time.
  std::reverse(events.begin(), events.end());
  EXPECT_DOUBLE_EQ(summarize(events).productive_seconds, 221);
  std::string text = format_report(r);
  EXPECT_NE(text.find("73.7% effective"), std::string::npos) << text;
  EXPECT_NE(text.find("exit: 1"), std::string::npos) << text;
}

// A membership change (spares waiting) is not a failure but costs the same:
//   startup 0 -> 2; stop 50 -> 51; rendezvous 51 -> 53; restart 53 -> 60;
//   recompute steps 41..47 at 1 s/step: 60 -> 67.
// wall 100, lost 2+1+2+7+7 = 19, productive 81 (2..50 and 67..100).
TEST(Ledger, AMembershipChangeIsARestartWithoutAFailure) {
  std::vector<json> events = {
      event("job_start", 0),
      event("round_formed", 1, {{"generation", 0}}),
      event("first_step", 2, {{"generation", 0}, {"step", 0}}),
      event("membership_change", 50, {{"generation", 0}, {"waiting", 1}, {"last_step", 47}}),
      event("workers_stopped", 51, {{"generation", 0}}),
      event("round_formed", 53, {{"generation", 1}}),
      event("first_step", 60, {{"generation", 1}, {"step", 40}}),
      event("step_progress", 70, {{"generation", 1}, {"step", 50}}),
      event("job_end", 100, {{"exit_code", 0}}),
  };
  GoodputReport r = summarize(events);
  EXPECT_DOUBLE_EQ(r.lost.startup, 2);
  EXPECT_DOUBLE_EQ(r.lost.detection, 0);
  EXPECT_DOUBLE_EQ(r.lost.stop, 1);
  EXPECT_DOUBLE_EQ(r.lost.rendezvous, 2);
  EXPECT_DOUBLE_EQ(r.lost.restart, 7);
  EXPECT_DOUBLE_EQ(r.lost.recompute, 7);
  EXPECT_DOUBLE_EQ(r.productive_seconds, 81);
  EXPECT_EQ(r.restarts, 1);
  EXPECT_EQ(r.failures, 0);
  EXPECT_TRUE(r.recoveries.empty()) << "a membership change is not a failure";
}

// A lost node, then a round that fails (a signal) before its first step, and
// the job gives up:
//   startup 0 -> 10; detection 20 -> 30; stop 30 -> 32; rendezvous 32 -> 40;
//   restart 40 -> fault 45 (no step reached); detection 45 -> 50;
//   stop 50 -> job_end 55 (no next round).
// wall 55, lost 10+10+2+8+5+5+5 = 45, productive 10 (10..20).
TEST(Ledger, ARoundThatFailsBeforeItsFirstStepIsAllLost) {
  std::vector<json> events = {
      event("job_start", 0),
      event("round_formed", 5, {{"generation", 0}}),
      event("first_step", 10, {{"generation", 0}, {"step", 1}}),
      event("failure_detected", 30, {{"generation", 0}, {"cause", "node_lost"}, {"fault_t", 20.0}}),
      event("workers_stopped", 32, {{"generation", 0}}),
      event("round_formed", 40, {{"generation", 1}}),
      event("failure_detected", 50, {{"generation", 1}, {"cause", "signal"}, {"fault_t", 45.0}}),
      event("workers_stopped", 52, {{"generation", 1}}),
      event("job_end", 55, {{"exit_code", 137}}),
  };
  GoodputReport r = summarize(events);
  EXPECT_DOUBLE_EQ(r.wall_seconds, 55);
  EXPECT_DOUBLE_EQ(r.lost.startup, 10);
  EXPECT_DOUBLE_EQ(r.lost.detection, 15);
  EXPECT_DOUBLE_EQ(r.lost.stop, 7);
  EXPECT_DOUBLE_EQ(r.lost.rendezvous, 8);
  EXPECT_DOUBLE_EQ(r.lost.restart, 5);
  EXPECT_DOUBLE_EQ(r.lost.recompute, 0);
  EXPECT_DOUBLE_EQ(r.productive_seconds, 10);
  EXPECT_EQ(r.failures, 2);
  EXPECT_EQ(r.failures_by_cause, (std::map<std::string, int>{{"node_lost", 1}, {"signal", 1}}));
  // Only the first failure was recovered from; its restart ran into the second fault.
  ASSERT_EQ(r.recoveries.size(), 1u);
  EXPECT_DOUBLE_EQ(r.recoveries[0].detection, 10);
  EXPECT_DOUBLE_EQ(r.recoveries[0].stop, 2);
  EXPECT_DOUBLE_EQ(r.recoveries[0].rendezvous, 8);
  EXPECT_DOUBLE_EQ(r.recoveries[0].restart, 5);
}

// Checkpoints (snapshot_taken, by each rank): per step the slowest rank's
// end and blocking time; the compute time between two snapshots of a round
// is the time between their ends less the later's blocking time.
//   round 0: step 10 ends 20.2 (0.7 s), step 20 ends 30.4 (0.6 s): 30.4 - 20.2 - 0.6 = 9.6 s
//   round 1: step 30 (0.8 s) alone: no interval across the failure.
// blocking (0.7 + 0.6 + 0.8) / 3 = 0.7 s; interval 9.6 s.
TEST(Ledger, CheckpointsCostTheSlowestRanksBlockingTime) {
  std::vector<json> events = {
      event("job_start", 0),
      event("round_formed", 1, {{"generation", 0}}),
      event("first_step", 2, {{"generation", 0}, {"step", 0}}),
      event("snapshot_taken", 20.0, {{"rank", 0}, {"step", 10}, {"seconds", 0.5}}),
      event("snapshot_taken", 20.2, {{"rank", 1}, {"step", 10}, {"seconds", 0.7}}),
      event("snapshot_taken", 30.4, {{"rank", 0}, {"step", 20}, {"seconds", 0.6}}),
      event("snapshot_taken", 30.0, {{"rank", 1}, {"step", 20}, {"seconds", 0.3}}),
      event("failure_detected", 40,
            {{"generation", 0}, {"cause", "exit"}, {"fault_t", 40.0}, {"last_step", 25}}),
      event("workers_stopped", 41, {{"generation", 0}}),
      event("round_formed", 42, {{"generation", 1}}),
      event("first_step", 45, {{"generation", 1}, {"step", 21}}),
      event("snapshot_taken", 60, {{"rank", 0}, {"step", 30}, {"seconds", 0.8}}),
      event("job_end", 70, {{"exit_code", 0}}),
  };
  GoodputReport r = summarize(events);
  EXPECT_EQ(r.checkpoints, 3);
  EXPECT_NEAR(r.checkpoint_blocking_seconds, 0.7, 1e-12);
  EXPECT_NEAR(r.checkpoint_interval_seconds, 9.6, 1e-12);
  ASSERT_EQ(r.recoveries.size(), 1u);
  EXPECT_DOUBLE_EQ(r.recoveries[0].rendezvous, 1);
  EXPECT_DOUBLE_EQ(r.recoveries[0].restart, 3);
}

// A hung rank found by its old heartbeat: the fault is the last beat, and
// the redone steps are timed at the pace of the round before when the new
// round has only its first step:
//   startup 0 -> 10; steps 0..100 in 100 s (1 s/step); hung at 150 (fault_t
//   = last beat 150, last_step 140), detected at 210: detection 60;
//   stop 210 -> 215; rendezvous 215 -> 220; restart 220 -> 230;
//   recompute steps 120..140 at 1 s/step: 230 -> 250.
// wall 300, lost 10+60+5+5+10+20 = 110, productive 190.
TEST(Ledger, AHungRankCostsItsHeartbeatTimeoutAndRedoesStepsAtTheOldPace) {
  std::vector<json> events = {
      event("job_start", 0),
      event("round_formed", 5, {{"generation", 0}}),
      event("first_step", 10, {{"generation", 0}, {"step", 0}}),
      event("step_progress", 110, {{"generation", 0}, {"step", 100}}),
      event("failure_detected", 210,
            {{"generation", 0}, {"cause", "hung"}, {"fault_t", 150.0}, {"last_step", 140}}),
      event("workers_stopped", 215, {{"generation", 0}}),
      event("round_formed", 220, {{"generation", 1}}),
      event("first_step", 230, {{"generation", 1}, {"step", 120}}),
      event("job_end", 300, {{"exit_code", 0}}),
  };
  GoodputReport r = summarize(events);
  EXPECT_DOUBLE_EQ(r.lost.detection, 60);
  EXPECT_DOUBLE_EQ(r.lost.stop, 5);
  EXPECT_DOUBLE_EQ(r.lost.rendezvous, 5);
  EXPECT_DOUBLE_EQ(r.lost.restart, 10);
  EXPECT_DOUBLE_EQ(r.lost.recompute, 20);
  EXPECT_EQ(r.recomputed_steps, 20);
  EXPECT_DOUBLE_EQ(r.productive_seconds, 190);
  EXPECT_EQ(r.failures_by_cause, (std::map<std::string, int>{{"hung", 1}}));
}

TEST(Ledger, NoEventsIsAnEmptyReport) {
  GoodputReport r = summarize({});
  EXPECT_EQ(r.wall_seconds, 0);
  EXPECT_EQ(r.effective_ratio, 0);
}

TEST(Ledger, ReadingSkipsATornLastLineAndGarbage) {
  test::TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << R"({"event":"job_start","t":1.5,"pid":10})"
        << "\n";
    out << "not json\n";
    out << R"({"no_event":1,"t":2})"
        << "\n";
    out << "\n";
    out << R"({"event":"round_formed","t":2.25,"generation":0})"
        << "\n";
    out << R"({"event":"job_end","t":)";  // a writer killed mid-line
  }
  std::vector<json> events = read_events(path);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["event"], "job_start");
  EXPECT_EQ(events[1]["event"], "round_formed");
  EXPECT_DOUBLE_EQ(events[1]["t"].get<double>(), 2.25);
}

TEST(Ledger, ReadingStrictlyNamesTheFirstGarbageLine) {
  test::TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << R"({"event":"job_start","t":1.5})"
        << "\n";
    out << R"({"event":"round_formed","t":2.25,"generation":0})"
        << "\n";
    out << R"({"event":"job_end","t":)";  // torn: still skipped
  }
  EXPECT_EQ(read_events(path, BadLine::kThrow).size(), 2u);
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << "\n[1, 2]\n";
  }
  try {
    read_events(path, BadLine::kThrow);
    ADD_FAILURE() << "read a ledger with garbage in it";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_NE(e.message().find(path + ":3"), std::string::npos) << e.message();
  }
  EXPECT_EQ(read_events(path).size(), 2u) << "skipped by default";
}

TEST(Ledger, AMissingLedgerIsAnIoErrorNamingIt) {
  try {
    read_events("/nonexistent-myriad/events.jsonl");
    ADD_FAILURE() << "read a missing ledger";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(e.message().find("/nonexistent-myriad/events.jsonl"), std::string::npos) << e.message();
  }
}

}  // namespace
}  // namespace myriad::elastic
