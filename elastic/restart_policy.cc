#include "elastic/restart_policy.h"

#include <algorithm>
#include <utility>

#include "runtime/error.h"

namespace myriad::elastic {
namespace {

using nlohmann::json;

bool terminal(AgentState state) {
  return state == AgentState::Succeeded || state == AgentState::Failed;
}

// The text that tells one failure of a script from another: the error file's message, else the last
// stderr line.
std::string error_text(const json& failure) {
  if (failure.contains("error") && failure["error"].is_object()) return failure["error"].value("message", "");
  if (failure.contains("stderr_tail") && failure["stderr_tail"].is_array() &&
      !failure["stderr_tail"].empty() && failure["stderr_tail"].back().is_string()) {
    return failure["stderr_tail"].back().get<std::string>();
  }
  return std::string();
}

}  // namespace

const char* state_name(AgentState state) {
  switch (state) {
    case AgentState::Init: return "Init";
    case AgentState::Healthy: return "Healthy";
    case AgentState::Unhealthy: return "Unhealthy";
    case AgentState::Stopped: return "Stopped";
    case AgentState::Waiting: return "Waiting";
    case AgentState::CoolingDown: return "CoolingDown";
    case AgentState::Succeeded: return "Succeeded";
    case AgentState::Failed: return "Failed";
  }
  return "unknown";
}

RestartPolicy::RestartPolicy(RestartPolicyOptions options, std::function<Clock::time_point()> now)
    : options_(std::move(options)), now_(std::move(now)) {
  MYRIAD_CHECK(now_ != nullptr, "a RestartPolicy needs a clock");
  MYRIAD_CHECK(options_.cooldown_after_failures >= 1 && options_.max_cooldown_doublings >= 0,
               "cooldown after {} failure(s), {} doubling(s)", options_.cooldown_after_failures,
               options_.max_cooldown_doublings);
}

void RestartPolicy::round_formed(int64_t generation, int members) {
  MYRIAD_CHECK(state_ == AgentState::Init || state_ == AgentState::Stopped,
               "round {} formed while the agent is {}", generation, state_name(state_));
  members_ = members;
  state_ = AgentState::Healthy;
}

void RestartPolicy::progressed() {
  progressed_ = true;
}

void RestartPolicy::failure_seen() {
  MYRIAD_CHECK(
      state_ == AgentState::Healthy || state_ == AgentState::Unhealthy || state_ == AgentState::Waiting,
      "a failure seen while the agent is {}", state_name(state_));
  state_ = AgentState::Unhealthy;
}

void RestartPolicy::workers_succeeded() {
  MYRIAD_CHECK(state_ == AgentState::Healthy, "workers succeeded while the agent is {}", state_name(state_));
  state_ = AgentState::Waiting;
}

Decision RestartPolicy::rejoin() const {
  Decision decision;
  decision.own_failures = own_failures_;
  return decision;
}

Decision RestartPolicy::end_job(AgentState state, int exit_code, std::optional<json> outcome) {
  state_ = state;
  return Decision{.action = Action::Exit,
                  .exit_code = exit_code,
                  .outcome = std::move(outcome),
                  .cooldown = std::chrono::milliseconds{0},
                  .own_failures = own_failures_};
}

Decision RestartPolicy::job_succeeded() {
  MYRIAD_CHECK(state_ == AgentState::Waiting, "the job succeeded while the agent is {}", state_name(state_));
  return end_job(AgentState::Succeeded, 0, json{{"exit_code", 0}});
}

Decision RestartPolicy::job_closed(int exit_code) {
  MYRIAD_CHECK(!terminal(state_), "the job closed while the agent is {}", state_name(state_));
  return end_job(exit_code == 0 ? AgentState::Succeeded : AgentState::Failed, exit_code, std::nullopt);
}

Decision RestartPolicy::membership_changed() {
  MYRIAD_CHECK(!terminal(state_) && state_ != AgentState::CoolingDown,
               "a membership change while the agent is {}", state_name(state_));
  state_ = AgentState::Stopped;
  return rejoin();
}

Decision RestartPolicy::round_failed(const json& root, int64_t failures) {
  MYRIAD_CHECK(
      state_ == AgentState::Healthy || state_ == AgentState::Unhealthy || state_ == AgentState::Waiting,
      "a failed round while the agent is {}", state_name(state_));
  state_ = AgentState::Unhealthy;
  int code = root.value("code", 1);
  if (failures > options_.max_restarts) {
    return end_job(AgentState::Failed, code,
                   json{{"exit_code", code},
                        {"root_cause", root},
                        {"reason", fmt::format("{} failure(s), more than --max-restarts {}", failures,
                                               options_.max_restarts)}});
  }
  if (previous_root_ && !progressed_ && same_failure(*previous_root_, root)) {
    return end_job(
        AgentState::Failed, code,
        json{{"exit_code", code},
             {"root_cause", root},
             {"reason",
              "the same failure repeated right after a restart, before any training step: a bug in "
              "the script rather than a fault of the machine; not restarting again"}});
  }
  previous_root_ = root;
  progressed_ = false;
  // Only when the others can go on without this node: alone (or needed for MIN) it would just stall the job.
  if (root.value("node", "") != options_.node_id || members_ <= options_.min_nodes) {
    state_ = AgentState::Init;
    return rejoin();
  }
  ++own_failures_;
  if (own_failures_ < options_.cooldown_after_failures) {
    state_ = AgentState::Init;
    return rejoin();
  }
  int doublings = std::min(own_failures_ - options_.cooldown_after_failures, options_.max_cooldown_doublings);
  std::chrono::milliseconds cooldown = options_.cooldown * (int64_t{1} << doublings);
  cooldown_until_ = now_() + cooldown;
  state_ = AgentState::CoolingDown;
  Decision decision = rejoin();
  decision.action = Action::CoolDown;
  decision.cooldown = cooldown;
  return decision;
}

bool RestartPolicy::may_join() {
  if (state_ == AgentState::CoolingDown && now_() >= cooldown_until_) state_ = AgentState::Init;
  return state_ == AgentState::Init || state_ == AgentState::Stopped;
}

bool same_failure(const json& a, const json& b) {
  if (a.value("cause", "") != "exit" || b.value("cause", "") != "exit") return false;
  return a.value("code", -1) == b.value("code", -1) && error_text(a) == error_text(b) &&
         a.value("step", json(nullptr)) == b.value("step", json(nullptr));
}

}  // namespace myriad::elastic
