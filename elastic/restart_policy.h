// RestartPolicy: what a node's agent does when a round ends — restart,
// sit out a cooldown, or end the job — as a pure state machine.
//
// The agent (elastic/agent.h) tells the policy what happened (a round
// formed, a step was made, a failure was seen, the round ended and why) and
// does what the returned Decision says: it reads the store, sleeps and
// publishes outcomes itself. The policy holds no store, never sleeps, and
// reads time only through the clock it is given, so every rule is a unit
// test with a fake clock (tests/elastic/restart_policy_test.cc).
//
// The rules, in the order they are applied to a failed round:
//   1. failures (the job-wide count, this one included) above max_restarts:
//      the job ends with the root cause's exit code;
//   2. the same failure as the previous failed round (same_failure()), with
//      no training step since: a bug in the script, not the machine; the
//      job ends;
//   3. otherwise every agent restarts in a new round. A node whose ranks
//      caused the failure counts it (when the others could go on without
//      it: the round had more than min_nodes members); from its
//      cooldown_after_failures-th such failure it sits out `cooldown`
//      before rejoining, doubled with each further failure, at most
//      max_cooldown_doublings times (the cap).
// A membership change (a node joins) is not a failure: every agent rejoins
// and nothing is counted. A job closed by another agent ends this one with
// that outcome's exit code.
//
// Thread-safety: none; one policy belongs to one agent's main loop. Methods
// throw only Error(Internal), for a call in a state it is not meant for (a
// bug in the agent, not a fault); the policy is then unchanged.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace myriad::elastic {

// The first cooldown of a node whose ranks failed twice; it doubles with each further failure.
inline constexpr std::chrono::milliseconds kDefaultNodeCooldown{10'000};
// From this many failures of its own ranks a node sits out before it rejoins.
inline constexpr int kDefaultCooldownAfterFailures = 2;
// The cooldown's cap: it doubles at most this often (10 s grows to 640 s at most by default).
inline constexpr int kDefaultMaxCooldownDoublings = 6;

// Where an agent stands. Terminal states: Succeeded, Failed.
enum class AgentState {
  Init,       // not in a round: joining the first one, or rejoining after a restart decision
  Healthy,    // in a round; its workers run
  Unhealthy,  // a failure was seen in the round (here or elsewhere); workers stop, decision pending
  Stopped,    // the round ended without a failure (a membership change): rejoin, nothing counted
  Waiting,    // this node's workers all succeeded; waiting for the other members' (a failure still restarts)
  CoolingDown,  // this node's ranks failed again and again: it sits out until cooldown_until()
  Succeeded,    // the job succeeded (every member's workers exited 0)
  Failed,       // the job ended with a failure: given up here, or closed by another agent
};

// "Healthy", "CoolingDown", ...: the state's name, for logs and tests.
const char* state_name(AgentState state);

struct RestartPolicyOptions {
  std::string node_id;  // this agent's node: a root cause naming it is this node's failure
  int min_nodes = 1;
  int max_restarts = 0;
  std::chrono::milliseconds cooldown = kDefaultNodeCooldown;
  int cooldown_after_failures = kDefaultCooldownAfterFailures;
  int max_cooldown_doublings = kDefaultMaxCooldownDoublings;
};

enum class Action {
  Rejoin,    // join the next round now
  CoolDown,  // sit out Decision::cooldown (until the clock passes cooldown_until()), then rejoin
  Exit,      // the job is over: exit with Decision::exit_code
};

struct Decision {
  Action action = Action::Rejoin;
  int exit_code = 0;  // Exit
  // Exit decided here: the outcome to publish (close_job; the first outcome
  // published wins, so the agent exits with the published one's code).
  std::optional<nlohmann::json> outcome;
  std::chrono::milliseconds cooldown{0};  // CoolDown
  int own_failures = 0;                   // failures this node's ranks caused so far
};

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  // `now` is the only source of time; it must not be empty.
  RestartPolicy(RestartPolicyOptions options, std::function<Clock::time_point()> now);

  AgentState state() const { return state_; }
  const RestartPolicyOptions& options() const { return options_; }

  // A round formed with `members` nodes: Healthy. Only from Init or Stopped
  // (a cooling node calls may_join() first).
  void round_formed(int64_t generation, int members);
  // A worker of this round reported a training step: the next failure is not
  // "right after a restart".
  void progressed();
  // A failure was seen while the round runs: Unhealthy.
  void failure_seen();
  // This node's workers all succeeded: Waiting.
  void workers_succeeded();

  // Every member's workers succeeded: Succeeded, exit 0, outcome published.
  Decision job_succeeded();
  // Another agent published the job's outcome: Succeeded (code 0) or Failed.
  Decision job_closed(int exit_code);
  // The round ended for a membership change: Stopped, rejoin.
  Decision membership_changed();
  // The round ended with `root` (the round's first failure report: "code",
  // "node", "cause", ...), the job's `failures` so far including it.
  Decision round_failed(const nlohmann::json& root, int64_t failures);

  // Whether the agent may join a round now: true in Init and Stopped; in
  // CoolingDown once the clock reaches cooldown_until() (the state is then Init).
  bool may_join();
  Clock::time_point cooldown_until() const { return cooldown_until_; }
  int own_failures() const { return own_failures_; }

 private:
  Decision rejoin() const;
  Decision end_job(AgentState state, int exit_code, std::optional<nlohmann::json> outcome);

  RestartPolicyOptions options_;
  std::function<Clock::time_point()> now_;
  AgentState state_ = AgentState::Init;
  int members_ = 0;
  // The previous failed round's root cause and whether a step was made since: tells a bug from a fault.
  std::optional<nlohmann::json> previous_root_;
  bool progressed_ = false;
  int own_failures_ = 0;
  Clock::time_point cooldown_until_{};
};

// Whether two failure records (the JSON a rank's failure is published as)
// are the same fault repeating: both exits (never a signal, a hang or a
// lost node, which come from outside the script) with the same exit code,
// the same error text (the error file's message, else the last stderr
// line) and the same step. The rank is not compared: when every rank
// raises, which one is reported first is a race.
bool same_failure(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace myriad::elastic
