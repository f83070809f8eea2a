#include "launcher/agent.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "checkpoint/memory_tier.h"
#include "elastic/rendezvous.h"
#include "launcher/agent_workers.h"
#include "launcher/job_files.h"
#include "launcher/output_forwarder.h"
#include "launcher/supervisor.h"
#include "launcher/zygote.h"
#include "runtime/error.h"
#include "runtime/event_log.h"
#include "runtime/heartbeat.h"
#include "runtime/logging.h"
#include "runtime/tcp_store.h"

namespace myriad::launcher {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// Step reports go to the ledger at most this often per agent (a 10-minute
// run gives a few hundred lines, enough to measure recomputed steps).
constexpr std::chrono::milliseconds kStepEventInterval{1000};
// Exit code of a job that ended for a reason no rank's code says (a hung
// rank, a lost node or store): the usual "general error".
constexpr int kGenericFailureCode = 1;
// A node is excluded from the 2nd failure its ranks cause; each further one doubles the cooldown (capped).
constexpr int kCooldownAfterFailures = 2;
constexpr int kMaxCooldownDoublings = 6;
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

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

double unix_now() {
  return unix_seconds(std::chrono::system_clock::now());
}

std::string seconds_text(std::chrono::milliseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// Why the agent's monitor stopped a round.
enum class StopKind { None, PeerFailure, LocalFailure, MembershipChange, JobEnded, StoreLost };

class Agent {
 public:
  explicit Agent(const AgentOptions& options) : options_(options) {}
  ~Agent() { remove_files(); }

  int run();

 private:
  void event(json fields);
  std::optional<std::string> monitor(const elastic::Round& round);
  std::optional<std::string> check_heartbeats(const elastic::Round& round);
  // The newest step any local rank reported (null when none has).
  json newest_step_json() const;
  void publish_failure(const elastic::Round& round, json failure);
  int wait_for_peers(const elastic::Round& round);
  // The job's exit code when it is over after this round, nullopt to go on.
  std::optional<int> decide(const elastic::Round& round);
  int end_job(int exit_code);
  // A node whose ranks fail again and again sits out a growing cooldown before it rejoins.
  void cool_down(const elastic::Round& round);
  void remove_files() noexcept;
  // Waits for the --preload fork server's imports (keeping the lease alive): a
  // rank exec'd meanwhile would import the same modules again, no sooner.
  bool zygote_ready();
  // With a fork server the agent is a child subreaper: what a rank left behind is re-parented to it.
  // Reaps those (not the fork server, which Zygote reaps).
  void reap_orphans();
  // The round's MASTER_ADDR:MASTER_PORT, free for rank 0's own store (torch's TCPStore under
  // init_process_group("gloo")). The agent of group rank 0 reserves a port for the round and publishes
  // it; the others read it. nullopt when the round ended before it was published (the failure is then
  // in the store, for decide()).
  std::optional<HostPort> round_master(const elastic::Round& round);

  AgentOptions options_;
  std::string say_name_;
  std::shared_ptr<TcpStore> store_;
  std::unique_ptr<elastic::Rendezvous> rdzv_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<HeartbeatTable> heartbeats_;
  std::unique_ptr<Zygote> zygote_;  // --preload: forks the ranks once it has imported
  WorkerFiles files_;
  // Per round.
  PortReservation master_port_;  // held by the agent of group rank 0 until the next round
  StopKind stop_kind_ = StopKind::None;
  bool first_step_seen_ = false;
  uint64_t last_step_ = 0;  // step + 1 of the newest report, 0: none
  SteadyClock::time_point last_step_event_;
  SteadyClock::time_point store_ok_at_;
  // Across rounds: the previous round's root cause, to tell a bug from a fault.
  std::optional<json> previous_root_;
  bool progressed_ = false;
  int own_failures_ = 0;  // rounds this node's ranks (or the node itself) ended
};

void Agent::event(json fields) {
  if (!events_) return;
  fields["agent"] = options_.node_id;
  events_->append(fields);
}

int Agent::run() {
  say_name_ = fmt::format("myriad agent {}", options_.node_id);
  TcpStoreOptions store_options{.host = options_.store.host,
                                .port = options_.store.port,
                                .token = options_.token,
                                .timeout = kStoreDefaultTimeout,
                                .connect_timeout = options_.store_lost_after};
  store_ = std::make_shared<TcpStore>(store_options);
  elastic::RendezvousOptions rdzv_options;
  rdzv_options.prefix =
      fmt::format("rdzv/{}/", options_.rdzv_id.empty() ? options_.run_id : options_.rdzv_id);
  rdzv_options.min_nodes = options_.min_nodes;
  rdzv_options.max_nodes = options_.max_nodes;
  rdzv_options.join_timeout = options_.join_timeout;
  rdzv_options.last_call = options_.last_call;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  elastic::AgentInfo self{.id = agent_id(options_.node_id, ::getpid()),
                          .host = host,
                          .local_world_size = options_.nproc_per_node};
  rdzv_ = std::make_unique<elastic::Rendezvous>(store_, rdzv_options, self);
  std::string events_path = options_.events_path;
  if (events_path.empty() && !options_.log_dir.empty()) events_path = options_.log_dir + "/events.jsonl";
  if (!events_path.empty()) {
    try {
      events_ = std::make_unique<EventLog>(events_path);
    } catch (const Error& e) {
      // A ledger this host cannot write (another host's directory) loses events, not the job.
      write_all(STDERR_FILENO, fmt::format("{}: no goodput ledger: {}\n", say_name_, e.what()));
      events_path.clear();
    }
  }
  files_ = make_worker_files(options_.run_id, options_.node_id);
  if (!options_.redirects.empty() || !options_.tee.empty()) {
    files_.run_log_dir =
        make_run_log_dir(options_.log_dir, options_.rdzv_id.empty() ? options_.run_id : options_.rdzv_id);
    if (options_.log_dir.empty()) {
      write_all(STDERR_FILENO,
                fmt::format("{}: ranks' log files are in {}\n", say_name_, files_.run_log_dir));
    }
  }
  event({{"event", "agent_start"}, {"pid", ::getpid()}, {"nproc", options_.nproc_per_node}});
  if (!options_.preload.empty()) {
    // Imports once; every round waits for that (zygote_ready) and forks its ranks from it.
    if (std::string why = zygote_unsuitable(options_.argv); !why.empty()) {
      write_all(STDERR_FILENO, fmt::format("{}: --preload ignored: {}\n", say_name_, why));
    } else {
      zygote_ = Zygote::start(options_.program_path, options_.preload,
                              compose_environ(::environ, options_.user_env), say_name_);
    }
  }

  while (true) {
    SteadyClock::time_point join_start = SteadyClock::now();
    elastic::Round round;
    try {
      round = rdzv_->next_round();
    } catch (const Error& e) {
      if (std::optional<json> outcome = rdzv_->job_outcome()) {
        return end_job(outcome->value("exit_code", kGenericFailureCode));
      }
      write_all(STDERR_FILENO, fmt::format("{}: rendezvous failed: {}\n", say_name_, e.what()));
      event({{"event", "failure_detected"}, {"cause", "rendezvous"}, {"detail", e.what()}});
      return kGenericFailureCode;
    }
    event({{"event", "round_formed"},
           {"generation", round.generation},
           {"world_size", round.world_size},
           {"group_rank", round.group_rank},
           {"members", static_cast<int>(round.members.size())},
           {"join_s", std::chrono::duration<double>(SteadyClock::now() - join_start).count()}});

    // The old table unlinks its file when destroyed: it goes before the new one is created at that path.
    heartbeats_.reset();
    heartbeats_ =
        std::make_unique<HeartbeatTable>(HeartbeatTable::create(files_.heartbeat, options_.nproc_per_node));
    stop_kind_ = StopKind::None;
    first_step_seen_ = false;
    last_step_ = 0;
    store_ok_at_ = SteadyClock::now();
    // Read before waiting for the master: a failure published meanwhile belongs to this round, and its
    // ranks must still see the restart count the round began with.
    int64_t failures = rdzv_->failure_count();
    std::optional<HostPort> master = round_master(round);
    if (!master) {
      if (std::optional<int> exit_code = decide(round)) return end_job(*exit_code);
      continue;
    }
    WorkerLaunch launch{.round = round,
                        .master = *master,
                        .failures = failures,
                        .options = &options_,
                        .files = &files_,
                        .events_path = events_path,
                        .zygote = zygote_ready() ? zygote_.get() : nullptr};
    SupervisorOptions supervision{.timeout = std::chrono::milliseconds{0},
                                  .grace_period = options_.grace_period,
                                  .name = say_name_,
                                  .stop_on_failure = true,
                                  .monitor_interval = options_.monitor_interval,
                                  .monitor = [this, &round] { return monitor(round); },
                                  .abandon_after = kDefaultAbandonAfter,
                                  .on_first_failure =
                                      [&](const ChildExit& failed) {
                                        // Published at once: the other nodes stop while this one does.
                                        json failure = describe_worker_failure(launch, failed, *heartbeats_);
                                        event({{"event", "failure_detected"},
                                               {"generation", round.generation},
                                               {"cause", failure["cause"]},
                                               {"rank", failure["rank"]},
                                               {"node", options_.node_id},
                                               {"fault_t", failure["fault_t"]},
                                               {"last_step", newest_step_json()},
                                               {"detail", failure["summary"]}});
                                        publish_failure(round, failure);
                                      }};
    Supervisor supervisor(supervision);
    event(
        {{"event", "workers_started"}, {"generation", round.generation}, {"ranks", options_.nproc_per_node}});
    int code = supervisor.run(worker_specs(launch));
    if (zygote_) reap_orphans();
    if (int sig = supervisor.received_signal()) {
      return end_job(128 + sig);
    }
    // The monitor samples the table once per interval: steps reported after
    // its last look (a short round) are progress too, or the restart policy
    // would take a fault that recurs after progress for a bug that repeats.
    for (int slot = 0; slot < options_.nproc_per_node; ++slot) {
      if (std::optional<uint64_t> step = heartbeats_->read(slot).step) {
        progressed_ = true;
        last_step_ = std::max(last_step_, *step + 1);
      }
    }
    event({{"event", "workers_stopped"},
           {"generation", round.generation},
           {"last_step", last_step_ == 0 ? json(nullptr) : json(last_step_ - 1)},
           {"abandoned", supervisor.abandoned()}});
    if (stop_kind_ == StopKind::StoreLost) return end_job(kGenericFailureCode);
    if (code == 0 && stop_kind_ == StopKind::None) {
      int result = wait_for_peers(round);
      if (result >= 0) return end_job(result);
    }
    if (std::optional<int> exit_code = decide(round)) return end_job(*exit_code);
  }
}

std::optional<HostPort> Agent::round_master(const elastic::Round& round) {
  master_port_ = PortReservation{};
  if (round.group_rank == 0) {
    // torch's TCPStore binds every interface: the port is reserved on all of them.
    master_port_ = reserve_port("0.0.0.0");
    HostPort master{options_.local_addr.empty() ? master_host(options_.store.host) : options_.local_addr,
                    master_port_.port};
    rdzv_->publish_master(round.generation, master.to_string());
    return master;
  }
  while (true) {
    // Published before group rank 0's ranks start; until then its agent is alive (lease) or lost.
    // A blocking get, woken by the set: no polling, one store operation per monitor interval at most.
    if (std::optional<std::string> endpoint = rdzv_->master(round.generation, options_.monitor_interval)) {
      return parse_host_port(*endpoint, "the round's master endpoint");
    }
    if (std::optional<std::string> why = monitor(round)) {
      MYRIAD_LOG_DEBUG("{}: round {} ended before its ranks started: {}", say_name_, round.generation, *why);
      return std::nullopt;
    }
  }
}

std::optional<std::string> Agent::monitor(const elastic::Round& round) {
  SteadyClock::time_point now = SteadyClock::now();
  try {
    rdzv_->keep_alive();
    if (std::optional<json> failure = rdzv_->failure(round.generation)) {
      stop_kind_ = StopKind::PeerFailure;
      return fmt::format("stopping for a failure elsewhere: {}", failure->value("summary", failure->dump()));
    }
    if (rdzv_->job_outcome()) {
      stop_kind_ = StopKind::JobEnded;
      return std::string("the job has ended");
    }
    if (rdzv_->membership_change_requested(round.generation)) {
      stop_kind_ = StopKind::MembershipChange;
      return std::string("a node is joining: restarting the workers in a new round");
    }
    std::vector<elastic::AgentInfo> lost = rdzv_->lost_members(round);
    if (!lost.empty()) {
      std::string summary =
          fmt::format("node {} ({}) is lost: its lease has not been renewed", lost[0].id, lost[0].host);
      double fault_t = unix_now() - std::chrono::duration<double>(elastic::kDefaultLeaseTimeout).count();
      event({{"event", "failure_detected"},
             {"generation", round.generation},
             {"cause", "node_lost"},
             {"node", lost[0].id},
             {"fault_t", fault_t},
             {"last_step", newest_step_json()},
             {"detail", summary}});
      publish_failure(round, json{{"cause", "node_lost"},
                                  {"node", lost[0].id},
                                  {"code", kGenericFailureCode},
                                  {"summary", summary},
                                  {"fault_t", fault_t}});
      stop_kind_ = StopKind::LocalFailure;
      return summary;
    }
    if (static_cast<int>(round.members.size()) < options_.max_nodes && rdzv_->waiting_agents() > 0) {
      rdzv_->request_membership_change(round.generation);
      event({{"event", "membership_change"},
             {"generation", round.generation},
             {"waiting", rdzv_->waiting_agents()},
             {"last_step", newest_step_json()}});
      stop_kind_ = StopKind::MembershipChange;
      return std::string("a node is waiting to join: restarting the workers in a new round");
    }
    store_ok_at_ = now;
  } catch (const Error& e) {
    if (now - store_ok_at_ >= options_.store_lost_after) {
      std::string summary = fmt::format(
          "the store at {} has been unreachable for {}: {}", options_.store.to_string(),
          seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(now - store_ok_at_)), e.what());
      event({{"event", "failure_detected"}, {"cause", "store_lost"}, {"detail", summary}});
      stop_kind_ = StopKind::StoreLost;
      return summary;
    }
  }
  return check_heartbeats(round);
}

std::optional<std::string> Agent::check_heartbeats(const elastic::Round& round) {
  uint64_t now_ns = HeartbeatTable::now_ns();
  uint64_t newest_step = 0;
  for (int slot = 0; slot < options_.nproc_per_node; ++slot) {
    HeartbeatSlot beat = heartbeats_->read(slot);
    if (beat.step) newest_step = std::max(newest_step, *beat.step + 1);
    if (!beat.has_beaten() || options_.heartbeat_timeout.count() <= 0) continue;
    uint64_t age_ns = now_ns > beat.last_beat_ns ? now_ns - beat.last_beat_ns : 0;
    if (age_ns < static_cast<uint64_t>(options_.heartbeat_timeout.count()) * 1000000ull) continue;
    int rank = round.rank_offset + slot;
    std::string summary = fmt::format("rank {} (pid {}) on {} is hung: no heartbeat for {:.1f}s (timeout {})",
                                      rank, beat.pid, options_.node_id, static_cast<double>(age_ns) / 1e9,
                                      seconds_text(options_.heartbeat_timeout));
    double fault_t = unix_now() - static_cast<double>(age_ns) / 1e9;
    event({{"event", "failure_detected"},
           {"generation", round.generation},
           {"cause", "hung"},
           {"rank", rank},
           {"node", options_.node_id},
           {"fault_t", fault_t},
           {"last_step", newest_step_json()},
           {"detail", summary}});
    publish_failure(round, json{{"cause", "hung"},
                                {"rank", rank},
                                {"node", options_.node_id},
                                {"pid", beat.pid},
                                {"code", kGenericFailureCode},
                                {"summary", summary},
                                {"fault_t", fault_t}});
    stop_kind_ = StopKind::LocalFailure;
    return summary;
  }
  if (newest_step > last_step_) {
    last_step_ = newest_step;
    SteadyClock::time_point now = SteadyClock::now();
    if (!first_step_seen_) {
      first_step_seen_ = true;
      progressed_ = true;
      last_step_event_ = now;
      event({{"event", "first_step"}, {"generation", round.generation}, {"step", newest_step - 1}});
    } else if (now - last_step_event_ >= kStepEventInterval) {
      last_step_event_ = now;
      event({{"event", "step_progress"}, {"generation", round.generation}, {"step", newest_step - 1}});
    }
  }
  return std::nullopt;
}

json Agent::newest_step_json() const {
  std::optional<uint64_t> newest;
  for (int slot = 0; heartbeats_ && slot < heartbeats_->slots(); ++slot) {
    std::optional<uint64_t> step = heartbeats_->read(slot).step;
    if (step && (!newest || *step > *newest)) newest = step;
  }
  return newest ? json(*newest) : json(nullptr);
}

void Agent::publish_failure(const elastic::Round& round, json failure) {
  failure["generation"] = round.generation;
  try {
    json root = rdzv_->report_failure(round.generation, failure);
    MYRIAD_LOG_DEBUG("{}: root cause of round {}: {}", say_name_, round.generation, root.dump());
  } catch (const Error& e) {
    write_all(STDERR_FILENO,
              fmt::format("{}: cannot publish a failure in the store: {}\n", say_name_, e.what()));
  }
}

int Agent::wait_for_peers(const elastic::Round& round) {
  // This node's workers all succeeded; the job is done when every member's
  // are, unless another node fails first (then every rank restarts).
  rdzv_->report_done(round.generation);
  SteadyClock::time_point store_ok = SteadyClock::now();
  while (true) {
    try {
      rdzv_->keep_alive();
      if (std::optional<json> outcome = rdzv_->job_outcome()) return outcome->value("exit_code", 0);
      if (rdzv_->all_done(round)) {
        rdzv_->close_job(json{{"exit_code", 0}});
        return 0;
      }
      if (rdzv_->failure(round.generation) || rdzv_->membership_change_requested(round.generation)) return -1;
      if (!rdzv_->lost_members(round).empty()) {
        // A node lost after this one finished: its ranks may not have; the survivors redo the round.
        std::vector<elastic::AgentInfo> lost = rdzv_->lost_members(round);
        publish_failure(round, json{{"cause", "node_lost"},
                                    {"node", lost[0].id},
                                    {"code", kGenericFailureCode},
                                    {"summary", fmt::format("node {} is lost", lost[0].id)}});
        return -1;
      }
      store_ok = SteadyClock::now();
    } catch (const Error& e) {
      if (SteadyClock::now() - store_ok >= options_.store_lost_after) {
        write_all(STDERR_FILENO, fmt::format("{}: the store at {} is unreachable: {}\n", say_name_,
                                             options_.store.to_string(), e.what()));
        return kGenericFailureCode;
      }
    }
    std::this_thread::sleep_for(options_.monitor_interval);
  }
}

std::optional<int> Agent::decide(const elastic::Round& round) {
  try {
    if (std::optional<json> outcome = rdzv_->job_outcome())
      return outcome->value("exit_code", kGenericFailureCode);
    std::optional<json> root = rdzv_->failure(round.generation);
    if (!root) return std::nullopt;  // a membership change: not a failure
    int code = root->value("code", kGenericFailureCode);
    // This round's count: the job-wide counter may not have the winner's increment yet.
    int64_t failures = rdzv_->failure_count(round.generation);
    if (failures > options_.max_restarts) {
      json outcome{{"exit_code", code},
                   {"root_cause", *root},
                   {"reason", fmt::format("{} failure(s), more than --max-restarts {}", failures,
                                          options_.max_restarts)}};
      rdzv_->close_job(outcome);
      return rdzv_->job_outcome().value_or(outcome).value("exit_code", code);
    }
    if (previous_root_ && !progressed_ && same_failure(*previous_root_, *root)) {
      json outcome{{"exit_code", code},
                   {"root_cause", *root},
                   {"reason",
                    "the same failure repeated right after a restart, before any training step: a bug in the "
                    "script rather than a fault of the machine; not restarting again"}};
      rdzv_->close_job(outcome);
      return rdzv_->job_outcome().value_or(outcome).value("exit_code", code);
    }
    previous_root_ = *root;
    progressed_ = false;
    // Only when the others can go on without this node: alone (or needed for MIN) it would just stall the
    // job.
    if (root->value("node", "") == options_.node_id &&
        static_cast<int>(round.members.size()) > options_.min_nodes) {
      cool_down(round);
    }
    return std::nullopt;
  } catch (const Error& e) {
    write_all(STDERR_FILENO,
              fmt::format("{}: the store is unreachable after a failure: {}\n", say_name_, e.what()));
    return kGenericFailureCode;
  }
}

void Agent::cool_down(const elastic::Round& round) {
  ++own_failures_;
  if (own_failures_ < kCooldownAfterFailures) return;
  int doublings = std::min(own_failures_ - kCooldownAfterFailures, kMaxCooldownDoublings);
  std::chrono::milliseconds cooldown = options_.cooldown * (int64_t{1} << doublings);
  write_all(STDERR_FILENO,
            fmt::format("{}: this node's ranks failed {} times; it sits out the next round(s) for {} "
                        "before it joins again\n",
                        say_name_, own_failures_, seconds_text(cooldown)));
  event({{"event", "node_excluded"},
         {"generation", round.generation},
         {"node", options_.node_id},
         {"failures", own_failures_},
         {"cooldown_s", std::chrono::duration<double>(cooldown).count()}});
  // The job may end meanwhile (the others finish or give up): then there is nothing to rejoin.
  SteadyClock::time_point until = SteadyClock::now() + cooldown;
  while (SteadyClock::now() < until) {
    try {
      if (rdzv_->job_outcome()) return;
    } catch (const Error&) {
      // A lost store is noticed by the next rendezvous.
    }
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(options_.monitor_interval, until - SteadyClock::now()));
  }
}

int Agent::end_job(int exit_code) {
  // The memory the node's snapshots held at the end: bounded by MYRIAD_SNAPSHOT_KEEP steps per rank.
  checkpoint::MemoryUsage memory = checkpoint::memory_usage(files_.snapshot_dir);
  if (memory.bytes > 0) {
    write_all(
        STDERR_FILENO,
        fmt::format("{}: checkpoint snapshots in this node's memory at the end: {} step(s) and {} replica "
                    "step(s), {:.1f} MiB\n",
                    say_name_, memory.steps, memory.replica_steps,
                    static_cast<double>(memory.bytes) / (1 << 20)));
  }
  event({{"event", "agent_end"},
         {"exit_code", exit_code},
         {"snapshot_bytes", memory.bytes},
         {"snapshot_steps", memory.steps},
         {"replica_steps", memory.replica_steps}});
  // The store's host keeps the store up until every agent that knows the outcome says so (or is lost).
  if (rdzv_->outcome_seen()) {
    try {
      rdzv_->acknowledge_outcome();
    } catch (const Error& e) {
      MYRIAD_LOG_DEBUG("{}: cannot acknowledge the job's end: {}", say_name_, e.what());
    }
  }
  return exit_code;
}

bool Agent::zygote_ready() {
  if (!zygote_) return false;
  const SteadyClock::time_point deadline = SteadyClock::now() + kZygoteImportTimeout;
  while (zygote_->importing()) {
    if (SteadyClock::now() >= deadline) {
      zygote_->fail(fmt::format("its imports took more than {} s", kZygoteImportTimeout.count() / 1000));
      break;
    }
    if (zygote_->wait_ready(options_.monitor_interval)) break;
    try {
      rdzv_->keep_alive();
    } catch (const Error&) {
      // A lost store is noticed by the round's monitor.
    }
  }
  return zygote_->ready();
}

void Agent::reap_orphans() {
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

void Agent::remove_files() noexcept {
  std::error_code ec;
  if (!files_.snapshot_dir.empty()) fs::remove_all(files_.snapshot_dir, ec);
  if (!files_.heartbeat.empty()) fs::remove(files_.heartbeat, ec);
  if (!files_.error_dir.empty()) fs::remove_all(files_.error_dir, ec);
}

}  // namespace

std::string agent_id(const std::string& node_id, pid_t pid) {
  return fmt::format("{}:{}", node_id, pid);
}

std::string agent_node(const std::string& agent_id) {
  return agent_id.substr(0, agent_id.rfind(':'));
}

int run_agent(const AgentOptions& options) {
  Supervisor::block_signals();
  Agent agent(options);
  return agent.run();
}

}  // namespace myriad::launcher
