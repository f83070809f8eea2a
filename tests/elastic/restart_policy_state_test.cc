// The restart policy as a state machine, one decision per test, with a fake
// clock and failure records made up as the WorkerGroup would publish them:
// restart, cool down (its doubling and its cap), exclude a node only when
// the others can go on without it, give up after max_restarts, stop on a
// failure that repeats before any step, a membership change, job success
// and a job closed by another agent. The end-to-end behaviour (real
// processes through `myriad run`) is tests/elastic_launch/.
#include "elastic/restart_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "runtime/error.h"

namespace myriad::elastic {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = RestartPolicy::Clock;

// Time moves only when a test says so.
struct FakeClock {
  Clock::time_point now{Clock::duration{1'000'000'000}};
  std::function<Clock::time_point()> source() {
    return [this] { return now; };
  }
};

// A worker of `node` that exited with `code` and printed `last_line` at `step`.
json exit_failure(const std::string& node, int code, const std::string& last_line, json step = nullptr) {
  return json{{"cause", "exit"},
              {"rank", 0},
              {"node", node},
              {"code", code},
              {"signal", 0},
              {"stderr_tail", json::array({last_line})},
              {"step", std::move(step)},
              {"summary", "rank 0 exited"}};
}

json signal_failure(const std::string& node, int signal) {
  return json{{"cause", "signal"},    {"rank", 0},        {"node", node},
              {"code", 128 + signal}, {"signal", signal}, {"stderr_tail", json::array()},
              {"step", nullptr}};
}

RestartPolicyOptions options(int max_restarts, int min_nodes = 1) {
  return RestartPolicyOptions{.node_id = "node-0",
                              .min_nodes = min_nodes,
                              .max_restarts = max_restarts,
                              .cooldown = 10s,
                              .cooldown_after_failures = kDefaultCooldownAfterFailures,
                              .max_cooldown_doublings = kDefaultMaxCooldownDoublings};
}

TEST(RestartPolicyState, StartsInInitAndARoundMakesItHealthy) {
  FakeClock clock;
  RestartPolicy policy(options(0), clock.source());
  EXPECT_EQ(policy.state(), AgentState::Init);
  EXPECT_TRUE(policy.may_join());
  policy.round_formed(0, 1);
  EXPECT_EQ(policy.state(), AgentState::Healthy);
  EXPECT_STREQ(state_name(policy.state()), "Healthy");
  policy.failure_seen();
  EXPECT_EQ(policy.state(), AgentState::Unhealthy);
}

TEST(RestartPolicyState, RestartsAFailureWithinMaxRestarts) {
  FakeClock clock;
  RestartPolicy policy(options(2), clock.source());
  policy.round_formed(0, 1);
  policy.failure_seen();
  Decision first = policy.round_failed(exit_failure("node-1", 3, "boom"), 1);
  EXPECT_EQ(first.action, Action::Rejoin);
  EXPECT_FALSE(first.outcome.has_value());
  EXPECT_EQ(policy.state(), AgentState::Init);
  EXPECT_TRUE(policy.may_join());
  policy.round_formed(1, 1);
  policy.progressed();
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 3, "boom"), 2).action, Action::Rejoin);
}

TEST(RestartPolicyState, GivesUpWhenFailuresExceedMaxRestarts) {
  FakeClock clock;
  RestartPolicy policy(options(1), clock.source());
  policy.round_formed(0, 1);
  ASSERT_EQ(policy.round_failed(exit_failure("node-1", 3, "first"), 1).action, Action::Rejoin);
  policy.round_formed(1, 1);
  policy.progressed();
  Decision decision = policy.round_failed(exit_failure("node-1", 7, "second"), 2);
  EXPECT_EQ(decision.action, Action::Exit);
  EXPECT_EQ(decision.exit_code, 7);  // the root cause's code
  ASSERT_TRUE(decision.outcome.has_value());
  EXPECT_EQ((*decision.outcome)["exit_code"], 7);
  EXPECT_EQ((*decision.outcome)["root_cause"]["stderr_tail"][0], "second");
  EXPECT_NE((*decision.outcome)["reason"].get<std::string>().find("more than --max-restarts 1"),
            std::string::npos);
  EXPECT_EQ(policy.state(), AgentState::Failed);
  EXPECT_FALSE(policy.may_join());
}

TEST(RestartPolicyState, MaxRestartsZeroEndsTheJobAtTheFirstFailure) {
  FakeClock clock;
  RestartPolicy policy(options(0), clock.source());
  policy.round_formed(0, 2);
  Decision decision = policy.round_failed(signal_failure("node-1", 9), 1);
  EXPECT_EQ(decision.action, Action::Exit);
  EXPECT_EQ(decision.exit_code, 137);
}

TEST(RestartPolicyState, StopsOnTheSameFailureRepeatedBeforeAnyStep) {
  FakeClock clock;
  RestartPolicy policy(options(5), clock.source());
  policy.round_formed(0, 1);
  ASSERT_EQ(policy.round_failed(exit_failure("node-1", 1, "NameError: x"), 1).action, Action::Rejoin);
  policy.round_formed(1, 1);
  Decision decision = policy.round_failed(exit_failure("node-1", 1, "NameError: x"), 2);
  EXPECT_EQ(decision.action, Action::Exit);
  EXPECT_EQ(decision.exit_code, 1);
  ASSERT_TRUE(decision.outcome.has_value());
  EXPECT_NE((*decision.outcome)["reason"].get<std::string>().find("the same failure repeated"),
            std::string::npos);
  EXPECT_EQ(policy.state(), AgentState::Failed);
}

TEST(RestartPolicyState, RestartsTheSameFailureAgainAfterATrainingStep) {
  FakeClock clock;
  RestartPolicy policy(options(5), clock.source());
  policy.round_formed(0, 1);
  ASSERT_EQ(policy.round_failed(exit_failure("node-1", 1, "oom", 4), 1).action, Action::Rejoin);
  policy.round_formed(1, 1);
  policy.progressed();
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 1, "oom", 4), 2).action, Action::Rejoin);
  // Progress counts once: the third identical failure with no step since ends the job.
  policy.round_formed(2, 1);
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 1, "oom", 4), 3).action, Action::Exit);
}

TEST(RestartPolicyState, ADifferentFailureIsNotARepeat) {
  FakeClock clock;
  RestartPolicy policy(options(5), clock.source());
  policy.round_formed(0, 1);
  ASSERT_EQ(policy.round_failed(exit_failure("node-1", 1, "first"), 1).action, Action::Rejoin);
  policy.round_formed(1, 1);
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 2, "first"), 2).action, Action::Rejoin);
  policy.round_formed(2, 1);
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 2, "other"), 3).action, Action::Rejoin);
}

TEST(RestartPolicyState, SameFailureNeverTakesASignalOrAHangForABug) {
  EXPECT_TRUE(same_failure(exit_failure("a", 1, "x", 3), exit_failure("b", 1, "x", 3)));
  EXPECT_FALSE(same_failure(exit_failure("a", 1, "x", 3), exit_failure("a", 1, "x", 4)));
  EXPECT_FALSE(same_failure(signal_failure("a", 9), signal_failure("a", 9)));
  json hung{{"cause", "hung"}, {"code", 1}, {"node", "a"}};
  EXPECT_FALSE(same_failure(hung, hung));
  json with_error = exit_failure("a", 1, "last line");
  with_error["error"] = json{{"message", "ValueError: bad"}};
  json other_line = exit_failure("a", 1, "another line");
  other_line["error"] = json{{"message", "ValueError: bad"}};
  EXPECT_TRUE(same_failure(with_error, other_line));  // the error file's message wins over stderr
}

TEST(RestartPolicyState, ExcludesANodeFromItsSecondOwnFailureUntilTheCooldownPasses) {
  FakeClock clock;
  RestartPolicy policy(options(10), clock.source());
  policy.round_formed(0, 3);
  policy.progressed();
  Decision first = policy.round_failed(exit_failure("node-0", 1, "a"), 1);
  EXPECT_EQ(first.action, Action::Rejoin);  // the first own failure is forgiven
  EXPECT_EQ(first.own_failures, 1);
  policy.round_formed(1, 3);
  policy.progressed();
  Decision second = policy.round_failed(exit_failure("node-0", 1, "b"), 2);
  EXPECT_EQ(second.action, Action::CoolDown);
  EXPECT_EQ(second.cooldown, 10s);
  EXPECT_EQ(second.own_failures, 2);
  EXPECT_EQ(policy.state(), AgentState::CoolingDown);
  EXPECT_EQ(policy.cooldown_until(), clock.now + 10s);
  EXPECT_FALSE(policy.may_join());
  clock.now += 9999ms;
  EXPECT_FALSE(policy.may_join());
  EXPECT_THROW(policy.round_formed(2, 3), Error);  // a cooling node does not join
  clock.now += 1ms;
  EXPECT_TRUE(policy.may_join());
  EXPECT_EQ(policy.state(), AgentState::Init);
  policy.round_formed(2, 3);
  EXPECT_EQ(policy.state(), AgentState::Healthy);
}

TEST(RestartPolicyState, CooldownDoublesWithEachFailureUpToItsCap) {
  FakeClock clock;
  RestartPolicy policy(options(100), clock.source());
  std::vector<std::chrono::milliseconds> cooldowns;
  for (int failure = 1; failure <= 11; ++failure) {
    policy.round_formed(failure - 1, 2);
    policy.progressed();
    Decision decision =
        policy.round_failed(exit_failure("node-0", 1, "x" + std::to_string(failure)), failure);
    if (decision.action == Action::CoolDown) {
      cooldowns.push_back(decision.cooldown);
      clock.now += decision.cooldown;
    }
    ASSERT_TRUE(policy.may_join());
  }
  // From the 2nd failure: 10 s doubled each time, capped after 6 doublings at 640 s.
  std::vector<std::chrono::milliseconds> expected{10s, 20s, 40s, 80s, 160s, 320s, 640s, 640s, 640s, 640s};
  EXPECT_EQ(cooldowns, expected);
}

TEST(RestartPolicyState, TheCapAndTheThresholdAreOptions) {
  FakeClock clock;
  RestartPolicyOptions o = options(100);
  o.cooldown = 1s;
  o.cooldown_after_failures = 1;
  o.max_cooldown_doublings = 2;
  RestartPolicy policy(o, clock.source());
  std::vector<std::chrono::milliseconds> cooldowns;
  for (int failure = 1; failure <= 5; ++failure) {
    policy.round_formed(failure - 1, 2);
    policy.progressed();
    Decision decision = policy.round_failed(exit_failure("node-0", 1, std::to_string(failure)), failure);
    ASSERT_EQ(decision.action, Action::CoolDown);
    cooldowns.push_back(decision.cooldown);
    clock.now += decision.cooldown;
    ASSERT_TRUE(policy.may_join());
  }
  std::vector<std::chrono::milliseconds> expected{1s, 2s, 4s, 4s, 4s};
  EXPECT_EQ(cooldowns, expected);
}

TEST(RestartPolicyState, DoesNotExcludeANodeTheOthersCannotGoOnWithout) {
  FakeClock clock;
  RestartPolicy policy(options(10, /*min_nodes=*/2), clock.source());
  for (int failure = 1; failure <= 4; ++failure) {
    policy.round_formed(failure - 1, 2);  // exactly MIN members: without this node the job stalls
    policy.progressed();
    Decision decision = policy.round_failed(exit_failure("node-0", 1, std::to_string(failure)), failure);
    EXPECT_EQ(decision.action, Action::Rejoin);
    EXPECT_EQ(decision.own_failures, 0);
  }
}

TEST(RestartPolicyState, AnotherNodesFailuresDoNotCoolThisOneDown) {
  FakeClock clock;
  RestartPolicy policy(options(10), clock.source());
  for (int failure = 1; failure <= 4; ++failure) {
    policy.round_formed(failure - 1, 3);
    policy.progressed();
    Decision decision = policy.round_failed(exit_failure("node-1", 1, std::to_string(failure)), failure);
    EXPECT_EQ(decision.action, Action::Rejoin);
    EXPECT_EQ(decision.own_failures, 0);
  }
}

TEST(RestartPolicyState, AMembershipChangeIsNotAFailure) {
  FakeClock clock;
  RestartPolicy policy(options(0), clock.source());
  policy.round_formed(0, 1);
  Decision decision = policy.membership_changed();
  EXPECT_EQ(decision.action, Action::Rejoin);
  EXPECT_EQ(policy.state(), AgentState::Stopped);
  EXPECT_TRUE(policy.may_join());
  policy.round_formed(1, 2);
  EXPECT_EQ(policy.state(), AgentState::Healthy);
  // Nothing was counted: with --max-restarts 0 the first real failure still ends the job.
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 4, "x"), 1).exit_code, 4);
}

TEST(RestartPolicyState, AMembershipChangeKeepsThePreviousFailureForTheRepeatRule) {
  FakeClock clock;
  RestartPolicy policy(options(5), clock.source());
  policy.round_formed(0, 1);
  ASSERT_EQ(policy.round_failed(exit_failure("node-1", 1, "bug"), 1).action, Action::Rejoin);
  policy.round_formed(1, 1);
  policy.membership_changed();  // a node joined before any step
  policy.round_formed(2, 2);
  EXPECT_EQ(policy.round_failed(exit_failure("node-1", 1, "bug"), 2).action, Action::Exit);
}

TEST(RestartPolicyState, JobSucceedsWhenEveryMembersWorkersDid) {
  FakeClock clock;
  RestartPolicy policy(options(0), clock.source());
  policy.round_formed(0, 2);
  EXPECT_THROW(policy.job_succeeded(), Error);  // this node's own workers have not finished
  policy.workers_succeeded();
  EXPECT_EQ(policy.state(), AgentState::Waiting);
  Decision decision = policy.job_succeeded();
  EXPECT_EQ(decision.action, Action::Exit);
  EXPECT_EQ(decision.exit_code, 0);
  ASSERT_TRUE(decision.outcome.has_value());
  EXPECT_EQ((*decision.outcome)["exit_code"], 0);
  EXPECT_EQ(policy.state(), AgentState::Succeeded);
}

TEST(RestartPolicyState, AFailureWhileWaitingForPeersRestartsTheRound) {
  FakeClock clock;
  RestartPolicy policy(options(1), clock.source());
  policy.round_formed(0, 2);
  policy.workers_succeeded();
  policy.failure_seen();  // another node was lost before its ranks finished
  EXPECT_EQ(policy.state(), AgentState::Unhealthy);
  json lost{{"cause", "node_lost"}, {"node", "node-1:77"}, {"code", 1}};
  EXPECT_EQ(policy.round_failed(lost, 1).action, Action::Rejoin);
  EXPECT_EQ(policy.state(), AgentState::Init);
}

TEST(RestartPolicyState, AJobClosedElsewhereEndsThisAgentWithItsCode) {
  FakeClock clock;
  RestartPolicy failed(options(3), clock.source());
  failed.round_formed(0, 2);
  Decision decision = failed.job_closed(5);
  EXPECT_EQ(decision.action, Action::Exit);
  EXPECT_EQ(decision.exit_code, 5);
  EXPECT_FALSE(decision.outcome.has_value());  // published by whoever closed it
  EXPECT_EQ(failed.state(), AgentState::Failed);

  RestartPolicy succeeded(options(3), clock.source());
  EXPECT_EQ(succeeded.job_closed(0).exit_code, 0);  // a spare that never ran
  EXPECT_EQ(succeeded.state(), AgentState::Succeeded);
  EXPECT_THROW(succeeded.job_closed(0), Error);  // terminal
}

TEST(RestartPolicyState, AJobClosedWhileCoolingDownEndsTheCooldown) {
  FakeClock clock;
  RestartPolicyOptions o = options(10);
  o.cooldown_after_failures = 1;
  RestartPolicy policy(o, clock.source());
  policy.round_formed(0, 2);
  ASSERT_EQ(policy.round_failed(exit_failure("node-0", 1, "x"), 1).action, Action::CoolDown);
  EXPECT_EQ(policy.job_closed(0).action, Action::Exit);
  EXPECT_EQ(policy.state(), AgentState::Succeeded);
}

}  // namespace
}  // namespace myriad::elastic
