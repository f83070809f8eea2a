#include "launcher/bench/table.h"

#include <sstream>

#include "runtime/error.h"

namespace myriad::bench {
namespace {

// nccl-tests' time column: more decimals for shorter times, always 7 wide.
constexpr double kOneDecimalFromUs = 100.0;
constexpr double kNoDecimalFromUs = 10000.0;

std::string time_text(double us) {
  if (us >= kNoDecimalFromUs) return fmt::format("{:7.0f}", us);
  if (us >= kOneDecimalFromUs) return fmt::format("{:7.1f}", us);
  return fmt::format("{:7.2f}", us);
}

std::string placement_text(const CollMeasurement& m) {
  std::string wrong = m.wrong < 0 ? "N/A" : std::to_string(m.wrong);
  return fmt::format("  {:>7}  {:6.2f}  {:6.2f}  {:>5}", time_text(m.time_us), m.algbw, m.busbw, wrong);
}

nlohmann::json placement_json(const CollMeasurement& m, const CollResult& result) {
  nlohmann::json ranks = nlohmann::json::array();
  for (size_t r = 0; r < m.rank_mean_us.size(); ++r) {
    ranks.push_back({{"rank", r},
                     {"node", r < result.rank_nodes.size() ? result.rank_nodes[r] : ""},
                     {"mean_us", m.rank_mean_us[r]},
                     {"max_us", m.rank_max_us[r]},
                     {"wrong", r < m.rank_wrong.size() ? m.rank_wrong[r] : 0}});
  }
  double slowest = 0;
  for (double us : m.rank_mean_us) slowest = std::max(slowest, us);
  return {{"time_us", m.time_us},
          {"algbw_gbs", m.algbw},
          {"busbw_gbs", m.busbw},
          {"p50_us", m.p50_us},
          {"p95_us", m.p95_us},
          {"p99_us", m.p99_us},
          {"wrong", m.wrong < 0 ? nlohmann::json(nullptr) : nlohmann::json(m.wrong)},
          {"slowest_rank_mean_us", slowest},
          {"per_rank", ranks}};
}

}  // namespace

std::string format_table_header(const CollResult& result) {
  std::string out = fmt::format("# myriad bench coll: backend {}, {} rank(s) on {} node(s)\n#\n",
                                result.backend, result.ranks, result.nodes);
  for (int r = 0; r < result.ranks && static_cast<size_t>(r) < result.rank_nodes.size(); ++r) {
    out += fmt::format("#  Rank {:2d} on {}\n", r, result.rank_nodes[static_cast<size_t>(r)]);
  }
  out += "#\n";
  out +=
      "#                                                              out-of-place                       "
      "in-place          \n";
  out +=
      "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw "
      "  busbw #wrong\n";
  out +=
      "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s) "
      " (GB/s)       \n";
  return out;
}

std::string format_table_row(const CollRow& row) {
  std::string_view redop = coll_op_reduces(row.op) ? table_op_name(row.redop) : "none";
  return fmt::format("{:12d}  {:12d}  {:>8}  {:>6}  {:>6}", row.shape.bytes, row.shape.count,
                     table_type_name(row.dtype), redop, row.root) +
         placement_text(row.out_of_place) + placement_text(row.in_place) + "\n";
}

std::string format_table_footer(const CollResult& result) {
  std::string verdict = result.wrong_total == 0 ? "OK" : "FAILED";
  return fmt::format("# Out of bounds values : {} {}\n# Avg bus bandwidth    : {:g} \n#\n",
                     result.wrong_total, verdict, result.avg_busbw);
}

std::string format_table(const CollResult& result) {
  std::string out = format_table_header(result);
  CollOp last = result.rows.empty() ? CollOp::Allreduce : result.rows.front().op;
  for (const CollRow& row : result.rows) {
    // Several ops in one sweep: a comment line names each block.
    if (row.op != last || &row == &result.rows.front()) out += fmt::format("# {}\n", coll_op_name(row.op));
    last = row.op;
    out += format_table_row(row);
  }
  return out + format_table_footer(result);
}

ParsedRow parse_table_row(const std::string& line) {
  std::istringstream in(line);
  ParsedRow row;
  std::string wrong_out;
  std::string wrong_in;
  in >> row.bytes >> row.count >> row.type >> row.redop >> row.root >> row.out_of_place.time_us >>
      row.out_of_place.algbw >> row.out_of_place.busbw >> wrong_out >> row.in_place.time_us >>
      row.in_place.algbw >> row.in_place.busbw >> wrong_in;
  std::string extra;
  if (in.fail() || (in >> extra)) raise(ErrorCode::InvalidArgument, "not a table row: '{}'", line);
  auto wrong = [&](const std::string& text) -> int64_t {
    if (text == "N/A") return -1;
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      raise(ErrorCode::InvalidArgument, "not a table row (#wrong '{}'): '{}'", text, line);
    }
  };
  row.out_of_place.wrong = wrong(wrong_out);
  row.in_place.wrong = wrong(wrong_in);
  return row;
}

nlohmann::json coll_result_json(const CollResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CollRow& row : result.rows) {
    rows.push_back({{"op", coll_op_name(row.op)},
                    {"bytes", row.shape.bytes},
                    {"count", row.shape.count},
                    {"type", dtype_name(row.dtype)},
                    {"redop", coll_op_reduces(row.op) ? reduce_op_name(row.redop) : "none"},
                    {"root", row.root},
                    {"out_of_place", placement_json(row.out_of_place, result)},
                    {"in_place", placement_json(row.in_place, result)}});
  }
  return {{"version", kCollJsonVersion},
          {"tool", "myriad bench coll"},
          {"backend", result.backend},
          {"ranks", result.ranks},
          {"nodes", result.nodes},
          {"checked", result.checked},
          {"wrong_total", result.wrong_total},
          {"avg_busbw_gbs", result.avg_busbw},
          {"rows", rows}};
}

}  // namespace myriad::bench
