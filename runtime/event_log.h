// Event log: JSON lines appended to the job's goodput ledger
// (MYRIAD_EVENTS_FILE; the events are listed in docs/elastic.md).
//
// Each event is one line: the event object plus "t" (wall-clock unix
// seconds, a double with microseconds) and "pid", unless the event already
// carries them. A line goes out in one write(2) on a descriptor opened with
// O_APPEND: POSIX makes the seek to the end and the write one atomic step,
// and Linux local file systems (ext4, xfs, tmpfs) hold the inode lock for
// the whole write, so lines written by several processes at once never
// interleave. Keep lines under PIPE_BUF (4096 bytes), the size POSIX
// guarantees for pipes. NFS does not implement O_APPEND atomically: put
// the ledger on a local file system. A process killed mid-write, or a full
// disk, can leave a torn last line; the ledger's reader skips it.
//
// append_event() is for ranks: it opens MYRIAD_EVENTS_FILE once per process
// (no-op when unset) and never throws; an I/O error is logged (warn, once
// per process). EventLog is the agent's handle on its ledger: the
// constructor throws Error(Io) naming the path, append() logs I/O errors
// (warn) and never throws them. Both are thread-safe (one write per line).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/unique_fd.h"

namespace myriad {

// Appends `event` (a JSON object; anything else is logged and dropped) to
// MYRIAD_EVENTS_FILE. Never throws.
void append_event(const nlohmann::json& event) noexcept;

// The line append_event() writes for `event` at unix time `t` by `pid`,
// newline included. Throws Error(InvalidArgument) when `event` is not an object.
std::string event_line(const nlohmann::json& event, double t, long pid);

// Wall-clock unix seconds now, rounded to microseconds: the clock of "t".
double unix_seconds();

class EventLog {
 public:
  // Opens (creating, mode 0644) `path` for appending; Error(Io) naming it on failure.
  explicit EventLog(std::string path);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends one line; Error(InvalidArgument) when `event` is not an object.
  void append(const nlohmann::json& event);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace myriad
