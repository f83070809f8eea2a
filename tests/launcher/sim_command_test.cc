// `myriad sim`: the collective simulation's table and JSON (time, bytes,
// the data-flow check, peak memory), the reduced second data run of a large
// vector, the selector's choice under --algorithm auto, usage errors that
// name the flag, and the rendezvous round's store operations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

nlohmann::json last_json_line(const std::string& out) {
  const std::vector<std::string> lines = lines_of(out);
  return lines.empty() ? nlohmann::json() : nlohmann::json::parse(lines.back(), nullptr, false);
}

TEST(SimCommand, PrintsTimeBytesCheckAndMemory) {
  CommandResult result = run_myriad({"sim", "--collective", "allreduce", "--algorithm", "ring", "--nodes",
                                     "4", "--ranks-per-node", "4", "--bytes", "1M"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  for (const char* field : {"estimated time", "bytes sent", "max per rank", "peak memory", "16 ranks"}) {
    EXPECT_NE(result.out.find(field), std::string::npos) << field << "\n" << result.describe();
  }
  EXPECT_NE(result.out.find("data check       pass (262144 elements of 4 B per rank)"), std::string::npos)
      << result.describe();
}

TEST(SimCommand, JsonCountsTheBytesOfARingAllgather) {
  // 64 KiB gathered by 16 ranks: 1,024 four-byte elements each; every rank
  // sends 15 blocks of 4 KiB around the ring.
  CommandResult result = run_myriad({"sim", "--collective", "allgather", "--algorithm", "ring", "--nodes",
                                     "2", "--ranks-per-node", "8", "--bytes", "64K", "--json"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  const nlohmann::json out = last_json_line(result.out);
  ASSERT_TRUE(out.is_object()) << result.describe();
  EXPECT_EQ(out["ok"], true);
  EXPECT_EQ(out["data_check"], "pass");
  EXPECT_EQ(out["count"], 1024);
  EXPECT_EQ(out["bytes_sent"], 16 * 15 * 4096);
  EXPECT_EQ(out["max_rank_bytes_sent"], 15 * 4096);
  EXPECT_GT(out["estimated_s"].get<double>(), 0);
  EXPECT_GT(out["peak_rss_bytes"].get<uint64_t>(), 0u);
}

TEST(SimCommand, LargeVectorIsCheckedInASecondSmallerRun) {
  // 512 ranks x 256 MiB of buffers is far past the budget: timed at full
  // size, checked at one-byte elements covering every rank's chunk.
  CommandResult result = run_myriad({"sim", "--collective", "allreduce", "--algorithm", "ring", "--nodes",
                                     "64", "--ranks-per-node", "8", "--bytes", "256M", "--json"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  const nlohmann::json out = last_json_line(result.out);
  EXPECT_EQ(out["data_check"], "pass") << result.out;
  EXPECT_EQ(out["data_check_element_bytes"], 1) << result.out;
  EXPECT_GE(out["data_check_count"].get<uint64_t>(), 512u) << result.out;
  EXPECT_LT(out["data_check_count"].get<uint64_t>(), out["count"].get<uint64_t>()) << result.out;
  EXPECT_LT(out["peak_rss_bytes"].get<uint64_t>(), uint64_t{600} << 20) << result.out;
}

TEST(SimCommand, AutoTakesTheSelectorsChoice) {
  // 64 bytes at 16 ranks: latency-bound, never the ring.
  CommandResult result = run_myriad({"sim", "--collective", "allreduce", "--algorithm", "auto", "--nodes",
                                     "16", "--ranks-per-node", "1", "--bytes", "64", "--json"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  const nlohmann::json out = last_json_line(result.out);
  EXPECT_NE(out["algorithm"], "ring") << result.out;
  EXPECT_NE(out["reason"].get<std::string>().find("cost"), std::string::npos) << result.out;
}

TEST(SimCommand, LinkCostsChangeTheEstimate) {
  const auto estimate = [](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {
        "sim", "--collective", "broadcast", "--algorithm", "tree",    "--nodes", "4", "--ranks-per-node",
        "1",   "--bytes",      "1M",        "--json",      "--check", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult result = run_myriad(args);
    EXPECT_EQ(result.shell_code(), 0) << result.describe();
    return last_json_line(result.out)["estimated_s"].get<double>();
  };
  const double tcp = estimate({});
  const double fast = estimate({"--bandwidth", "tcp=100", "--alpha", "tcp=1"});
  const double ib = estimate({"--link", "intra=shm,inter=ib"});
  EXPECT_LT(fast, tcp / 10);
  EXPECT_LT(ib, tcp);
}

TEST(SimCommand, BadFlagsAreUsageErrorsNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--algorithm", "ringo"}, "--algorithm ringo"},
      {{"--collective", "allredux"}, "--collective"},
      {{"--nodes", "0"}, "--nodes 0"},
      {{"--nodes", "4096", "--ranks-per-node", "8"}, "at most 16384"},
      {{"--bytes", "12Q"}, "--bytes"},
      {{"--link", "intra=warp"}, "--link"},
      {{"--alpha", "tcp=fast"}, "--alpha"},
      {{"--check", "maybe"}, "--check"},
      {{"--rendezvous", "1"}, "--rendezvous 1"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> args = {"sim"};
    args.insert(args.end(), flags.begin(), flags.end());
    CommandResult result = run_myriad(args);
    EXPECT_EQ(result.shell_code(), 2) << result.describe();
    EXPECT_NE(result.err.find(expected), std::string::npos) << expected << "\n" << result.describe();
  }
}

TEST(SimCommand, RendezvousCountsStoreOperationsPerAgent) {
  CommandResult result = run_myriad({"sim", "--rendezvous", "32", "--json"});
  ASSERT_EQ(result.shell_code(), 0) << result.describe();
  const nlohmann::json out = last_json_line(result.out);
  ASSERT_TRUE(out.is_object()) << result.describe();
  EXPECT_EQ(out["agents"], 32);
  // A joiner's operations do not grow with N; the closer reads every slot.
  EXPECT_GT(out["join_ops_max"].get<int64_t>(), 0);
  EXPECT_LT(out["join_ops_max"].get<int64_t>(), 32);
  EXPECT_GE(out["closer_ops"].get<int64_t>(), 32);
  EXPECT_GE(out["total_ops"].get<int64_t>(), 31 * out["join_ops_median"].get<int64_t>());
  EXPECT_GT(out["store_keys"].get<int64_t>(), 32);
  EXPECT_GT(out["bytes_moved"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace myriad::test
