#include "launcher/bench/report_html.h"

#include <algorithm>
#include <cmath>

namespace myriad::bench {
namespace {

// Plot geometry, in SVG user units.
constexpr double kPlotWidth = 640;
constexpr double kPlotHeight = 320;
constexpr double kMargin = 56;
constexpr double kCell = 48;
constexpr const char* kLineColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

std::string size_label(double bytes) {
  constexpr double kKiB = 1024;
  if (bytes >= kKiB * kKiB * kKiB) return fmt::format("{:g}G", bytes / (kKiB * kKiB * kKiB));
  if (bytes >= kKiB * kKiB) return fmt::format("{:g}M", bytes / (kKiB * kKiB));
  if (bytes >= kKiB) return fmt::format("{:g}K", bytes / kKiB);
  return fmt::format("{:g}", bytes);
}

// busbw (GB/s) against size (log2 axis) for one sweep: out-of-place and in-place lines.
std::string busbw_plot(const CollSweep& sweep) {
  const CollResult& result = *sweep.result;
  double min_x = std::log2(static_cast<double>(std::max<size_t>(result.rows.front().shape.bytes, 1)));
  double max_x = std::log2(static_cast<double>(std::max<size_t>(result.rows.back().shape.bytes, 1)));
  if (max_x <= min_x) max_x = min_x + 1;
  double max_y = sweep.check.min_busbw_gbs;
  for (const CollRow& row : result.rows)
    max_y = std::max({max_y, row.out_of_place.busbw, row.in_place.busbw});
  if (max_y <= 0) max_y = 1;
  max_y *= 1.1;  // headroom above the highest point
  auto px = [&](size_t bytes) {
    double x = std::log2(static_cast<double>(std::max<size_t>(bytes, 1)));
    return kMargin + (x - min_x) / (max_x - min_x) * (kPlotWidth - 2 * kMargin);
  };
  auto py = [&](double y) { return kPlotHeight - kMargin - y / max_y * (kPlotHeight - 2 * kMargin); };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"busbw\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 "
      "{0} {1}\">\n",
      kPlotWidth, kPlotHeight);
  svg += fmt::format("<title>{} busbw against size</title>\n",
                     html_escape(sweep.check.op + " " + sweep.check.backend));
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", kMargin,
                     kPlotHeight - kMargin, kPlotWidth - kMargin);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", kMargin,
                     kMargin, kPlotHeight - kMargin);
  for (const CollRow& row : result.rows) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                       px(row.shape.bytes), kPlotHeight - kMargin + 16,
                       size_label(static_cast<double>(row.shape.bytes)));
  }
  constexpr int kYTicks = 4;
  for (int t = 0; t <= kYTicks; ++t) {
    double y = max_y * t / kYTicks;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{:.2f}</text>\n",
                       kMargin - 6, py(y) + 4, y);
  }
  svg +=
      fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"middle\">size (B)</text>\n",
                  kPlotWidth / 2, kPlotHeight - 12);
  svg += fmt::format(
      "<text x=\"14\" y=\"{:.1f}\" font-size=\"12\" transform=\"rotate(-90 14 {:.1f})\" "
      "text-anchor=\"middle\">busbw (GB/s)</text>\n",
      kPlotHeight / 2, kPlotHeight / 2);
  // The threshold, dashed.
  svg += fmt::format(
      "<line class=\"threshold\" x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#888\" "
      "stroke-dasharray=\"6 4\"/>\n",
      kMargin, py(sweep.check.min_busbw_gbs), kPlotWidth - kMargin);
  for (int placement = 0; placement < 2; ++placement) {
    std::string points;
    for (const CollRow& row : result.rows) {
      const CollMeasurement& m = placement == 0 ? row.out_of_place : row.in_place;
      points += fmt::format("{:.1f},{:.1f} ", px(row.shape.bytes), py(m.busbw));
    }
    svg += fmt::format(
        "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
        kLineColors[placement], points);
    for (const CollRow& row : result.rows) {
      const CollMeasurement& m = placement == 0 ? row.out_of_place : row.in_place;
      svg += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} B: {:.3f} "
          "GB/s</title></circle>\n",
          px(row.shape.bytes), py(m.busbw), kLineColors[placement], row.shape.bytes, m.busbw);
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" fill=\"{}\">{}</text>\n",
                       kPlotWidth - kMargin - 100, kMargin - 20 + 14 * placement, kLineColors[placement],
                       placement == 0 ? "out-of-place" : "in-place");
  }
  return svg + "</svg>\n";
}

// Bandwidth of every pair as a colored grid: white (0) to dark blue (the best pair).
std::string p2p_heatmap(const P2pResult& result) {
  const int n = result.ranks;
  double best = 0;
  for (const P2pPair& p : result.pairs) best = std::max(best, p.bandwidth_gbs);
  if (best <= 0) best = 1;
  double size = kMargin + kCell * n + 8;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"{0}\" height=\"{0}\" viewBox=\"0 "
      "0 {0} {0}\">\n",
      size);
  svg += "<title>p2p bandwidth heat map (GB/s)</title>\n";
  for (int i = 0; i < n; ++i) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
                       kMargin + kCell * (i + 0.5), kMargin - 8, i);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n",
                       kMargin - 8, kMargin + kCell * (i + 0.5) + 4, i);
  }
  for (const P2pPair& p : result.pairs) {
    double share = p.bandwidth_gbs / best;
    int shade = static_cast<int>(255 - share * 200);  // 255 (white) to 55 (dark)
    std::string color = fmt::format("rgb({},{},255)", shade, shade);
    for (auto [i, j] : {std::pair{p.a, p.b}, std::pair{p.b, p.a}}) {
      svg += fmt::format(
          "<rect class=\"cell\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{}\" height=\"{}\" fill=\"{}\" "
          "stroke=\"{}\"><title>{}-{} ({}): {:.3f} GB/s, {:.1f} us</title></rect>\n",
          kMargin + kCell * j, kMargin + kCell * i, kCell, kCell, color, p.slow ? "red" : "white", i, j,
          p.link, p.bandwidth_gbs, p.latency_us);
      svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"middle\">{:.2f}</text>\n",
          kMargin + kCell * (j + 0.5), kMargin + kCell * (i + 0.5) + 4, p.bandwidth_gbs);
    }
  }
  return svg + "</svg>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report(const AcceptResult& result) {
  std::string title = html_escape("myriad bench accept: " + result.spec_name);
  std::string html = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n";
  html += "<meta charset=\"utf-8\"/>\n<title>" + title + "</title>\n";
  html +=
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
      ".PASS{color:#070;font-weight:bold}.FAIL{color:#b00;font-weight:bold}</style>\n</head>\n<body>\n";
  html += "<h1>" + title + "</h1>\n";
  html += fmt::format("<p id=\"summary\">{} rank(s) on {} node(s): <span class=\"{}\">{}</span></p>\n",
                      result.ranks, result.nodes, result.passed() ? "PASS" : "FAIL",
                      result.passed() ? "ACCEPTED" : "REJECTED");
  html +=
      "<h2>Verdicts</h2>\n<table id=\"verdicts\">\n<tr><th>verdict</th><th>check</th><th>measured</th>"
      "<th>expected</th><th>failing</th></tr>\n";
  for (const Verdict& v : result.verdicts) {
    const char* word = v.pass ? "PASS" : "FAIL";
    html += fmt::format(
        "<tr><td class=\"{0}\">{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>\n", word,
        html_escape(v.check), html_escape(v.measured), html_escape(v.expected), html_escape(v.failing));
  }
  html += "</table>\n";
  bool any_plot = false;
  for (const CollSweep& sweep : result.coll) {
    if (!sweep.result || sweep.result->rows.empty()) continue;
    if (!any_plot) html += "<h2>Collective bus bandwidth</h2>\n";
    any_plot = true;
    html += fmt::format("<h3>{} ({} backend, {})</h3>\n", html_escape(sweep.check.op),
                        html_escape(sweep.check.backend), html_escape(sweep.check.dtype));
    html += busbw_plot(sweep);
  }
  if (result.p2p && !result.p2p->pairs.empty()) {
    html += fmt::format("<h2>Point-to-point bandwidth ({} B messages, {} backend)</h2>\n", result.p2p->bytes,
                        html_escape(result.p2p->backend));
    html += p2p_heatmap(*result.p2p);
  }
  if (result.membw) {
    html +=
        "<h2>Memory bandwidth</h2>\n<table id=\"membw\">\n<tr><th>rank</th><th>node</th><th>copy GB/s</th>"
        "<th>triad GB/s</th></tr>\n";
    for (size_t r = 0; r < result.membw->ranks.size(); ++r) {
      const MembwRank& rank = result.membw->ranks[r];
      html += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td></tr>\n", r,
                          html_escape(rank.node), rank.copy_gbs, rank.triad_gbs);
    }
    html += "</table>\n";
  }
  if (result.gemm) {
    html += "<h2>GEMM</h2>\n";
    if (result.gemm->rows.empty())
      html += "<p>No GPU on any rank.</p>\n";
    else {
      html +=
          "<table "
          "id=\"gemm\">\n<tr><th>rank</th><th>device</th><th>type</th><th>n</th><th>TFLOP/s</th></tr>\n";
      for (const GemmRow& row : result.gemm->rows) {
        html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td></tr>\n",
                            row.rank, html_escape(row.device), row.dtype, row.n, row.tflops);
      }
      html += "</table>\n";
    }
  }
  return html + "</body>\n</html>\n";
}

}  // namespace myriad::bench
