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

#include "tests/harness/launcher_test.h"

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
    // MASTER_PORT is free for rank 0's own store (torch's TCPStore), not the port of Myriad's.
    EXPECT_NE(v["MYRIAD_STORE"], v["MASTER_ADDR"] + ":" + v["MASTER_PORT"]);
    EXPECT_GT(std::stoi(v["MASTER_PORT"]), 0);
    EXPECT_EQ(v["MASTER_PORT"], first.at("MASTER_PORT"));
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

TEST(RunArgs, ErrorsAtTheDoorNameWhatWasWrongAndExit2) {
  CommandResult command = run_myriad({"rnu", "-np", "2", "/bin/true"});
  EXPECT_EQ(command.shell_code(), 2) << command.describe();
  EXPECT_NE(command.err.find("unknown command 'rnu'"), std::string::npos) << command.describe();
  TempDir dir;
  CommandResult script = run_myriad({"run", "-np", "2", dir.path() + "/missing_train.py"});
  EXPECT_EQ(script.shell_code(), 2) << script.describe();
  EXPECT_NE(script.err.find("missing_train.py"), std::string::npos) << script.describe();
  EXPECT_EQ(script.out, "") << "no rank may start";
  CommandResult hostfile = run_myriad({"run", "--hostfile", dir.path() + "/no-hostfile", "/bin/true"});
  EXPECT_EQ(hostfile.shell_code(), 2) << hostfile.describe();
  EXPECT_NE(hostfile.err.find("no-hostfile"), std::string::npos) << hostfile.describe();
  // 1,048,576 nodes of 4,096 ranks overflowed into "0 rank(s)" and exit 0.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--nnodes", "1:1048576", "--nproc-per-node", "4096"},
        std::vector<std::string>{"--nnodes", "32768", "--nproc-per-node", "4096"}}) {
    args.insert(args.begin(), {"run", "--dry-run"});
    args.push_back("/bin/true");
    CommandResult big = run_myriad(args);
    EXPECT_EQ(big.shell_code(), 2) << big.describe();
    EXPECT_NE(big.err.find("--nnodes"), std::string::npos) << big.describe();
  }
}

// --nnodes counts machines, as torchrun's: on one machine, MIN of 1:2 is met by this one node.
TEST(RunArgs, NnodesCountsMachinesAsTorchrunDoes) {
  CommandResult result = run_myriad({"run", "--nnodes", "1:2", "--nproc-per-node", "2", probe_path(), "env"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::map<int, Vars> ranks = vars_by_rank(result.out);
  ASSERT_EQ(ranks.size(), 2u) << result.describe();
  EXPECT_EQ(ranks[1]["WORLD_SIZE"], "2");
  // --emulated-nodes is the explicit way to run several nodes here.
  CommandResult emulated =
      run_myriad({"run", "--emulated-nodes", "2", "--nproc-per-node", "2", probe_path(), "env"});
  ASSERT_EQ(emulated.shell_code(), 0) << emulated.describe();
  std::map<int, Vars> four = vars_by_rank(emulated.out);
  ASSERT_EQ(four.size(), 4u) << emulated.describe();
  EXPECT_EQ(four[3]["GROUP_RANK"], "1");
  EXPECT_EQ(four[3]["WORLD_SIZE"], "4");
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
  for (const std::vector<std::string>& args :
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
        " -x MYRIAD_STORE ", " -x MYRIAD_TOKEN ", " -x MYRIAD_RUN_ID ", " -x FOO ",
        " rank-exec --role default --node-sizes 4 -- hello a\n", " FOO=1 "}) {
    EXPECT_NE(out.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << out;
  }
  EXPECT_EQ(out.find("--allow-run-as-root") != std::string::npos, ::geteuid() == 0) << out;
}

// torchrun's static rendezvous (its default): --node-rank K places this
// machine's node at group rank K; emulated node i asks for K + i. Under
// c10d group ranks follow arrival instead (any order is right) and
// --node-rank is ignored with a warning.
TEST(RunStatic, NodeRankGivesEachNodeItsGroupRank) {
  for (int attempt = 0; attempt < 2; ++attempt) {  // arrival order varies; the ranks must not
    CommandResult result = run_myriad({"run", "--emulated-nodes", "3", "--nnodes", "3", "--node-rank", "0",
                                       "--nproc-per-node", "2", "--no-tag-output", "sh", "-c",
                                       "echo node=$MYRIAD_NODE_ID group=$GROUP_RANK rank=$RANK"});
    ASSERT_EQ(result.shell_code(), 0) << result.describe();
    std::set<std::string> seen;
    std::regex line_re(R"(^node=node-(\d) group=(\d) rank=(\d)$)");
    for (const std::string& line : lines_of(result.out)) {
      std::smatch m;
      if (!std::regex_match(line, m, line_re)) continue;
      EXPECT_EQ(m[1], m[2]) << "emulated node " << m[1] << " asked for group rank " << m[1] << ": "
                            << result.describe();
      const int node = std::stoi(m[1]), rank = std::stoi(m[3]);
      EXPECT_TRUE(rank == 2 * node || rank == 2 * node + 1) << line;
      seen.insert(line);
    }
    EXPECT_EQ(seen.size(), 6u) << result.describe();
  }
  // Under c10d, as under torchrun, --node-rank is ignored and says so.
  CommandResult c10d = run_myriad({"run", "--emulated-nodes", "2", "--nnodes", "2", "--node-rank", "1",
                                   "--rdzv-backend", "c10d", "--nproc-per-node", "1", "true"});
  ASSERT_EQ(c10d.shell_code(), 0) << c10d.describe();
  EXPECT_NE(c10d.err.find("--node-rank 1 is used only with --rdzv-backend static: ignored"),
            std::string::npos)
      << c10d.describe();
}

// Under mpirun every rank gets torchrun's variables before its program starts, whatever the program.
TEST(RunMpi, EveryRankGetsTorchrunsVariables) {
  const std::string script =
      "echo \"R=$RANK W=$WORLD_SIZE L=$LOCAL_RANK LW=$LOCAL_WORLD_SIZE G=$GROUP_RANK "
      "RR=$ROLE_RANK M=$MASTER_ADDR:$MASTER_PORT S=$MYRIAD_STORE\"";
  CommandResult result =
      run_myriad({"run", "--engine", "mpi", "-np", "2", "--no-tag-output", "sh", "-c", script});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::regex line_re(R"(^R=(\d) W=2 L=(\d) LW=2 G=0 RR=(\d) M=127\.0\.0\.1:(\d+) S=(\S+)$)");
  std::set<std::string> ranks;
  std::set<std::string> masters;
  for (const std::string& line : lines_of(result.out)) {
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    EXPECT_EQ(m[1], m[2]) << line;
    EXPECT_EQ(m[1], m[3]) << line;
    EXPECT_NE("127.0.0.1:" + m[4].str(), m[5].str()) << "MASTER_PORT must not be the store's: " << line;
    ranks.insert(m[1]);
    masters.insert(m[4]);
  }
  EXPECT_EQ(ranks, (std::set<std::string>{"0", "1"})) << result.describe();
  EXPECT_EQ(masters.size(), 1u) << "every rank must be told the same MASTER_PORT:\n" << result.describe();
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
