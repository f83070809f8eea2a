#include "elastic/agent.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "checkpoint/memory_tier.h"
#include "runtime/error.h"
#include "runtime/event_log.h"
#include "runtime/heartbeat.h"
#include "runtime/logging.h"
#include "runtime/net.h"
#include "runtime/tcp_store.h"

namespace myriad::elastic {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// Step reports go to the ledger at most this often per agent (a 10-minute
// run gives a few hundred lines, enough to measure recomputed steps).
constexpr std::chrono::milliseconds kStepEventInterval{1000};
// Exit code of a job that ended for a reason no rank's code says (a hung
// rank, a lost node or store): the usual "general error".
constexpr int kGenericFailureCode = 1;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string seconds_text(std::chrono::milliseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// The agent's own messages go straight to fd 2, unbuffered, like the workers' forwarded lines.
void say(const std::string& text) {
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed console loses the message, not the job
    data += n;
    left -= static_cast<size_t>(n);
  }
}

// 16 random bytes as hex: the token of a round store.
std::string random_token() {
  std::random_device device;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", device(), device(), device(), device());
}

// What a round's ranks are told to reach: rank 0's MASTER_ADDR:MASTER_PORT, and (with a round store)
// the ranks' store and its token.
struct RoundEndpoints {
  HostPort master;
  std::string store;  // empty: the job's store
  std::string token;
};

// The value publish_master() holds: "host:port", or the JSON of a round with its own store.
RoundEndpoints parse_round_endpoints(const std::string& published) {
  const char* what = "the round's master endpoint";
  if (!published.starts_with('{'))
    return RoundEndpoints{.master = parse_host_port(published, what), .store = {}, .token = {}};
  json value = json::parse(published, nullptr, false);
  if (!value.is_object() || !value.contains("master") || !value.contains("store")) {
    raise(ErrorCode::PeerFailure, "{} is not what group rank 0 publishes: '{}'", what, published);
  }
  return RoundEndpoints{.master = parse_host_port(value["master"].get<std::string>(), what),
                        .store = value["store"].get<std::string>(),
                        .token = value.value("token", "")};
}

// Why the agent's monitor stopped a round.
enum class StopKind { None, PeerFailure, LocalFailure, MembershipChange, JobEnded, StoreLost };

class Agent {
 public:
  Agent(const AgentOptions& options, std::shared_ptr<Store> store, WorkerGroup& workers)
      : options_(options),
        store_(std::move(store)),
        workers_(workers),
        policy_(RestartPolicyOptions{.node_id = options.node_id,
                                     .min_nodes = options.min_nodes,
                                     .max_restarts = options.max_restarts,
                                     .cooldown = options.cooldown},
                [] { return SteadyClock::now(); }) {}

  int run();

 private:
  void event(json fields);
  std::optional<std::string> monitor(const Round& round);
  std::optional<std::string> check_heartbeats(const Round& round);
  // The newest step any local rank reported (null when none has).
  json newest_step_json() const;
  void publish_failure(const Round& round, json failure);
  // This node's workers succeeded: waits for the other members'. The job's
  // exit code when it is over, -1 when the round must be redone.
  int wait_for_peers(const Round& round);
  // The job's exit code when it is over after this round, nullopt to go on.
  std::optional<int> decide(const Round& round);
  // Sits out the cooldown the policy decided; the job's exit code when it ended meanwhile.
  std::optional<int> cool_down(const Round& round, const Decision& decision);
  int end_job(int exit_code);
  // The round's MASTER_ADDR:MASTER_PORT, free for rank 0's own store (torch's TCPStore under
  // init_process_group("gloo")). The agent of group rank 0 reserves a port for the round and publishes
  // it; the others read it. nullopt when the round ended before it was published (the failure is then
  // in the store, for decide()).
  // With a round store (round_store), the same agent also serves the ranks' store for the round and
  // publishes its address and token beside the master endpoint.
  std::optional<RoundEndpoints> round_master(const Round& round);

  AgentOptions options_;
  std::shared_ptr<Store> store_;
  WorkerGroup& workers_;
  RestartPolicy policy_;
  std::string say_name_;
  std::string events_path_;  // the ledger actually open (empty when it could not be)
  std::unique_ptr<Rendezvous> rdzv_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<HeartbeatTable> heartbeats_;
  // Per round.
  PortReservation master_port_;                  // held by the agent of group rank 0 until the next round
  std::unique_ptr<TcpStoreServer> round_store_;  // the ranks' store, served by group rank 0 (round_store)
  StopKind stop_kind_ = StopKind::None;
  bool first_step_seen_ = false;
  uint64_t last_step_ = 0;  // step + 1 of the newest report, 0: none
  SteadyClock::time_point last_step_event_;
  SteadyClock::time_point store_ok_at_;
};

void Agent::event(json fields) {
  if (!events_) return;
  fields["agent"] = options_.node_id;
  events_->append(fields);
}

int Agent::run() {
  say_name_ = fmt::format("myriad agent {}", options_.node_id);
  RendezvousOptions rdzv_options;
  rdzv_options.prefix = fmt::format("rdzv/{}/", options_.rdzv_id);
  rdzv_options.min_nodes = options_.min_nodes;
  rdzv_options.max_nodes = options_.max_nodes;
  rdzv_options.join_timeout = options_.join_timeout;
  rdzv_options.last_call = options_.last_call;
  rdzv_options.lease_timeout = options_.lease_timeout;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  AgentInfo self{.id = agent_id(options_.node_id, ::getpid()),
                 .host = host,
                 .local_world_size = options_.nproc_per_node,
                 .node_rank = options_.node_rank};
  rdzv_ = std::make_unique<Rendezvous>(store_, rdzv_options, self);
  if (!options_.events_path.empty()) {
    try {
      events_ = std::make_unique<EventLog>(options_.events_path);
      events_path_ = options_.events_path;
    } catch (const Error& e) {
      // A ledger this host cannot write (another host's directory) loses events, not the job.
      say(fmt::format("{}: no goodput ledger: {}\n", say_name_, e.what()));
    }
  }
  event({{"event", "agent_start"}, {"pid", ::getpid()}, {"nproc", options_.nproc_per_node}});

  while (true) {
    SteadyClock::time_point join_start = SteadyClock::now();
    Round round;
    try {
      round = rdzv_->next_round();
    } catch (const Error& e) {
      if (std::optional<json> outcome = rdzv_->job_outcome()) {
        return end_job(policy_.job_closed(outcome->value("exit_code", kGenericFailureCode)).exit_code);
      }
      say(fmt::format("{}: rendezvous failed: {}\n", say_name_, e.what()));
      event({{"event", "failure_detected"}, {"cause", "rendezvous"}, {"detail", e.what()}});
      return kGenericFailureCode;
    }
    policy_.round_formed(round.generation, static_cast<int>(round.members.size()));
    event({{"event", "round_formed"},
           {"generation", round.generation},
           {"world_size", round.world_size},
           {"group_rank", round.group_rank},
           {"members", static_cast<int>(round.members.size())},
           {"join_s", std::chrono::duration<double>(SteadyClock::now() - join_start).count()}});

    // The old table unlinks its file when destroyed: it goes before the new one is created at that path.
    heartbeats_.reset();
    heartbeats_ = std::make_unique<HeartbeatTable>(
        HeartbeatTable::create(options_.heartbeat_file, options_.nproc_per_node));
    stop_kind_ = StopKind::None;
    first_step_seen_ = false;
    last_step_ = 0;
    store_ok_at_ = SteadyClock::now();
    // Read before waiting for the master: a failure published meanwhile belongs to this round, and its
    // ranks must still see the restart count the round began with.
    int64_t failures = rdzv_->failure_count();
    std::optional<RoundEndpoints> master = round_master(round);
    if (!master) {
      if (std::optional<int> exit_code = decide(round)) return end_job(*exit_code);
      continue;
    }
    workers_.prepare([this] {
      try {
        rdzv_->keep_alive();
      } catch (const Error&) {
        // A lost store is noticed by the round's monitor.
      }
    });
    WorkerRound launch{.round = round,
                       .master = master->master.to_string(),
                       .store = master->store,
                       .token = master->token,
                       .failures = failures,
                       .events_path = events_path_,
                       .heartbeats = heartbeats_.get()};
    WorkerWatch watch{.grace_period = options_.grace_period,
                      .monitor_interval = options_.monitor_interval,
                      .monitor = [this, &round] { return monitor(round); },
                      .on_failure =
                          [this, &round](const json& failure) {
                            // Published at once: the other nodes stop while this one does.
                            policy_.failure_seen();
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
    event(
        {{"event", "workers_started"}, {"generation", round.generation}, {"ranks", options_.nproc_per_node}});
    WorkersEnd end = workers_.run(launch, watch);
    if (end.received_signal != 0) return end_job(128 + end.received_signal);
    // The monitor samples the table once per interval: steps reported after
    // its last look (a short round) are progress too, or the restart policy
    // would take a fault that recurs after progress for a bug that repeats.
    for (int slot = 0; slot < options_.nproc_per_node; ++slot) {
      if (std::optional<uint64_t> step = heartbeats_->read(slot).step) {
        policy_.progressed();
        last_step_ = std::max(last_step_, *step + 1);
      }
    }
    event({{"event", "workers_stopped"},
           {"generation", round.generation},
           {"last_step", last_step_ == 0 ? json(nullptr) : json(last_step_ - 1)},
           {"abandoned", end.abandoned}});
    if (stop_kind_ == StopKind::StoreLost) return end_job(kGenericFailureCode);
    if (end.exit_code == 0 && stop_kind_ == StopKind::None) {
      policy_.workers_succeeded();
      int result = wait_for_peers(round);
      if (result >= 0) return end_job(result);
    }
    if (std::optional<int> exit_code = decide(round)) return end_job(*exit_code);
  }
}

std::optional<RoundEndpoints> Agent::round_master(const Round& round) {
  master_port_ = PortReservation{};
  round_store_.reset();
  if (round.group_rank == 0) {
    // torch's TCPStore binds every interface: the port is reserved on all of them.
    master_port_ = reserve_port("0.0.0.0");
    RoundEndpoints endpoints{
        .master = HostPort{options_.master_host, master_port_.port}, .store = {}, .token = {}};
    if (!options_.round_store) {
      rdzv_->publish_master(round.generation, endpoints.master.to_string());
      return endpoints;
    }
    // The job's store (etcd) is for the agents; the ranks get a store of their own for the round, here.
    // A node lost with it ends the round anyway: its ranks are members.
    endpoints.token = random_token();
    const bool loopback = options_.master_host.starts_with("127.") || options_.master_host == "localhost";
    round_store_ = std::make_unique<TcpStoreServer>(TcpStoreServerOptions{
        .host = loopback ? "127.0.0.1" : "0.0.0.0", .port = 0, .token = endpoints.token});
    endpoints.store = HostPort{options_.master_host, round_store_->port()}.to_string();
    rdzv_->publish_master(
        round.generation,
        json{{"master", endpoints.master.to_string()}, {"store", endpoints.store}, {"token", endpoints.token}}
            .dump());
    return endpoints;
  }
  while (true) {
    // Published before group rank 0's ranks start; until then its agent is alive (lease) or lost.
    // A blocking get, woken by the set: no polling, one store operation per monitor interval at most.
    if (std::optional<std::string> published = rdzv_->master(round.generation, options_.monitor_interval)) {
      return parse_round_endpoints(*published);
    }
    if (std::optional<std::string> why = monitor(round)) {
      MYRIAD_LOG_DEBUG("{}: round {} ended before its ranks started: {}", say_name_, round.generation, *why);
      return std::nullopt;
    }
  }
}

std::optional<std::string> Agent::monitor(const Round& round) {
  SteadyClock::time_point now = SteadyClock::now();
  try {
    rdzv_->keep_alive();
    // Whatever ends a round marks it over: one check per interval, and what
    // ended it is read only then.
    if (rdzv_->round_over(round.generation)) {
      if (std::optional<json> failure = rdzv_->failure(round.generation)) {
        stop_kind_ = StopKind::PeerFailure;
        policy_.failure_seen();
        return fmt::format("stopping for a failure elsewhere: {}",
                           failure->value("summary", failure->dump()));
      }
      if (rdzv_->job_outcome()) {
        stop_kind_ = StopKind::JobEnded;
        return std::string("the job has ended");
      }
      if (rdzv_->membership_change_requested(round.generation)) {
        stop_kind_ = StopKind::MembershipChange;
        return std::string("a node is joining: restarting the workers in a new round");
      }
    }
    std::vector<AgentInfo> lost = rdzv_->lost_members(round);
    if (!lost.empty()) {
      std::string summary =
          fmt::format("node {} ({}) is lost: its lease has not been renewed", lost[0].id, lost[0].host);
      // The node stopped renewing about one lease timeout (this job's, not the default) before now.
      double fault_t = unix_now() - std::chrono::duration<double>(options_.lease_timeout).count();
      event({{"event", "failure_detected"},
             {"generation", round.generation},
             {"cause", "node_lost"},
             {"node", lost[0].id},
             {"fault_t", fault_t},
             {"last_step", newest_step_json()},
             {"detail", summary}});
      policy_.failure_seen();
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
          "the store at {} has been unreachable for {}: {}", options_.store_address,
          seconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(now - store_ok_at_)), e.what());
      event({{"event", "failure_detected"}, {"cause", "store_lost"}, {"detail", summary}});
      stop_kind_ = StopKind::StoreLost;
      return summary;
    }
  }
  return check_heartbeats(round);
}

std::optional<std::string> Agent::check_heartbeats(const Round& round) {
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
    policy_.failure_seen();
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
      policy_.progressed();
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

void Agent::publish_failure(const Round& round, json failure) {
  failure["generation"] = round.generation;
  try {
    json root = rdzv_->report_failure(round.generation, failure);
    MYRIAD_LOG_DEBUG("{}: root cause of round {}: {}", say_name_, round.generation, root.dump());
  } catch (const Error& e) {
    say(fmt::format("{}: cannot publish a failure in the store: {}\n", say_name_, e.what()));
  }
}

int Agent::wait_for_peers(const Round& round) {
  // This node's workers all succeeded; the job is done when every member's
  // are, unless another node fails first (then every rank restarts).
  rdzv_->report_done(round.generation);
  SteadyClock::time_point store_ok = SteadyClock::now();
  while (true) {
    try {
      rdzv_->keep_alive();
      if (std::optional<json> outcome = rdzv_->job_outcome()) {
        return policy_.job_closed(outcome->value("exit_code", 0)).exit_code;
      }
      if (rdzv_->all_done(round)) {
        Decision done = policy_.job_succeeded();
        rdzv_->close_job(*done.outcome);
        return done.exit_code;
      }
      if (rdzv_->failure(round.generation) || rdzv_->membership_change_requested(round.generation)) return -1;
      // Read once: lost_members() observes leases across calls, so a second call can disagree with the
      // first (a stopped agent resumed in between renews its lease) and return none.
      std::vector<AgentInfo> lost = rdzv_->lost_members(round);
      if (!lost.empty()) {
        // A node lost after this one finished: its ranks may not have; the survivors redo the round.
        policy_.failure_seen();
        publish_failure(round, json{{"cause", "node_lost"},
                                    {"node", lost[0].id},
                                    {"code", kGenericFailureCode},
                                    {"summary", fmt::format("node {} is lost", lost[0].id)}});
        return -1;
      }
      store_ok = SteadyClock::now();
    } catch (const Error& e) {
      if (SteadyClock::now() - store_ok >= options_.store_lost_after) {
        say(fmt::format("{}: the store at {} is unreachable: {}\n", say_name_, options_.store_address,
                        e.what()));
        return kGenericFailureCode;
      }
    }
    std::this_thread::sleep_for(options_.monitor_interval);
  }
}

std::optional<int> Agent::decide(const Round& round) {
  try {
    if (std::optional<json> outcome = rdzv_->job_outcome()) {
      return policy_.job_closed(outcome->value("exit_code", kGenericFailureCode)).exit_code;
    }
    std::optional<json> root = rdzv_->failure(round.generation);
    if (!root) {
      policy_.membership_changed();  // not a failure
      return std::nullopt;
    }
    // This round's count: the job-wide counter may not have the winner's increment yet.
    Decision decision = policy_.round_failed(*root, rdzv_->failure_count(round.generation));
    switch (decision.action) {
      case Action::Exit:
        // The first outcome published wins: another agent may have given up a moment before.
        rdzv_->close_job(*decision.outcome);
        return rdzv_->job_outcome().value_or(*decision.outcome).value("exit_code", decision.exit_code);
      case Action::CoolDown: return cool_down(round, decision);
      case Action::Rejoin: return std::nullopt;
    }
    return std::nullopt;
  } catch (const Error& e) {
    say(fmt::format("{}: the store is unreachable after a failure: {}\n", say_name_, e.what()));
    return kGenericFailureCode;
  }
}

std::optional<int> Agent::cool_down(const Round& round, const Decision& decision) {
  say(
      fmt::format("{}: this node's ranks failed {} times; it sits out the next round(s) for {} before it "
                  "joins again\n",
                  say_name_, decision.own_failures, seconds_text(decision.cooldown)));
  event({{"event", "node_excluded"},
         {"generation", round.generation},
         {"node", options_.node_id},
         {"failures", decision.own_failures},
         {"cooldown_s", std::chrono::duration<double>(decision.cooldown).count()}});
  // The job may end meanwhile (the others finish or give up): then there is nothing to rejoin.
  while (!policy_.may_join()) {
    try {
      if (std::optional<json> outcome = rdzv_->job_outcome()) {
        return policy_.job_closed(outcome->value("exit_code", kGenericFailureCode)).exit_code;
      }
    } catch (const Error&) {
      // A lost store is noticed by the next rendezvous.
    }
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(
        options_.monitor_interval, policy_.cooldown_until() - SteadyClock::now()));
  }
  return std::nullopt;
}

int Agent::end_job(int exit_code) {
  // The memory the node's snapshots held at the end: bounded by MYRIAD_SNAPSHOT_KEEP steps per rank.
  checkpoint::MemoryUsage memory = options_.snapshot_dir.empty()
                                       ? checkpoint::MemoryUsage{}
                                       : checkpoint::memory_usage(options_.snapshot_dir);
  if (memory.bytes > 0) {
    say(fmt::format(
        "{}: checkpoint snapshots in this node's memory at the end: {} step(s) and {} replica "
        "step(s), {:.1f} MiB\n",
        say_name_, memory.steps, memory.replica_steps, static_cast<double>(memory.bytes) / (1 << 20)));
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

}  // namespace

int run_agent(const AgentOptions& options, std::shared_ptr<Store> store, WorkerGroup& workers) {
  Agent agent(options, std::move(store), workers);
  return agent.run();
}

std::string agent_id(const std::string& node_id, pid_t pid) {
  return fmt::format("{}:{}", node_id, pid);
}

std::string agent_node(const std::string& agent_id) {
  return agent_id.substr(0, agent_id.rfind(':'));
}

}  // namespace myriad::elastic
