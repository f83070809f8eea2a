// The elastic defaults are defined once, in elastic/: the flags of `myriad
// run`/`myriad agent`, the options structs and the documented MYRIAD_*
// default all read the same constants (a default changed in one place
// used to leave the others behind).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "elastic/agent.h"
#include "launcher/elastic_flags.h"
#include "launcher/run_plan.h"
#include "launcher/supervisor.h"
#include "runtime/config.h"

namespace myriad::launcher {
namespace {

using namespace std::chrono_literals;

TEST(ElasticDefaults, DurationFlagTextParsesBackExactly) {
  EXPECT_EQ(duration_flag(600s), "600s");
  EXPECT_EQ(duration_flag(500ms), "500ms");
  EXPECT_EQ(duration_flag(1500ms), "1500ms");
  EXPECT_EQ(duration_flag(0ms), "0s");
  for (std::chrono::milliseconds d :
       {elastic::kDefaultMonitorInterval, elastic::kDefaultJoinTimeout, elastic::kDefaultLastCall,
        elastic::kDefaultNodeCooldown, elastic::kDefaultGracePeriod, elastic::kDefaultHeartbeatTimeout,
        1500ms}) {
    EXPECT_EQ(config::parse_duration(duration_flag(d), "test"), d) << duration_flag(d);
  }
}

TEST(ElasticDefaults, FlagsGiveTheElasticServicesDefaults) {
  ::unsetenv("MYRIAD_HEARTBEAT_TIMEOUT");
  ElasticTimes times = elastic_times(ElasticFlags{});
  EXPECT_EQ(times.monitor_interval, elastic::kDefaultMonitorInterval);
  EXPECT_EQ(times.heartbeat_timeout, elastic::kDefaultHeartbeatTimeout);
  EXPECT_EQ(times.join_timeout, elastic::kDefaultJoinTimeout);
  EXPECT_EQ(times.last_call, elastic::kDefaultLastCall);
  EXPECT_EQ(times.node_cooldown, elastic::kDefaultNodeCooldown);
  EXPECT_EQ(config::parse_duration(RunOptions{}.grace_period, "--grace-period"),
            elastic::kDefaultGracePeriod);
  EXPECT_EQ(SupervisorOptions{}.grace_period, elastic::kDefaultGracePeriod);
}

TEST(ElasticDefaults, OptionsStructsAgreeWithTheRendezvousAndThePolicy) {
  elastic::AgentOptions agent;
  elastic::RendezvousOptions rdzv;
  elastic::RestartPolicyOptions policy;
  EXPECT_EQ(agent.join_timeout, rdzv.join_timeout);
  EXPECT_EQ(agent.last_call, rdzv.last_call);
  EXPECT_EQ(agent.lease_timeout, rdzv.lease_timeout);
  EXPECT_EQ(agent.cooldown, policy.cooldown);
  EXPECT_EQ(agent.grace_period, elastic::kDefaultGracePeriod);
}

TEST(ElasticDefaults, TheDocumentedHeartbeatTimeoutIsTheAgentsDefault) {
  bool found = false;
  for (const config::Variable& variable : config::variables()) {
    if (variable.name != "MYRIAD_HEARTBEAT_TIMEOUT") continue;
    found = true;
    EXPECT_EQ(config::parse_duration(variable.default_value, variable.name),
              elastic::kDefaultHeartbeatTimeout);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace myriad::launcher
