// The arithmetic of `myriad bench coll` against hand-computed values: bus
// bandwidth factors and row shapes per op (nccl-tests' definitions), GB/s,
// sweep sizes, size suffixes, the expected values of the check, and the
// table row format parsed back.
#include <gtest/gtest.h>

#include "launcher/bench/coll_data.h"
#include "launcher/bench/coll_ops.h"
#include "launcher/bench/stats.h"
#include "launcher/bench/table.h"
#include "runtime/error.h"

namespace myriad::bench {
namespace {

TEST(BenchArithmetic, BusFactorsAreNcclTestsFactors) {
  // 8 ranks: all-reduce 2*7/8, gather-like 7/8, the rest 1.
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Allreduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Allgather, 8), 0.875);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::ReduceScatter, 8), 0.875);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Alltoall, 8), 0.875);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Broadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Reduce, 8), 1.0);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Sendrecv, 8), 1.0);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Allreduce, 2), 1.0);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Allreduce, 1), 0.0);
  EXPECT_DOUBLE_EQ(bus_factor(CollOp::Allgather, 4), 0.75);
}

TEST(BenchArithmetic, AlgbwAndBusbwPerOpByHand) {
  // 1 GB in 0.5 s is 2 GB/s of algbw for every op; busbw scales by the factor.
  const size_t gb = 1'000'000'000;
  EXPECT_DOUBLE_EQ(algbw_gbs(gb, 0.5), 2.0);
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Allreduce, gb, 0.5, 4), 3.0);      // 2 * 2*3/4
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Allgather, gb, 0.5, 4), 1.5);      // 2 * 3/4
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::ReduceScatter, gb, 0.5, 4), 1.5);  // 2 * 3/4
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Alltoall, gb, 0.5, 4), 1.5);       // 2 * 3/4
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Broadcast, gb, 0.5, 4), 2.0);
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Reduce, gb, 0.5, 4), 2.0);
  EXPECT_DOUBLE_EQ(busbw_gbs(CollOp::Sendrecv, gb, 0.5, 4), 2.0);
  // 33554432 B all-reduce in 1234.5 us on 8 ranks: 27.18 GB/s algbw, 47.57 busbw.
  EXPECT_NEAR(algbw_gbs(33554432, 1234.5e-6), 27.1806, 1e-3);
  EXPECT_NEAR(busbw_gbs(CollOp::Allreduce, 33554432, 1234.5e-6, 8), 47.5661, 1e-3);
  EXPECT_DOUBLE_EQ(algbw_gbs(1024, 0.0), 0.0);
}

TEST(BenchArithmetic, ShapesFollowNcclTestsSizeAndCount) {
  // all-reduce of 1 MiB floats: count = bytes / 4.
  CollShape ar = coll_shape(CollOp::Allreduce, 1 << 20, DType::F32, 4);
  EXPECT_EQ(ar.count, 262144u);
  EXPECT_EQ(ar.bytes, 1u << 20);
  // all-gather: size is the gathered buffer, count per rank.
  CollShape ag = coll_shape(CollOp::Allgather, 1 << 20, DType::F32, 4);
  EXPECT_EQ(ag.count, 65536u);
  EXPECT_EQ(ag.send_count, 65536u);
  EXPECT_EQ(ag.recv_count, 262144u);
  EXPECT_EQ(ag.bytes, 1u << 20);
  // reduce-scatter: size is the whole input, count per rank.
  CollShape rs = coll_shape(CollOp::ReduceScatter, 1 << 20, DType::F32, 4);
  EXPECT_EQ(rs.count, 65536u);
  EXPECT_EQ(rs.send_count, 262144u);
  EXPECT_EQ(rs.recv_count, 65536u);
  // all-to-all: count per peer.
  CollShape aa = coll_shape(CollOp::Alltoall, 1 << 20, DType::F32, 4);
  EXPECT_EQ(aa.count, 65536u);
  EXPECT_EQ(aa.send_count, 262144u);
  EXPECT_EQ(aa.recv_count, 262144u);
  // Odd sizes round down to whole blocks: 1000 B of f32 over 3 ranks is 83 per rank, 996 B.
  CollShape odd = coll_shape(CollOp::Allgather, 1000, DType::F32, 3);
  EXPECT_EQ(odd.count, 83u);
  EXPECT_EQ(odd.bytes, 996u);
  CollShape half = coll_shape(CollOp::Broadcast, 1000, DType::F16, 3);
  EXPECT_EQ(half.count, 500u);
  EXPECT_EQ(half.bytes, 1000u);
}

TEST(BenchArithmetic, SweepSizesAndSuffixes) {
  EXPECT_EQ(sweep_sizes(8, 128, 2, 0), (std::vector<size_t>{8, 16, 32, 64, 128}));
  EXPECT_EQ(sweep_sizes(8, 100, 4, 0), (std::vector<size_t>{8, 32}));
  EXPECT_EQ(sweep_sizes(100, 400, 2, 150), (std::vector<size_t>{100, 250, 400}));
  EXPECT_EQ(sweep_sizes(64, 64, 2, 0), (std::vector<size_t>{64}));
  EXPECT_THROW(sweep_sizes(128, 8, 2, 0), Error);
  EXPECT_THROW(sweep_sizes(8, 128, 1, 0), Error);
  EXPECT_EQ(parse_size("64"), 64u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("32M"), 32u << 20);
  EXPECT_EQ(parse_size("1G"), 1u << 30);
  EXPECT_THROW(parse_size("12Q"), Error);
  EXPECT_THROW(parse_size("big"), Error);
}

TEST(BenchArithmetic, ParsesOpNames) {
  EXPECT_EQ(parse_coll_op("allreduce"), CollOp::Allreduce);
  EXPECT_EQ(parse_coll_op("all_reduce"), CollOp::Allreduce);
  EXPECT_EQ(parse_coll_op("reduce_scatter"), CollOp::ReduceScatter);
  EXPECT_EQ(parse_coll_ops("all").size(), 7u);
  try {
    parse_coll_op("allsum");
    FAIL() << "allsum was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("allsum"), std::string::npos);
  }
}

TEST(BenchArithmetic, ExpectedValuesOfTheCheck) {
  // Sum over 3 ranks of 1 + (r + i) mod 4 at i = 2: 3 + 4 + 1.
  EXPECT_EQ(reduced_value(ReduceOp::Sum, 3, 2), 8.0);
  EXPECT_EQ(reduced_value(ReduceOp::Max, 3, 2), 4.0);
  EXPECT_EQ(reduced_value(ReduceOp::Min, 3, 2), 1.0);
  EXPECT_DOUBLE_EQ(reduced_value(ReduceOp::Avg, 3, 2), 8.0 / 3);
  EXPECT_EQ(reduced_value(ReduceOp::Prod, 3, 2), 2.0);
  // The bitwise reductions of 3, 4 and 1.
  EXPECT_EQ(reduced_value(ReduceOp::Band, 3, 2), 0.0);
  EXPECT_EQ(reduced_value(ReduceOp::Bor, 3, 2), 7.0);
  EXPECT_EQ(reduced_value(ReduceOp::Bxor, 3, 2), 6.0);
  EXPECT_EQ(reduced_value(ReduceOp::Band, 2, 1), 2.0);  // 2 & 3
  // An all-gather output of 2 ranks x 2 elements: rank 0's then rank 1's inputs.
  std::vector<float> good = {1, 2, 2, 3};
  EXPECT_EQ(count_wrong(CollOp::Allgather, ReduceOp::Sum, 0, 0, 2, good.data(), DType::F32, 2, 4), 0u);
  std::vector<float> bad = {1, 2, 2, 4};
  EXPECT_EQ(count_wrong(CollOp::Allgather, ReduceOp::Sum, 0, 0, 2, bad.data(), DType::F32, 2, 4), 1u);
  // Reduce leaves the non-root's output undefined: nothing counted there.
  EXPECT_EQ(count_wrong(CollOp::Reduce, ReduceOp::Sum, 0, 1, 2, bad.data(), DType::F32, 4, 4), 0u);
  // Every dtype stores and loads the small integers exactly.
  for (DType dtype : kAllDTypes) {
    std::vector<std::byte> buffer(8 * dtype_size(dtype));
    store_element(buffer.data(), dtype, 3, 7.0);
    EXPECT_EQ(load_element(buffer.data(), dtype, 3), 7.0) << dtype_name(dtype);
  }
}

TEST(BenchArithmetic, PercentilesByNearestRank) {
  std::vector<double> v = {5, 1, 4, 2, 3, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(v, 0.5), 5.0);
  EXPECT_EQ(percentile(v, 0.95), 10.0);
  EXPECT_EQ(percentile(v, 0.0), 1.0);
  EXPECT_EQ(percentile({}, 0.5), 0.0);
  EXPECT_EQ(mean({1, 2, 3}), 2.0);
}

CollMeasurement measurement(double time_us, double algbw, double busbw, int64_t wrong) {
  CollMeasurement m;
  m.time_us = time_us;
  m.algbw = algbw;
  m.busbw = busbw;
  m.wrong = wrong;
  return m;
}

CollRow sample_row() {
  CollRow row;
  row.op = CollOp::Allreduce;
  row.shape = coll_shape(CollOp::Allreduce, 33554432, DType::F32, 8);
  row.redop = ReduceOp::Sum;
  row.out_of_place = measurement(1234.5, 27.18, 47.57, 0);
  row.in_place = measurement(12.25, 2718.0, 4756.5, 3);
  return row;
}

TEST(BenchTable, RowHasNcclTestsColumnsAndParsesBack) {
  std::string line = format_table_row(sample_row());
  // "%12li  %12li  %8s  %6s  %6s" then "  %7s  %6.2f  %6.2f  %5s" twice.
  EXPECT_EQ(line,
            "    33554432       8388608     float     sum      -1   1234.5   27.18   47.57      0    12.25  "
            "2718.00  "
            "4756.50      3\n");
  ParsedRow parsed = parse_table_row(line);
  EXPECT_EQ(parsed.bytes, 33554432u);
  EXPECT_EQ(parsed.count, 8388608u);
  EXPECT_EQ(parsed.type, "float");
  EXPECT_EQ(parsed.redop, "sum");
  EXPECT_EQ(parsed.root, -1);
  EXPECT_DOUBLE_EQ(parsed.out_of_place.time_us, 1234.5);
  EXPECT_DOUBLE_EQ(parsed.out_of_place.busbw, 47.57);
  EXPECT_EQ(parsed.out_of_place.wrong, 0);
  EXPECT_DOUBLE_EQ(parsed.in_place.time_us, 12.25);
  EXPECT_EQ(parsed.in_place.wrong, 3);
  EXPECT_THROW(parse_table_row("# Avg bus bandwidth    : 1.5"), Error);
}

TEST(BenchTable, TimeColumnKeepsFewerDecimalsForLongTimes) {
  CollRow row = sample_row();
  row.out_of_place.time_us = 123456.7;
  row.in_place.wrong = -1;
  std::string line = format_table_row(row);
  EXPECT_NE(line.find("  123457  "), std::string::npos) << line;
  EXPECT_EQ(parse_table_row(line).in_place.wrong, -1);  // N/A
  EXPECT_NE(line.find("N/A"), std::string::npos);
}

TEST(BenchTable, FooterAndJsonCarryTheTotals) {
  CollResult result;
  result.backend = "native";
  result.ranks = 2;
  result.rank_nodes = {"a", "b"};
  CollRow row = sample_row();
  row.out_of_place.rank_mean_us = {1200.0, 1269.0};
  row.out_of_place.rank_max_us = {1300.0, 1900.0};
  row.out_of_place.rank_wrong = {0, 0};
  result.rows.push_back(row);
  result.wrong_total = 3;
  result.avg_busbw = 2402.035;
  std::string footer = format_table_footer(result);
  EXPECT_NE(footer.find("# Out of bounds values : 3 FAILED"), std::string::npos) << footer;
  EXPECT_NE(footer.find("# Avg bus bandwidth    : 2402.03"), std::string::npos) << footer;
  nlohmann::json doc = coll_result_json(result);
  EXPECT_EQ(doc["version"], kCollJsonVersion);
  EXPECT_EQ(doc["rows"][0]["op"], "allreduce");
  EXPECT_EQ(doc["rows"][0]["out_of_place"]["per_rank"][1]["max_us"], 1900.0);
  EXPECT_EQ(doc["rows"][0]["out_of_place"]["per_rank"][1]["node"], "b");
  EXPECT_EQ(doc["rows"][0]["out_of_place"]["slowest_rank_mean_us"], 1269.0);
}

}  // namespace
}  // namespace myriad::bench
