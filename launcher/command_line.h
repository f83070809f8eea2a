// Shell quoting for the commands `myriad run --dry-run` prints, so that a
// printed line can be pasted into a POSIX shell and runs the same argv.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace myriad::launcher {

// `word` unchanged when it needs no quoting, else in single quotes.
std::string shell_quote(std::string_view word);
// The words quoted and joined by spaces.
std::string shell_join(const std::vector<std::string>& words);

}  // namespace myriad::launcher
