#include "runtime/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>

#include "runtime/config.h"
#include "runtime/error.h"
#include "runtime/logging.h"

namespace myriad {
namespace {

int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// Writes `line` in one write(2). Returns 0 or the errno of the failure. A
// short write (a full disk) is finished with further writes: the line may
// then be torn, which the reader tolerates, but it is never left cut short
// when the space comes back.
int write_line(int fd, const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// The rank's ledger, opened on first use. -1: not opened or unset.
std::once_flag g_open_once;
int g_fd = -1;
std::string* g_path = nullptr;  // never freed: events may be appended while the process exits
std::atomic<bool> g_warned{false};

void warn_once(const std::string& what) {
  if (!g_warned.exchange(true)) MYRIAD_LOG_WARN("events not recorded: {}", what);
}

}  // namespace

double unix_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const long micros = ts.tv_nsec / 1000;  // whole microseconds, the resolution event lines carry
  return static_cast<double>(ts.tv_sec) + static_cast<double>(micros) / 1e6;
}

std::string event_line(const nlohmann::json& event, double t, long pid) {
  if (!event.is_object()) {
    raise(ErrorCode::InvalidArgument, "event log: an event must be a JSON object, not {}", event.dump());
  }
  nlohmann::json line = event;
  if (!line.contains("t")) line["t"] = t;
  if (!line.contains("pid")) line["pid"] = pid;
  // Strings that are not UTF-8 are replaced rather than thrown on.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void append_event(const nlohmann::json& event) noexcept {
  try {
    std::call_once(g_open_once, [] {
      std::optional<std::string> path = config::get_string(Env::process(), "MYRIAD_EVENTS_FILE");
      if (!path) return;
      g_path = new std::string(*path);
      g_fd = open_for_append(*path);
      if (g_fd < 0) warn_once(fmt::format("open MYRIAD_EVENTS_FILE={}: {}", *path, std::strerror(errno)));
    });
    if (g_fd < 0) return;
    int err = write_line(g_fd, event_line(event, unix_seconds(), static_cast<long>(::getpid())));
    if (err != 0) warn_once(fmt::format("write {}: {}", *g_path, std::strerror(err)));
  } catch (const std::exception& e) {
    warn_once(e.what());
  } catch (...) {
    warn_once("unknown error");
  }
}

EventLog::EventLog(std::string path) : path_(std::move(path)), fd_(open_for_append(path_)) {
  if (!fd_.valid()) raise_errno(errno, fmt::format("event log {}: open for appending", path_));
}

void EventLog::append(const nlohmann::json& event) {
  std::string line = event_line(event, unix_seconds(), static_cast<long>(::getpid()));
  int err = write_line(fd_.fd(), line);
  if (err != 0) MYRIAD_LOG_WARN("event log {}: write: {}", path_, std::strerror(err));
}

}  // namespace myriad
