#include "launcher/hostfile.h"

#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/config.h"
#include "runtime/error.h"

namespace myriad::launcher {
namespace {

// An upper bound that catches typos (slots=40000) without limiting real nodes.
constexpr int kMaxSlotsPerHost = 4096;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// Host names, IPv4 and IPv6 literals: letters, digits and . - _ : (no spaces, no '=').
bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != ':') {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// Adds `entry`, merging a repeated host into its first occurrence.
void add_host(std::vector<HostSlots>& hosts, HostSlots entry) {
  for (HostSlots& existing : hosts) {
    if (existing.host != entry.host) continue;
    existing.slots += entry.slots;
    if (entry.max_slots) existing.max_slots = existing.max_slots.value_or(0) + *entry.max_slots;
    return;
  }
  hosts.push_back(std::move(entry));
}

HostSlots parse_line(std::string_view line, const std::string& where) {
  std::vector<std::string_view> words = split_words(line);
  HostSlots entry;
  entry.host = std::string(words[0]);
  if (!valid_host(entry.host)) {
    raise(ErrorCode::InvalidArgument, "{}: '{}': '{}' is not a host name", where, line, words[0]);
  }
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view word = words[i];
    size_t eq = word.find('=');
    std::string_view key = eq == std::string_view::npos ? word : word.substr(0, eq);
    if (eq == std::string_view::npos || (key != "slots" && key != "max_slots" && key != "max-slots")) {
      raise(ErrorCode::InvalidArgument, "{}: '{}': unexpected '{}': expected 'host [slots=N] [max_slots=M]'",
            where, line, word);
    }
    int value = 0;
    try {
      value = static_cast<int>(config::parse_int(word.substr(eq + 1), key, 1, kMaxSlotsPerHost));
    } catch (const Error& e) {
      raise(ErrorCode::InvalidArgument, "{}: '{}': {}", where, line, e.message());
    }
    if (key == "slots") {
      entry.slots = value;
    } else {
      entry.max_slots = value;
    }
  }
  if (entry.max_slots && *entry.max_slots < entry.slots) {
    raise(ErrorCode::InvalidArgument, "{}: '{}': max_slots={} is less than slots={}", where, line,
          *entry.max_slots, entry.slots);
  }
  return entry;
}

}  // namespace

std::vector<HostSlots> parse_hostfile(std::string_view text, std::string_view file_name) {
  std::vector<HostSlots> hosts;
  int line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    std::string_view line = raw.substr(0, raw.find('#'));
    line = trim(line);
    if (line.empty()) continue;
    add_host(hosts, parse_line(line, fmt::format("{}:{}", file_name, line_number)));
  }
  return hosts;
}

std::vector<HostSlots> read_hostfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    // A usage error (exit 2): the flag names a file that is not there, as a bad line in it would be.
    raise(ErrorCode::InvalidArgument, "--hostfile '{}': cannot read the file: {}", path,
          std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<HostSlots> hosts = parse_hostfile(text.str(), path);
  if (hosts.empty()) raise(ErrorCode::InvalidArgument, "hostfile '{}' names no host", path);
  return hosts;
}

std::vector<HostSlots> parse_host_list(std::string_view text, std::string_view what) {
  std::vector<HostSlots> hosts;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    HostSlots entry;
    // The last colon separates slots, except in a bare IPv6 literal (several colons, no brackets).
    size_t colon = item.rfind(':');
    bool has_slots = colon != std::string_view::npos && item.find(':') == colon;
    entry.host = std::string(has_slots ? item.substr(0, colon) : item);
    if (!valid_host(entry.host)) {
      raise(ErrorCode::InvalidArgument, "{} '{}': '{}' is not host or host:slots", what, text, item);
    }
    if (has_slots) {
      entry.slots = static_cast<int>(config::parse_int(
          item.substr(colon + 1), fmt::format("{} slots of {}", what, entry.host), 1, kMaxSlotsPerHost));
    }
    add_host(hosts, std::move(entry));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return hosts;
}

std::string format_host_list(const std::vector<HostSlots>& hosts) {
  std::string out;
  for (const HostSlots& h : hosts) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}:{}", h.host, h.slots);
  }
  return out;
}

int total_slots(const std::vector<HostSlots>& hosts) {
  int total = 0;
  for (const HostSlots& h : hosts) total += h.slots;
  return total;
}

bool is_local_host(std::string_view host) {
  if (host == "localhost" || host == "127.0.0.1" || host == "::1") return true;
  char name[HOST_NAME_MAX + 1] = {};
  return ::gethostname(name, sizeof(name) - 1) == 0 && host == name;
}

}  // namespace myriad::launcher
