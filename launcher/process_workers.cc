#include "launcher/process_workers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "launcher/output_forwarder.h"
#include "launcher/supervisor.h"
#include "runtime/error.h"
#include "runtime/heartbeat.h"

namespace myriad::launcher {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// How long the agent waits, between rounds, for what failed ranks left behind to die.
constexpr std::chrono::milliseconds kOrphanReapTimeout{2000};

// The processes whose parent is `parent`, zombies included (read from /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (fields >> state >> ppid && ppid == parent) found.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

}  // namespace

ProcessWorkers::ProcessWorkers(const AgentOptions& options, const WorkerFiles& files, std::string name)
    : options_(options), files_(files), name_(std::move(name)) {
  if (options_.preload.empty()) return;
  // Imports once; every round waits for that (prepare) and forks its ranks from it.
  if (std::string why = zygote_unsuitable(options_.argv); !why.empty()) {
    write_all(STDERR_FILENO, fmt::format("{}: --preload ignored: {}\n", name_, why));
    return;
  }
  zygote_ = Zygote::start(options_.program_path, options_.preload,
                          compose_environ(::environ, options_.user_env), name_);
}

void ProcessWorkers::prepare(const std::function<void()>& keep_alive) {
  zygote_ready_ = false;
  if (!zygote_) return;
  const SteadyClock::time_point deadline = SteadyClock::now() + kZygoteImportTimeout;
  while (zygote_->importing()) {
    if (SteadyClock::now() >= deadline) {
      zygote_->fail(fmt::format("its imports took more than {} s", kZygoteImportTimeout.count() / 1000));
      break;
    }
    if (zygote_->wait_ready(options_.elastic.monitor_interval)) break;
    keep_alive();
  }
  zygote_ready_ = zygote_->ready();
}

elastic::WorkersEnd ProcessWorkers::run(const elastic::WorkerRound& round,
                                        const elastic::WorkerWatch& watch) {
  MYRIAD_CHECK(round.heartbeats != nullptr, "a round's workers need its heartbeat table");
  WorkerLaunch launch{.round = round.round,
                      .master = parse_host_port(round.master, "the round's master endpoint"),
                      .store = round.store,
                      .token = round.token,
                      .failures = round.failures,
                      .options = &options_,
                      .files = &files_,
                      .events_path = round.events_path,
                      .zygote = zygote_ready_ ? zygote_.get() : nullptr};
  const HeartbeatTable& heartbeats = *round.heartbeats;
  SupervisorOptions supervision{.timeout = std::chrono::milliseconds{0},
                                .grace_period = watch.grace_period,
                                .name = name_,
                                .stop_on_failure = true,
                                .monitor_interval = watch.monitor_interval,
                                .monitor = watch.monitor,
                                .abandon_after = kDefaultAbandonAfter,
                                .on_first_failure = [&](const ChildExit& failed) {
                                  if (watch.on_failure) {
                                    watch.on_failure(describe_worker_failure(launch, failed, heartbeats));
                                  }
                                }};
  Supervisor supervisor(supervision);
  int code = supervisor.run(worker_specs(launch));
  if (zygote_) reap_orphans();
  return elastic::WorkersEnd{.exit_code = code,
                             .received_signal = supervisor.received_signal(),
                             .abandoned = supervisor.abandoned()};
}

void ProcessWorkers::reap_orphans() {
  // Between rounds every child but the fork server is something a rank left
  // behind: a process of its group, sent SIGKILL with it and maybe not dead
  // yet, or one that left the group. Each is killed and reaped before the
  // next round, within a bound: an unkillable one stays, as the supervisor
  // leaves its children.
  const SteadyClock::time_point deadline = SteadyClock::now() + kOrphanReapTimeout;
  for (;;) {
    std::vector<pid_t> left;
    for (pid_t pid : children_of(::getpid())) {
      if (pid == zygote_->pid()) continue;  // the fork server's end is Zygote's to reap
      if (::waitpid(pid, nullptr, WNOHANG) != pid) left.push_back(pid);
    }
    if (left.empty() || SteadyClock::now() >= deadline) return;
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
}

}  // namespace myriad::launcher
