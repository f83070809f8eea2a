// Output of `myriad run`: every line of every rank arrives whole, once, with
// its rank's prefix, even when ranks print long lines concurrently in
// pieces; --no-tag-output and --log-dir.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>

#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

constexpr int kRanks = 4;
constexpr int kLines = 400;
// Longer than PIPE_BUF (4096), so that a line cannot arrive in one pipe read by luck.
constexpr int kLineLength = 6000;

// rank_probe spam's line i of rank r: "line r i " + kLineLength copies of one letter.
std::string expected_line(int rank, int i) {
  return "line " + std::to_string(rank) + " " + std::to_string(i) + " " +
         std::string(kLineLength, static_cast<char>('a' + (rank + i) % 26));
}

// Parses "line R I <payload>" (std::regex recurses per character, too deep for these lines).
bool parse_body(const std::string& body, int& rank, int& i) {
  int consumed = 0;
  return std::sscanf(body.c_str(), "line %d %d %n", &rank, &i, &consumed) == 2 && consumed > 0;
}

// Checks that `text` holds exactly the lines expected for the stream, each whole and, when `tagged`,
// prefixed.
void check_stream(const std::string& text, bool is_stderr, bool tagged) {
  std::map<int, std::set<int>> seen;
  int tails = 0;
  for (const std::string& line : lines_of(text)) {
    std::string body = line;
    int prefix_rank = -1;
    if (tagged) {
      int consumed = 0;
      ASSERT_TRUE(std::sscanf(line.c_str(), "[rank %d] %n", &prefix_rank, &consumed) == 1 && consumed > 0)
          << "not a tagged line: " << line.substr(0, 200);
      body = line.substr(line.find("] ") + 2);
    }
    if (body.starts_with("tail ")) {
      ++tails;
      if (tagged) {
        EXPECT_EQ(body, "tail " + std::to_string(prefix_rank));
      }
      continue;
    }
    int rank = -1;
    int i = -1;
    ASSERT_TRUE(parse_body(body, rank, i)) << "not a whole line: " << line.substr(0, 200);
    if (tagged) {
      ASSERT_EQ(prefix_rank, rank) << "line of rank " << rank << " tagged as rank " << prefix_rank;
    }
    ASSERT_EQ(body, expected_line(rank, i)) << "line " << i << " of rank " << rank << " is damaged";
    ASSERT_EQ(i % 5 == 4, is_stderr) << "line " << i << " of rank " << rank << " is on the wrong stream";
    ASSERT_TRUE(seen[rank].insert(i).second) << "line " << i << " of rank " << rank << " appears twice";
  }
  int per_rank = is_stderr ? kLines / 5 : kLines - kLines / 5;
  for (int rank = 0; rank < kRanks; ++rank) {
    EXPECT_EQ(seen[rank].size(), static_cast<size_t>(per_rank)) << "rank " << rank;
  }
  // The partial last line ("tail R", no newline) is flushed when the rank exits.
  if (!is_stderr) {
    EXPECT_EQ(tails, kRanks);
  }
}

TEST(RunOutput, LinesArePrefixedWholeAndComplete) {
  CommandResult result = run_myriad({"run", "-np", std::to_string(kRanks), probe_path(), "spam",
                                     std::to_string(kLines), std::to_string(kLineLength)});
  ASSERT_EQ(result.shell_code(), 0) << result.status.describe() << "\n" << result.err.substr(0, 2000);
  check_stream(result.out, false, true);
  check_stream(result.err, true, true);
  for (int rank = 0; rank < kRanks; ++rank) {
    std::string tail = "[rank " + std::to_string(rank) + "] tail " + std::to_string(rank) + "\n";
    EXPECT_NE(result.out.find(tail), std::string::npos) << "missing: " << tail;
  }
}

TEST(RunOutput, NoTagOutputKeepsLinesWholeWithoutPrefix) {
  CommandResult result = run_myriad({"run", "-np", std::to_string(kRanks), "--no-tag-output", probe_path(),
                                     "spam", std::to_string(kLines), std::to_string(kLineLength)});
  ASSERT_EQ(result.shell_code(), 0) << result.status.describe() << "\n" << result.err.substr(0, 2000);
  check_stream(result.out, false, false);
  check_stream(result.err, true, false);
}

TEST(RunOutput, LogDirGetsOneFilePerRankBesidesTheConsole) {
  TempDir dir;
  std::string logs = dir.path() + "/logs";
  CommandResult result = run_myriad({"run", "-np", "2", "--log-dir", logs, probe_path(), "env"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.out.find("[rank 1] MYRIAD_RANK=1\n"), std::string::npos) << result.describe();
  for (int rank = 0; rank < 2; ++rank) {
    std::string log = read_text(logs + "/rank-" + std::to_string(rank) + ".log");
    EXPECT_NE(log.find("MYRIAD_RANK=" + std::to_string(rank) + "\n"), std::string::npos) << log;
    EXPECT_EQ(log.find("[rank"), std::string::npos) << "log files hold the rank's own lines: " << log;
  }
}

}  // namespace
}  // namespace myriad::test
