// Host lists of `myriad run`: the -H/--host flag and the --hostfile file.
//
// Accepted hostfile lines (one host per line):
//   node1                          one slot
//   node1 slots=4                  Open MPI and DeepSpeed format
//   node1 slots=4 max_slots=8      Open MPI's cap on oversubscription (max-slots also accepted)
// `#` starts a comment (whole line or trailing); blank lines are skipped. A
// host named twice gets the sum of its slots, as mpirun does.
// The -H list is "host[:slots],host[:slots],..." (slots default to 1).
//
// Failure: a malformed line is Error(InvalidArgument) naming "file:line",
// the line's text and what was expected; an unreadable file is Error(Io).
// The functions are pure (no shared state) and safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace myriad::launcher {

struct HostSlots {
  std::string host;
  int slots = 1;
  std::optional<int> max_slots;

  bool operator==(const HostSlots&) const = default;
};

// Parses hostfile text; `file_name` names the source in errors.
std::vector<HostSlots> parse_hostfile(std::string_view text, std::string_view file_name);
// Reads and parses the file at `path`.
std::vector<HostSlots> read_hostfile(const std::string& path);
// Parses a -H list; `what` names the flag in errors.
std::vector<HostSlots> parse_host_list(std::string_view text, std::string_view what);
// "h1:2,h2:4": the form mpirun's --host takes.
std::string format_host_list(const std::vector<HostSlots>& hosts);
// Sum of the slots.
int total_slots(const std::vector<HostSlots>& hosts);
// True for names of this machine: localhost, 127.0.0.1, ::1 and the host name.
bool is_local_host(std::string_view host);

}  // namespace myriad::launcher
