// The text and JSON forms of a `myriad bench coll` result.
//
// The table is nccl-tests' layout, column for column, so that scripts and
// eyes that read nccl-tests read it too:
//   #       size         count      type   redop    root     time   algbw   busbw #wrong     time ...
//   33554432       8388608     float     sum      -1   1234.5   27.18   27.18      0   1230.1 ...
// (size and count: "%12li  %12li"; type, redop, root: "%8s  %6s  %6s";
// per placement "  %7s  %6.2f  %6.2f  %5s", the time in us with 2, 1 or 0
// decimals below 100, below 10000 and above; #wrong "N/A" without -c 1),
// and the footer "# Out of bounds values : N OK|FAILED" and
// "# Avg bus bandwidth    : X". Non-reducing ops print redop "none".
// Pure functions; thread-safe. parse_table_row throws Error(InvalidArgument)
// naming the line when it is not a row.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "launcher/bench/coll_bench.h"

namespace myriad::bench {

std::string format_table_header(const CollResult& result);
std::string format_table_row(const CollRow& row);
std::string format_table_footer(const CollResult& result);
// Header, every row, footer.
std::string format_table(const CollResult& result);

struct ParsedPlacement {
  double time_us = 0;
  double algbw = 0;
  double busbw = 0;
  int64_t wrong = -1;  // -1: N/A
};
struct ParsedRow {
  uint64_t bytes = 0;
  uint64_t count = 0;
  std::string type;
  std::string redop;
  int root = -1;
  ParsedPlacement out_of_place;
  ParsedPlacement in_place;
};
ParsedRow parse_table_row(const std::string& line);

// The JSON document `--json FILE` writes (format: docs/bench.md), version 1.
inline constexpr int kCollJsonVersion = 1;
nlohmann::json coll_result_json(const CollResult& result);

}  // namespace myriad::bench
