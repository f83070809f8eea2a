// `myriad bench coll` run for real: `myriad run -np 2 myriad bench coll`
// over every op, its table parsed back and checked against the shapes the
// arithmetic gives, the JSON's per-rank figures, a deliberately corrupted
// result counted in #wrong with a non-zero exit, and the clear errors of
// backends that cannot run here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "launcher/bench/coll_ops.h"
#include "launcher/bench/device.h"
#include "launcher/bench/table.h"
#include "tests/harness/launcher_test.h"

namespace myriad::test {
namespace {

using bench::CollOp;

// Tiny sizes and few iterations: the test checks behaviour, not speed.
const std::vector<std::string> kSmallSweep = {"-b", "64", "-e", "512", "-f", "8", "-n", "3", "-w", "1"};

std::vector<std::string> bench_args(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// The table's rows grouped by the "# <op>" comment line that opens each block.
std::map<std::string, std::vector<bench::ParsedRow>> parse_rows(const std::string& out) {
  std::map<std::string, std::vector<bench::ParsedRow>> rows;
  std::string op;
  for (const std::string& line : lines_of(out)) {
    if (line.starts_with("# ") && line.find(' ', 2) == std::string::npos) op = line.substr(2);
    if (line.empty() || line.starts_with("#")) continue;
    rows[op].push_back(bench::parse_table_row(line));
  }
  return rows;
}

TEST(BenchColl, TwoRanksEveryOpIsCorrectAndTheTableParsesBack) {
  TempDir dir;
  std::string json_path = dir.path() + "/coll.json";
  CommandResult r = run_myriad(bench_args({"run", "-np", "2", "--no-tag-output", myriad_path(), "bench",
                                           "coll", "--op", "all", "--json", json_path},
                                          kSmallSweep));
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows.size(), 7u) << r.out;
  for (CollOp op : bench::kAllCollOps) {
    const auto& block = rows[std::string(bench::coll_op_name(op))];
    ASSERT_EQ(block.size(), 2u) << bench::coll_op_name(op) << "\n" << r.out;  // 64 B and 512 B
    for (size_t i = 0; i < block.size(); ++i) {
      bench::CollShape shape = bench::coll_shape(op, i == 0 ? 64 : 512, DType::F32, 2);
      EXPECT_EQ(block[i].bytes, shape.bytes) << bench::coll_op_name(op);
      EXPECT_EQ(block[i].count, shape.count) << bench::coll_op_name(op);
      EXPECT_EQ(block[i].type, "float");
      EXPECT_EQ(block[i].redop, bench::coll_op_reduces(op) ? "sum" : "none");
      EXPECT_EQ(block[i].root, bench::coll_op_rooted(op) ? 0 : -1);
      EXPECT_EQ(block[i].out_of_place.wrong, 0) << bench::coll_op_name(op);
      EXPECT_EQ(block[i].in_place.wrong, 0) << bench::coll_op_name(op);
      EXPECT_GT(block[i].out_of_place.time_us, 0.0);
      // busbw = algbw x factor, within the table's rounding.
      EXPECT_NEAR(block[i].out_of_place.busbw, block[i].out_of_place.algbw * bench::bus_factor(op, 2), 0.01);
    }
  }
  EXPECT_NE(r.out.find("# Out of bounds values : 0 OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# Avg bus bandwidth    : "), std::string::npos) << r.out;

  nlohmann::json doc = nlohmann::json::parse(read_text(json_path));
  EXPECT_EQ(doc["ranks"], 2);
  EXPECT_EQ(doc["backend"], "native");
  ASSERT_EQ(doc["rows"].size(), 14u);
  for (const auto& row : doc["rows"]) {
    for (const char* placement : {"out_of_place", "in_place"}) {
      const auto& m = row[placement];
      EXPECT_LE(m["p50_us"].get<double>(), m["p95_us"].get<double>());
      EXPECT_LE(m["p95_us"].get<double>(), m["p99_us"].get<double>());
      ASSERT_EQ(m["per_rank"].size(), 2u);
      for (const auto& rank : m["per_rank"]) {
        EXPECT_GE(rank["max_us"].get<double>(), rank["mean_us"].get<double>());
        EXPECT_EQ(rank["wrong"], 0);
      }
    }
  }
}

TEST(BenchColl, CorruptedResultIsCountedInWrongAndFailsTheRun) {
  TempDir dir;
  std::string json_path = dir.path() + "/coll.json";
  CommandResult r = run_myriad(
      bench_args({"run", "-np", "2", "--no-tag-output", myriad_path(), "bench", "coll", "--json", json_path},
                 kSmallSweep),
      {{"MYRIAD_BENCH_FAULT_CORRUPT", "1"}});
  EXPECT_NE(r.shell_code(), 0) << r.describe();
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows["allreduce"].size(), 2u) << r.out;
  for (const auto& row : rows["allreduce"]) {
    EXPECT_EQ(row.out_of_place.wrong, 1) << r.out;
    EXPECT_EQ(row.in_place.wrong, 1) << r.out;
  }
  EXPECT_NE(r.out.find("# Out of bounds values : 4 FAILED"), std::string::npos) << r.out;
  nlohmann::json doc = nlohmann::json::parse(read_text(json_path));
  const auto& per_rank = doc["rows"][0]["out_of_place"]["per_rank"];
  EXPECT_EQ(per_rank[0]["wrong"], 0);
  EXPECT_EQ(per_rank[1]["wrong"], 1);
}

TEST(BenchColl, StandaloneProcessIsAWorldOfOne) {
  CommandResult r = run_myriad(bench_args({"bench", "coll", "-d", "bfloat16", "-o", "max"}, kSmallSweep));
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows["allreduce"].size(), 2u) << r.out;
  EXPECT_EQ(rows["allreduce"][0].type, "bfloat16");
  EXPECT_EQ(rows["allreduce"][0].redop, "max");
  EXPECT_EQ(rows["allreduce"][0].count, 32u);  // 64 B of bf16
}

TEST(BenchColl, BlockingModeAndIncrementSweep) {
  CommandResult r = run_myriad({"run",
                                "-np",
                                "2",
                                "--no-tag-output",
                                myriad_path(),
                                "bench",
                                "coll",
                                "--op",
                                "reducescatter",
                                "-b",
                                "96",
                                "-e",
                                "224",
                                "-i",
                                "64",
                                "-n",
                                "2",
                                "-w",
                                "0",
                                "-z",
                                "1"});
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows["reducescatter"].size(), 3u) << r.out;  // 96, 160, 224
  EXPECT_EQ(rows["reducescatter"][1].bytes, 160u);
  EXPECT_EQ(rows["reducescatter"][1].count, 20u);
}

TEST(BenchColl, MpiBackendOutsideMpiSaysHowToStartIt) {
  CommandResult r = run_myriad(
      {"run", "-np", "2", myriad_path(), "bench", "coll", "--backend", "mpi", "-b", "64", "-e", "64"});
  EXPECT_NE(r.shell_code(), 0) << r.describe();
  EXPECT_NE(r.err.find("--engine mpi"), std::string::npos) << r.describe();
}

TEST(BenchColl, MpiBackendUnderTheMpiEngine) {
  if (!have_mpirun()) GTEST_SKIP() << "mpirun is not on PATH";
  CommandResult r = run_myriad(bench_args({"run", "--engine", "mpi", "-np", "2", "--no-tag-output",
                                           myriad_path(), "bench", "coll", "--backend", "mpi"},
                                          kSmallSweep));
  ASSERT_EQ(r.shell_code(), 0) << r.describe();
  EXPECT_NE(r.out.find("backend mpi, 2 rank(s)"), std::string::npos) << r.out;
  auto rows = parse_rows(r.out);
  ASSERT_EQ(rows["allreduce"].size(), 2u) << r.out;
  EXPECT_EQ(rows["allreduce"][1].out_of_place.wrong, 0);
}

TEST(BenchColl, NcclRunsOnAGpuAndSaysSoWithout) {
  CommandResult r = run_myriad(bench_args({"bench", "coll", "--backend", "nccl"}, kSmallSweep));
  if (bench::device_count() > 0) {
    ASSERT_EQ(r.shell_code(), 0) << r.describe();
    EXPECT_EQ(parse_rows(r.out)["allreduce"].size(), 2u) << r.out;
  } else {
    EXPECT_NE(r.shell_code(), 0) << r.describe();
    EXPECT_TRUE(r.err.find("no CUDA") != std::string::npos || r.err.find("no GPU") != std::string::npos)
        << r.describe();
  }
}

TEST(BenchColl, UnknownOpIsAUsageErrorNamingIt) {
  CommandResult r = run_myriad({"bench", "coll", "--op", "allsum"});
  EXPECT_EQ(r.shell_code(), 2) << r.describe();
  EXPECT_NE(r.err.find("allsum"), std::string::npos) << r.describe();
}

}  // namespace
}  // namespace myriad::test
