// The hello example under both engines: each rank joins the world through
// the launcher's store and reports its place.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

constexpr int kRanks = 4;

// The ranks that printed a hello line with world size kRanks; `tag` is the
// prefix pattern the engine puts on each line (without capturing groups).
std::set<int> hello_ranks(const std::string& out, const std::string& tag) {
  std::regex re(
      "^" + tag +
      R"(hello from rank (\d+) of (\d+) \(local rank (\d+) of (\d+)\) on node \S+; store round trip ok$)");
  std::set<int> ranks;
  for (const std::string& line : lines_of(out)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    EXPECT_EQ(m[2], std::to_string(kRanks)) << line;
    EXPECT_EQ(m[4], std::to_string(kRanks)) << line;
    EXPECT_EQ(m[1], m[3]) << "one node: local rank equals rank: " << line;
    ranks.insert(std::stoi(m[1]));
  }
  return ranks;
}

TEST(Hello, LocalEngineRunsFourRanks) {
  CommandResult result = run_myriad({"run", "-np", std::to_string(kRanks), hello_path()});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  std::set<int> ranks = hello_ranks(result.out, R"(\[rank \d+\] )");
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3})) << result.describe();
}

TEST(Hello, MpiEngineRunsFourRanksThroughMpirun) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  CommandResult result = run_myriad({"run", "--engine", "mpi", "-np", std::to_string(kRanks), hello_path()});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  // mpirun --tag-output prefixes "[jobid,rank]<stdout>:".
  std::set<int> ranks = hello_ranks(result.out, R"(\[\d+,\d+\]<stdout>:\s*)");
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3})) << result.describe();
}

TEST(Hello, MpiEngineFailureExitCodePassesThrough) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not installed";
  TempDir dir;
  CommandResult result =
      run_myriad({"run", "--engine", "mpi", "-np", "2", probe_path(), "exit", "1", "5", dir.path(), "2"});
  // mpirun exits with the first failed rank's code; myriad run passes it through.
  EXPECT_EQ(result.shell_code(), 5) << result.describe();
  EXPECT_NE(result.err.find("myriad run: mpirun (pid "), std::string::npos) << result.describe();
  for (pid_t pid : read_pids(dir.path(), "pid-", 2)) {
    EXPECT_NE(pid, 0) << result.describe();
    EXPECT_FALSE(process_alive(pid)) << "rank pid " << pid << " survived; " << result.describe();
  }
}

}  // namespace
}  // namespace myriad::test
