#include "launcher/command_line.h"

namespace myriad::launcher {
namespace {

bool needs_quotes(std::string_view word) {
  if (word.empty()) return true;
  for (char c : word) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 std::string_view("-_./:=,+@%").find(c) != std::string_view::npos;
    if (!plain) return true;
  }
  return false;
}

}  // namespace

std::string shell_quote(std::string_view word) {
  if (!needs_quotes(word)) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    // A single quote cannot appear inside single quotes: close, escape it, reopen.
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ' ';
    out += shell_quote(word);
  }
  return out;
}

}  // namespace myriad::launcher
