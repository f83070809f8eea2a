// append_event() and EventLog: whole lines from several processes writing
// at once, the fields added to each event, and the failure cases (unset
// variable: no-op; unopenable path: an error naming it from EventLog only).
#include "runtime/event_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "runtime/error.h"
#include "tests/harness/process.h"

namespace myriad {
namespace {

using json = nlohmann::json;

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(EventLog, LinesFromManyProcessesAtOnceAreWhole) {
  test::TempDir dir;
  const std::string path = dir.path() + "/events.jsonl";
  constexpr int kProcesses = 4;
  constexpr int kEvents = 300;
  const std::string padding(600, 'p');  // long lines make a torn write likely if writes were split
  test::RanksResult result = test::fork_ranks(kProcesses, [&](int rank) {
    ::setenv("MYRIAD_EVENTS_FILE", path.c_str(), 1);
    for (int i = 0; i < kEvents; ++i) {
      append_event(json{{"event", "test"}, {"rank", rank}, {"i", i}, {"padding", padding}});
    }
    return 0;
  });
  ASSERT_TRUE(result.all_succeeded()) << result.describe();
  std::vector<std::string> lines = lines_of(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kProcesses * kEvents));
  std::map<int, int> next;  // each process's events arrive whole and in its order
  std::set<long> pids;
  for (const std::string& line : lines) {
    json event = json::parse(line);  // throws on a torn or interleaved line
    int rank = event.at("rank").get<int>();
    EXPECT_EQ(event.at("i").get<int>(), next[rank]++);
    EXPECT_EQ(event.at("padding").get<std::string>(), padding);
    EXPECT_TRUE(event.at("t").is_number_float());
    pids.insert(event.at("pid").get<long>());
  }
  EXPECT_EQ(pids.size(), static_cast<size_t>(kProcesses));
}

TEST(EventLog, WithoutTheVariableNothingIsWritten) {
  test::TempDir dir;
  test::RanksResult result = test::fork_ranks(1, [&](int) {
    ::unsetenv("MYRIAD_EVENTS_FILE");
    append_event(json{{"event", "nowhere"}});
    ::setenv("MYRIAD_EVENTS_FILE", (dir.path() + "/late").c_str(), 1);
    append_event(json{{"event", "still nowhere"}});  // the variable is read once
    return ::access((dir.path() + "/late").c_str(), F_OK) == 0 ? 1 : 0;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
}

TEST(EventLog, AnUnwritablePathIsIgnoredByRanksAndAnErrorForTheAgent) {
  const std::string path = "/nonexistent-myriad-dir/events.jsonl";
  test::RanksResult result = test::fork_ranks(1, [&](int) {
    ::setenv("MYRIAD_EVENTS_FILE", path.c_str(), 1);
    append_event(json{{"event", "lost"}});
    append_event(json::array());  // not an object: dropped, not thrown
    return 0;
  });
  EXPECT_TRUE(result.all_succeeded()) << result.describe();
  try {
    EventLog log(path);
    ADD_FAILURE() << "opened " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
  }
}

TEST(EventLog, AppendAddsTimeAndPidUnlessGiven) {
  test::TempDir dir;
  EventLog log(dir.path() + "/events.jsonl");
  log.append(json{{"event", "a"}});
  log.append(json{{"event", "b"}, {"t", 12.5}, {"pid", 7}});
  EXPECT_THROW(log.append(json("not an object")), Error);
  std::vector<std::string> lines = lines_of(log.path());
  ASSERT_EQ(lines.size(), 2u);
  json a = json::parse(lines[0]);
  EXPECT_GT(a.at("t").get<double>(), 1e9);
  EXPECT_EQ(a.at("pid").get<long>(), static_cast<long>(::getpid()));
  json b = json::parse(lines[1]);
  EXPECT_EQ(b.at("t").get<double>(), 12.5);
  EXPECT_EQ(b.at("pid").get<long>(), 7);
  EXPECT_EQ(event_line(json{{"event", "x"}}, 1.5, 3), "{\"event\":\"x\",\"pid\":3,\"t\":1.5}\n");
}

}  // namespace
}  // namespace myriad
