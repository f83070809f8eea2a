// Zygote: a node's fork server for Python ranks (`myriad run --preload
// MODULES`).
//
// Restarting a Python rank costs most of its recovery in importing torch
// again. With --preload, each agent starts one `python -m myriad._zygote
// MODULES...` that imports the modules once; once it is ready, the agent's
// ranks are forked from it (milliseconds) instead of exec'd. The protocol
// is in python/myriad/_zygote.py. A forked rank is made the agent's child
// (the agent becomes a child subreaper, and the zygote forks twice), so the
// supervisor waits for it, signals its session and reads its exit status as
// for an exec'd rank; it has its own session and the death signal, and its
// stdout/stderr are the supervisor's pipes.
//
// Failure is never fatal: while the zygote is importing, or after it failed
// (an import error, a bad reply, a reply that does not come within
// kZygoteReplyTimeout), the agent execs its ranks as without --preload; a
// failure is logged once and the zygote is stopped.
//
// Call from the agent's main thread (the zygote's death signal is tied to
// it); not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launcher/spawn.h"
#include "runtime/unique_fd.h"

namespace myriad::launcher {

inline constexpr std::chrono::milliseconds kZygoteReplyTimeout{10000};
// How long an agent waits for its zygote's imports before it execs its ranks.
inline constexpr std::chrono::milliseconds kZygoteImportTimeout{120000};

// Empty when ranks running `argv` can be forked from a zygote (a Python
// interpreter running a script or `-m module`); else why not.
std::string zygote_unsuitable(const std::vector<std::string>& argv);

// "torch,numpy" -> {"torch", "numpy"}; Error(InvalidArgument) naming
// --preload for an empty or malformed module name.
std::vector<std::string> parse_preload(const std::string& text);

class Zygote {
 public:
  // Starts the zygote: `python` (the ranks' interpreter) with `environ`,
  // importing `modules`; makes the calling process a child subreaper.
  // `name` prefixes its messages ("myriad agent node-0").
  static std::unique_ptr<Zygote> start(const std::string& python, const std::vector<std::string>& modules,
                                       const std::vector<std::string>& environ, std::string name);
  ~Zygote();  // stops and reaps the zygote
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  // True once the modules are imported (does not wait); false while
  // importing, and for good after a failure.
  bool ready() { return wait_ready(std::chrono::milliseconds{0}); }
  // ready(), waiting up to `timeout` while the zygote is importing.
  bool wait_ready(std::chrono::milliseconds timeout);
  // Still importing: neither ready nor failed.
  bool importing() const { return state_ == State::Importing; }
  // Gives up on the zygote (logged with `why`): the ranks are exec'd from then on.
  void fail(const std::string& why);
  // Forks a rank running request.argv with request.environ, its stdout and
  // stderr on request.stdout_fd/stderr_fd; its pid, or nullopt after a
  // failure (logged; the zygote is then stopped).
  std::optional<pid_t> fork_rank(const SpawnRequest& request);

  pid_t pid() const { return pid_; }

 private:
  Zygote(UniqueFd socket, pid_t pid, std::string name)
      : socket_(std::move(socket)), pid_(pid), name_(std::move(name)) {}
  void stop();  // closes the socket, kills and reaps the zygote

  UniqueFd socket_;
  pid_t pid_ = -1;
  std::string name_;
  enum class State { Importing, Ready, Failed } state_ = State::Importing;
};

}  // namespace myriad::launcher
