// `myriad plan`: the ETTR planner's command line, run as the real binary:
// the numbers it prints for hand-computed inputs, the default failure rate,
// the components read from a goodput ledger the test writes (flags
// overriding it), and each kind of bad input named in the error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

using json = nlohmann::json;

json plan_json(std::vector<std::string> args) {
  args.insert(args.begin(), "plan");
  args.emplace_back("--json");
  CommandResult result = run_myriad(args);
  EXPECT_EQ(result.shell_code(), 0) << result.describe();
  json out = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(out.is_object()) << result.describe();
  return out;
}

// One failure recovered from, two ranks, three checkpoints (the ledger
// test's arithmetic, tests/elastic/ledger_test.cc): detection 10, stop 3,
// rendezvous 5, restart 8, restore 4; blocking 0.7 s; interval 9.6 s.
void write_ledger(const std::string& path, bool with_failure = true) {
  std::ofstream out(path);
  out << R"({"event":"job_start","t":100})"
      << "\n"
      << R"({"event":"round_formed","t":102,"generation":0})"
      << "\n"
      << R"({"event":"first_step","t":110,"generation":0,"step":0})"
      << "\n"
      << R"({"event":"snapshot_taken","t":120.0,"rank":0,"step":10,"seconds":0.5})"
      << "\n"
      << R"({"event":"snapshot_taken","t":120.2,"rank":1,"step":10,"seconds":0.7})"
      << "\n"
      << R"({"event":"snapshot_taken","t":130.4,"rank":0,"step":20,"seconds":0.6})"
      << "\n"
      << R"({"event":"step_progress","t":210,"generation":0,"step":100})"
      << "\n";
  if (with_failure) {
    out << R"({"event":"failure_detected","t":260,"generation":0,"cause":"exit","fault_t":250,"last_step":140})"
        << "\n"
        << R"({"event":"workers_stopped","t":263,"generation":0})"
        << "\n"
        << R"({"event":"round_formed","t":268,"generation":1})"
        << "\n"
        << R"({"event":"restore_done","t":276,"rank":1,"step":100,"source":"disk","seconds":4.0})"
        << "\n"
        << R"({"event":"first_step","t":280,"generation":1,"step":101})"
        << "\n"
        << R"({"event":"snapshot_taken","t":300,"rank":0,"step":120,"seconds":0.8})"
        << "\n";
  }
  out << R"({"event":"job_end","t":400,"exit_code":0})"
      << "\n";
}

// Young: sqrt(2 x 60 x 11160) = 1157.238 s; Daly: 1117.583 s (by hand in
// tests/elastic/ettr_test.cc); 86400 / 11160 = 7.742 failures a day.
TEST(PlanCommand, PrintsYoungAndDalyForAMinuteSaveAtA3Point1HourMtbf) {
  json out = plan_json({"--gpus", "16384", "--mtbf-hours", "3.1", "--save", "60", "--detection", "1",
                        "--stop", "2", "--rendezvous", "3", "--restart", "30", "--restore", "4"});
  EXPECT_NEAR(out["mtbf_seconds"].get<double>(), 11160, 1e-9);
  EXPECT_NEAR(out["failures_per_day"].get<double>(), 86400.0 / 11160, 1e-9);
  EXPECT_NEAR(out["young"]["interval_seconds"].get<double>(), 1157.238, 1e-3);
  EXPECT_NEAR(out["daly"]["interval_seconds"].get<double>(), 1117.583, 1e-3);
  EXPECT_NEAR(out["recovery_seconds"].get<double>(), 40, 1e-9);
  EXPECT_EQ(out["nodes"], 2048);
  // Closed form at Daly's interval: t / (M e^(R/M) (e^((t+d)/M) - 1)).
  const double m = 11160, t = 1117.583, d = 60, r = 40;
  EXPECT_NEAR(out["daly"]["ettr"].get<double>(), t / (m * std::exp(r / m) * std::expm1((t + d) / m)), 1e-6);
  const json& lost = out["daly"]["lost_per_failure"];
  EXPECT_NEAR(lost["restart"].get<double>(), 30, 1e-9);
  EXPECT_NEAR(lost["recompute"].get<double>(), (t + d) / 2, 0.05 * (t + d));
  EXPECT_EQ(out["sources"]["detection"], "--detection");
  EXPECT_EQ(out["sources"]["recompute"], "derived");

  CommandResult text =
      run_myriad({"plan", "--gpus", "16384", "--mtbf-hours", "3.1", "--save", "60", "--interval", "30m"});
  EXPECT_EQ(text.shell_code(), 0) << text.describe();
  EXPECT_NE(text.out.find("19.3 min"), std::string::npos) << text.out;  // Young's 1157 s
  EXPECT_NE(text.out.find("18.6 min"), std::string::npos) << text.out;  // Daly's 1118 s
  EXPECT_NE(text.out.find("7.74 failures per day"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("30.0 min"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("not given"), std::string::npos) << "components counted as 0 say so: " << text.out;
}

// Llama 3 405B: 419 interruptions in 54 days on 16,384 GPUs: 1296 h / 419.
TEST(PlanCommand, DefaultFailureRateIsLlama3s) {
  json out = plan_json({"--gpus", "16384", "--save", "60"});
  EXPECT_NEAR(out["mtbf_seconds"].get<double>(), 1296.0 * 3600 / 419, 1e-6);
  EXPECT_NE(out["mtbf_source"].get<std::string>().find("Llama 3"), std::string::npos) << out.dump();
  // Half the GPUs fail half as often.
  EXPECT_NEAR(plan_json({"--gpus", "8192", "--save", "60"})["mtbf_seconds"].get<double>(),
              2 * 1296.0 * 3600 / 419, 1e-6);
  // Per node: 2,048 nodes of 8 with a node MTBF of 2048 h: 1 h.
  EXPECT_NEAR(plan_json({"--gpus", "16384", "--node-mtbf-hours", "2048", "--save", "60"})["mtbf_seconds"]
                  .get<double>(),
              3600, 1e-9);
  EXPECT_NEAR(
      plan_json({"--gpus", "100", "--gpu-mtbf-hours", "1000", "--save", "60"})["mtbf_seconds"].get<double>(),
      36000, 1e-9);
}

TEST(PlanCommand, ReadsTheComponentsFromALedgerAndFlagsOverrideThem) {
  TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  write_ledger(path);
  json out = plan_json({"--gpus", "1024", "--mtbf-hours", "10", "--ledger", path, "--restore", "2"});
  EXPECT_NEAR(out["save_seconds"].get<double>(), (0.7 + 0.6 + 0.8) / 3, 1e-9);
  const json& lost = out["interval"]["lost_per_failure"];
  EXPECT_NEAR(lost["detection"].get<double>(), 10, 1e-9);
  EXPECT_NEAR(lost["stop"].get<double>(), 3, 1e-9);
  EXPECT_NEAR(lost["rendezvous"].get<double>(), 5, 1e-9);
  EXPECT_NEAR(lost["restart"].get<double>(), 8, 1e-9);
  EXPECT_NEAR(lost["restore"].get<double>(), 2, 1e-9) << "the flag wins";
  EXPECT_EQ(out["sources"]["detection"], "ledger");
  EXPECT_EQ(out["sources"]["restore"], "--restore");
  EXPECT_EQ(out["sources"]["save"], "ledger");
  // The ledger's checkpoint interval: 130.4 - 120.2 - 0.6 = 9.6 s.
  EXPECT_EQ(out["sources"]["interval"], "ledger");
  EXPECT_NEAR(out["interval"]["interval_seconds"].get<double>(), 9.6, 1e-9);
  EXPECT_EQ(out["ledger"]["failures"], 1);
  EXPECT_EQ(out["ledger"]["checkpoints"], 3);
}

TEST(PlanCommand, ALedgerWithoutAFailureNamesTheComponentsItLacks) {
  TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  write_ledger(path, /*with_failure=*/false);
  CommandResult result = run_myriad({"plan", "--gpus", "64", "--ledger", path, "--detection", "0.1"});
  EXPECT_EQ(result.shell_code(), 2) << result.describe();
  EXPECT_NE(result.err.find(path), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find("no failure followed by a restart"), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find("--stop, --rendezvous, --restart, --restore"), std::string::npos)
      << result.describe();
  EXPECT_EQ(result.err.find("--detection"), std::string::npos) << "given as a flag: " << result.describe();
  // With every component given, the ledger still supplies the save cost.
  json out = plan_json({"--gpus", "64", "--ledger", path, "--detection", "0.1", "--stop", "0.1",
                        "--rendezvous", "0.1", "--restart", "5", "--restore", "1"});
  EXPECT_NEAR(out["save_seconds"].get<double>(), 0.65, 1e-9);
}

TEST(PlanCommand, AnUnreadableLedgerIsNamedWithItsLine) {
  TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  {
    std::ofstream out(path);
    out << R"({"event":"job_start","t":100})"
        << "\n"
        << "{\"event\": garbage\n";
  }
  CommandResult garbage = run_myriad({"plan", "--gpus", "8", "--ledger", path});
  EXPECT_EQ(garbage.shell_code(), 1) << garbage.describe();
  EXPECT_NE(garbage.err.find(path + ":2"), std::string::npos) << garbage.describe();

  CommandResult missing = run_myriad({"plan", "--gpus", "8", "--ledger", dir.path() + "/none.jsonl"});
  EXPECT_EQ(missing.shell_code(), 1) << missing.describe();
  EXPECT_NE(missing.err.find(dir.path() + "/none.jsonl"), std::string::npos) << missing.describe();

  { std::ofstream empty(path, std::ios::trunc); }
  CommandResult empty = run_myriad({"plan", "--gpus", "8", "--ledger", path});
  EXPECT_EQ(empty.shell_code(), 2) << empty.describe();
  EXPECT_NE(empty.err.find("no events"), std::string::npos) << empty.describe();
}

TEST(PlanCommand, BadInputNamesTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const Case cases[] = {
      {{"--gpus", "0", "--save", "60"}, "--gpus"},
      {{"--gpus", "8", "--gpus-per-node", "0", "--save", "60"}, "--gpus-per-node"},
      {{"--gpus", "8", "--mtbf-hours", "0", "--save", "60"}, "--mtbf-hours"},
      {{"--gpus", "8", "--mtbf-hours", "-2", "--save", "60"}, "--mtbf-hours"},
      {{"--gpus", "8", "--node-mtbf-hours", "0", "--save", "60"}, "--node-mtbf-hours"},
      {{"--gpus", "8", "--save", "0"}, "--save"},
      {{"--gpus", "8", "--save", "-5"}, "--save"},
      {{"--gpus", "8", "--save", "soon"}, "--save"},
      {{"--gpus", "8"}, "--save is required"},
      {{"--gpus", "8", "--save", "60", "--interval", "0"}, "--interval"},
      {{"--gpus", "8", "--save", "60", "--restart", "-1"}, "--restart"},
      {{"--gpus", "8", "--save", "60", "--recompute", "x"}, "--recompute"},
      {{"--gpus", "8", "--save", "60", "--mtbf-hours", "3", "--gpu-mtbf-hours", "3"}, "--gpu-mtbf-hours"},
      {{"--gpus", "8", "--save", "60", "--bogus"}, "--bogus"},
      {{"--save", "60"}, "--gpus"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "plan");
    CommandResult result = run_myriad(args);
    EXPECT_EQ(result.shell_code(), 2) << result.describe();
    EXPECT_NE(result.err.find(c.names), std::string::npos) << result.describe();
  }
}

}  // namespace
}  // namespace myriad::test
