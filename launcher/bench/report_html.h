// The HTML report of `myriad bench accept --report FILE.html`: one
// self-contained page (no script, no stylesheet or font to fetch) with the
// verdict table, busbw against size for each collective check (inline
// SVG, log-scaled size axis), the p2p bandwidth heat map (inline SVG) and
// the memory and GEMM figures. The markup is well-formed XML (every
// element closed, text escaped) so that tools can parse it.
// Pure; thread-safe.
#pragma once

#include <string>

#include "launcher/bench/accept.h"

namespace myriad::bench {

std::string render_report(const AcceptResult& result);
// Escapes &, <, >, " and ' for HTML text and attributes.
std::string html_escape(const std::string& text);

}  // namespace myriad::bench
