// Hostfile and -H parsing: every accepted format, and a malformed line
// reported with file:line and its text (parser and command line).
#include "launcher/hostfile.h"

#include <gtest/gtest.h>

#include <fstream>

#include "runtime/error.h"
#include "tests/harness/launcher_test.h"

namespace myriad::launcher {
namespace {

using test::run_myriad;

std::string error_of(std::string_view text) {
  try {
    parse_hostfile(text, "hosts.txt");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    return e.message();
  }
  ADD_FAILURE() << "no error for hostfile text: " << text;
  return "";
}

TEST(Hostfile, AcceptsOpenMpiDeepSpeedAndBareLines) {
  std::string text =
      "# cluster\n"
      "\n"
      "node1 slots=4 max_slots=8\n"
      "node2 slots=2   # DeepSpeed writes this form\n"
      "  node3  \n"
      "10.0.0.4 slots=1 max-slots=2\n";
  std::vector<HostSlots> hosts = parse_hostfile(text, "hosts.txt");
  std::vector<HostSlots> expected = {
      {"node1", 4, 8}, {"node2", 2, std::nullopt}, {"node3", 1, std::nullopt}, {"10.0.0.4", 1, 2}};
  EXPECT_EQ(hosts, expected);
  EXPECT_EQ(total_slots(hosts), 8);
  EXPECT_EQ(format_host_list(hosts), "node1:4,node2:2,node3:1,10.0.0.4:1");
}

TEST(Hostfile, RepeatedHostSumsItsSlots) {
  std::vector<HostSlots> hosts = parse_hostfile("a slots=2\nb\na slots=3\n", "f");
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0], (HostSlots{"a", 5, std::nullopt}));
}

TEST(Hostfile, EmptyAndCommentOnlyTextNamesNoHost) {
  EXPECT_TRUE(parse_hostfile("", "f").empty());
  EXPECT_TRUE(parse_hostfile("# nothing\n\n   \n", "f").empty());
}

TEST(Hostfile, MalformedLineNamesFileLineAndText) {
  std::string message = error_of("good slots=2\n# comment\nnode1 slots=abc\n");
  EXPECT_NE(message.find("hosts.txt:3"), std::string::npos) << message;
  EXPECT_NE(message.find("abc"), std::string::npos) << message;

  message = error_of("node1 slot=4\n");
  EXPECT_NE(message.find("hosts.txt:1"), std::string::npos) << message;
  EXPECT_NE(message.find("node1 slot=4"), std::string::npos) << message;

  for (std::string_view bad : {"node1 slots=0\n", "node1 slots=-2\n", "node1 slots=4 max_slots=2\n",
                               "bad!host slots=1\n", "node1 slots=2 extra\n", "node1 slots=\n"}) {
    message = error_of(bad);
    EXPECT_NE(message.find("hosts.txt:1"), std::string::npos) << bad << " -> " << message;
  }
}

TEST(HostList, ParsesHostsWithAndWithoutSlots) {
  std::vector<HostSlots> expected = {{"a", 2, std::nullopt}, {"b", 1, std::nullopt}, {"c", 4, std::nullopt}};
  EXPECT_EQ(parse_host_list("a:2,b,c:4", "-H"), expected);
  EXPECT_THROW(parse_host_list("a:2,,b", "-H"), Error);
  EXPECT_THROW(parse_host_list("a:x", "-H"), Error);
  EXPECT_THROW(parse_host_list("a:0", "-H"), Error);
}

TEST(HostList, LocalNamesAreLocal) {
  EXPECT_TRUE(is_local_host("localhost"));
  EXPECT_TRUE(is_local_host("127.0.0.1"));
  EXPECT_FALSE(is_local_host("node-that-is-not-this-machine"));
}

TEST(HostfileCli, BadLineIsReportedWithFileAndLine) {
  test::TempDir dir;
  std::string path = dir.path() + "/hosts.txt";
  std::ofstream(path) << "node1 slots=2\nnode2 slots=two\n";
  test::CommandResult result = run_myriad({"run", "--hostfile", path, "--dry-run", "true"});
  EXPECT_EQ(result.shell_code(), 2) << result.describe();
  EXPECT_NE(result.err.find(path + ":2"), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find("slots=two"), std::string::npos) << result.describe();
}

TEST(HostfileCli, MissingHostfileIsAnError) {
  test::CommandResult result = run_myriad({"run", "--hostfile", "/nonexistent/hosts", "--dry-run", "true"});
  EXPECT_NE(result.shell_code(), 0) << result.describe();
  EXPECT_NE(result.err.find("/nonexistent/hosts"), std::string::npos) << result.describe();
}

}  // namespace
}  // namespace myriad::launcher
