// `myriad run` gives every rank the right variables, passes the program its
// arguments untouched, picks the interpreter for .py programs and prints a
// dry run for both engines.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "launcher_test.h"

namespace myriad::test {
namespace {

using Vars = std::map<std::string, std::string>;

// "[rank R] NAME=VALUE" lines -> per rank, NAME -> VALUE.
std::map<int, Vars> vars_by_rank(const std::string& out) {
  std::map<int, Vars> ranks;
  std::regex line_re(R"(^\[rank (\d+)\] ([A-Z_]+)=(.*)$)");
  for (const std::string& line : lines_of(out)) {
    std::smatch m;
    if (std::regex_match(line, m, line_re)) ranks[std::stoi(m[1])][m[2]] = m[3];
  }
  return ranks;
}

TEST(RunEnv, EveryRankGetsItsPlaceAndTheJobsStore) {
  constexpr int kRanks = 4;
  CommandResult result = run_myriad({"run", "-np", std::to_string(kRanks), probe_path(), "env"},
                                    {{"RANK", "77"}, {"MYRIAD_RANK", "77"}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::map<int, Vars> ranks = vars_by_rank(result.out);
  ASSERT_EQ(ranks.size(), static_cast<size_t>(kRanks)) << result.describe();
  const Vars& first = ranks[0];
  for (int rank = 0; rank < kRanks; ++rank) {
    Vars& v = ranks[rank];
    SCOPED_TRACE("rank " + std::to_string(rank));
    std::string r = std::to_string(rank);
    // The launcher's own RANK=77 must not leak into a rank.
    EXPECT_EQ(v["MYRIAD_RANK"], r);
    EXPECT_EQ(v["RANK"], r);
    EXPECT_EQ(v["MYRIAD_LOCAL_RANK"], r);
    EXPECT_EQ(v["LOCAL_RANK"], r);
    EXPECT_EQ(v["MYRIAD_WORLD_SIZE"], "4");
    EXPECT_EQ(v["WORLD_SIZE"], "4");
    EXPECT_EQ(v["MYRIAD_LOCAL_WORLD_SIZE"], "4");
    EXPECT_EQ(v["LOCAL_WORLD_SIZE"], "4");
    EXPECT_EQ(v["GROUP_RANK"], "0");
    EXPECT_EQ(v["MYRIAD_RESTART_COUNT"], "0");
    EXPECT_EQ(v["MASTER_ADDR"], "127.0.0.1");
    EXPECT_EQ(v["MYRIAD_STORE"], v["MASTER_ADDR"] + ":" + v["MASTER_PORT"]);
    EXPECT_GT(std::stoi(v["MASTER_PORT"]), 0);
    EXPECT_TRUE(std::regex_match(v["MYRIAD_TOKEN"], std::regex("[0-9a-f]{32}"))) << v["MYRIAD_TOKEN"];
    EXPECT_TRUE(std::regex_match(v["MYRIAD_RUN_ID"], std::regex("[0-9a-f]+"))) << v["MYRIAD_RUN_ID"];
    // One job: one store, one token, one run id.
    for (const char* shared : {"MYRIAD_STORE", "MYRIAD_TOKEN", "MYRIAD_RUN_ID"}) {
      EXPECT_EQ(v[shared], first.at(shared)) << shared;
    }
  }
}

// Each rank leads its own session and process group: a signal to the group
// reaches all it starts, and the scheduler gives each rank its own share.
TEST(RunEnv, EveryRankLeadsItsOwnSession) {
  CommandResult result = run_myriad({"run", "-np", "3", probe_path(), "session"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::map<int, Vars> ranks = vars_by_rank(result.out);
  ASSERT_EQ(ranks.size(), 3u) << result.describe();
  std::set<std::string> sessions;
  for (auto& [rank, v] : ranks) {
    EXPECT_EQ(v["SESSION"], v["PID"]) << "rank " << rank;
    EXPECT_EQ(v["GROUP"], v["PID"]) << "rank " << rank;
    EXPECT_NE(v["SESSION"], std::to_string(::getsid(0))) << "rank " << rank;
    sessions.insert(v["SESSION"]);
  }
  EXPECT_EQ(sessions.size(), 3u) << result.describe();
}

TEST(RunEnv, UserVariablesReachEveryRank) {
  CommandResult result =
      run_myriad({"run", "-np", "2", "-x", "FROM_LAUNCHER", "-x", "SET_BY_X=1", "--env", "SET_BY_ENV=a b",
                  probe_path(), "env", "FROM_LAUNCHER", "SET_BY_X", "SET_BY_ENV"},
                 {{"FROM_LAUNCHER", "inherited"}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::map<int, Vars> ranks = vars_by_rank(result.out);
  ASSERT_EQ(ranks.size(), 2u) << result.describe();
  for (auto& [rank, v] : ranks) {
    EXPECT_EQ(v["FROM_LAUNCHER"], "inherited");
    EXPECT_EQ(v["SET_BY_X"], "1");
    EXPECT_EQ(v["SET_BY_ENV"], "a b");
  }
}

TEST(RunEnv, ReservedVariableIsAUsageError) {
  CommandResult result = run_myriad({"run", "-np", "2", "--env", "RANK=3", probe_path(), "env"});
  EXPECT_EQ(result.shell_code(), 2) << result.describe();
  EXPECT_NE(result.err.find("--env"), std::string::npos) << result.describe();
  EXPECT_EQ(result.out, "") << "no rank may start";
}

TEST(RunArgs, EverythingAfterTheProgramIsTheProgramsOwn) {
  CommandResult result =
      run_myriad({"run", "-np", "1", "/bin/echo", "-np", "3", "--timeout", "x", "--", "a b"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(result.out, "[rank 0] -np 3 --timeout x -- a b\n");
}

TEST(RunArgs, DoubleDashMaySeparateOptionsFromTheProgram) {
  CommandResult result = run_myriad({"run", "-np", "2", "--", "/bin/echo", "-x"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.out.find("[rank 1] -x\n"), std::string::npos) << result.describe();
}

TEST(RunArgs, RankCountOutOfRangeIsAUsageError) {
  for (const char* np : {"0", "-3", "100000", "four"}) {
    CommandResult result = run_myriad({"run", "-np", np, "/bin/true"});
    EXPECT_EQ(result.shell_code(), 2) << "-np " << np << ": " << result.describe();
  }
}

TEST(RunArgs, MpirunSpellingOfNpIsAccepted) {
  CommandResult result = run_myriad({"run", "-np", "3", "/bin/echo", "hi"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_EQ(lines_of(result.out).size(), 3u) << result.describe();
}

TEST(RunArgs, MissingOrUnknownProgramIsAUsageError) {
  CommandResult missing = run_myriad({"run", "-np", "2", "no-such-program-anywhere"});
  EXPECT_EQ(missing.shell_code(), 2) << missing.describe();
  EXPECT_NE(missing.err.find("no-such-program-anywhere"), std::string::npos) << missing.describe();
  CommandResult unknown = run_myriad({"run", "--no-such-flag", "/bin/true"});
  EXPECT_EQ(unknown.shell_code(), 2) << unknown.describe();
  CommandResult none = run_myriad({"run", "-np", "2"});
  EXPECT_EQ(none.shell_code(), 2) << none.describe();
}

TEST(RunArgs, ProgramThatCannotExecuteIsReportedOnce) {
  TempDir dir;
  std::string not_a_program = dir.path() + "/empty";
  std::ofstream(not_a_program) << "";
  ::chmod(not_a_program.c_str(), 0755);
  CommandResult result = run_myriad({"run", "-np", "3", not_a_program});
  EXPECT_EQ(result.shell_code(), 2) << result.describe();
  EXPECT_NE(result.err.find("rank 0: cannot execute '" + not_a_program + "': Exec format error"),
            std::string::npos)
      << result.describe();
}

TEST(RunHelp, EverySubcommandHasHelp) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--help"}, {"run", "--help"}, {"store", "--help"}}) {
    CommandResult result = run_myriad(args);
    EXPECT_EQ(result.shell_code(), 0) << result.describe();
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << result.describe();
  }
}

// A fake interpreter shows which interpreter ran the script and with which arguments.
TEST(RunPython, PyProgramRunsUnderMyriadPython) {
  TempDir dir;
  std::string fake = dir.path() + "/fake-python";
  std::ofstream(fake) << "#!/bin/sh\necho \"fake-python $*\"\n";
  ::chmod(fake.c_str(), 0755);
  std::string script = dir.path() + "/train.py";
  std::ofstream(script) << "print('never run by the fake')\n";
  CommandResult result = run_myriad({"run", "-np", "2", script, "--epochs", "3"}, {{"MYRIAD_PYTHON", fake}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.out.find("[rank 0] fake-python " + script + " --epochs 3\n"), std::string::npos)
      << result.describe();
  EXPECT_NE(result.out.find("[rank 1] fake-python " + script + " --epochs 3\n"), std::string::npos)
      << result.describe();
}

TEST(RunPython, PyProgramRunsUnderARealInterpreter) {
  TempDir dir;
  std::string script = dir.path() + "/rank.py";
  std::ofstream(script) << "import os, sys\nprint('python rank', os.environ['RANK'], sys.argv[1])\n";
  CommandResult result = run_myriad({"run", "-np", "2", script, "arg"}, {{"MYRIAD_PYTHON", "python3"}});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.out.find("[rank 1] python rank 1 arg\n"), std::string::npos) << result.describe();
}

TEST(RunDryRun, LocalPrintsEachRanksCommandAndStartsNothing) {
  TempDir dir;
  CommandResult result = run_myriad({"run", "--dry-run", "-np", "2", probe_path(), "sleep", dir.path()});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::vector<std::string> lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.describe();
  for (int rank = 0; rank < 2; ++rank) {
    const std::string& line = lines[1 + rank];
    std::string r = std::to_string(rank);
    EXPECT_EQ(line.rfind("rank " + r + ": env ", 0), 0u) << line;
    EXPECT_NE(line.find(" MYRIAD_RANK=" + r + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" RANK=" + r + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" WORLD_SIZE=2 "), std::string::npos) << line;
    EXPECT_NE(line.find("'MYRIAD_TOKEN=<token>'"), std::string::npos) << line;
    EXPECT_NE(line.find(probe_path() + " sleep " + dir.path()), std::string::npos) << line;
  }
  ::usleep(200'000);
  EXPECT_EQ(read_text(dir.path() + "/pid-0"), "") << "a dry run started a rank";
}

TEST(RunDryRun, MpiPrintsTheMpirunCommandLine) {
  CommandResult result =
      run_myriad({"run", "--engine", "mpi", "--dry-run", "-np", "4", "-x", "FOO=1", "hello", "a"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  const std::string& out = result.out;
  for (std::string expected :
       {"mpirun ", " -np 4 ", " --host localhost:4 ", " --map-by slot ", " --bind-to none ", " --tag-output ",
        " -x MYRIAD_STORE ", " -x MYRIAD_TOKEN ", " -x MYRIAD_RUN_ID ", " -x MASTER_ADDR ",
        " -x MASTER_PORT ", " -x FOO ", " hello a\n", " FOO=1 "}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << out;
  }
  EXPECT_EQ(out.find("--allow-run-as-root") != std::string::npos, ::geteuid() == 0) << out;
}

TEST(RunDryRun, HostsSelectTheMpiEngine) {
  CommandResult result =
      run_myriad({"run", "--dry-run", "-H", "node-a:2,node-b:2", "--no-tag-output", "./train"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.out.find(" -np 4 --host node-a:2,node-b:2 "), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("--tag-output"), std::string::npos) << result.out;
  CommandResult local = run_myriad({"run", "--engine", "local", "-H", "node-a:2", "--dry-run", "./train"});
  EXPECT_EQ(local.shell_code(), 2) << local.describe();
  EXPECT_NE(local.err.find("--engine mpi"), std::string::npos) << local.describe();
}

}  // namespace
}  // namespace myriad::test
