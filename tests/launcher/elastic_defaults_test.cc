// The elastic defaults are defined once, in elastic/: the flags of `myriad
// run`/`myriad agent`, the options structs and the documented MYRIAD_*
// default all read the same constants (a default changed in one place
// used to leave the others behind). The typed constants of the other layers
// are checked against runtime/config.cc's table here too, where every layer
// is linked.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "checkpoint/memory_tier.h"
#include "elastic/agent.h"
#include "launcher/elastic_flags.h"
#include "launcher/run_plan.h"
#include "launcher/supervisor.h"
#include "runtime/config.h"
#include "runtime/tcp_store.h"

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

// The constants that default the options structs (for a caller that sets no
// variable) are the table's defaults of the variables that override them.
TEST(ElasticDefaults, TypedConstantsAreTheDeclaredDefaults) {
  const Env empty = Env::from_map({});
  EXPECT_EQ(config::read_duration(empty, "MYRIAD_HEARTBEAT_TIMEOUT"), elastic::kDefaultHeartbeatTimeout);
  EXPECT_EQ(config::read_duration(empty, "MYRIAD_TIMEOUT"), kStoreDefaultTimeout);
  EXPECT_EQ(config::read_duration(empty, "MYRIAD_STORE_CONNECT_TIMEOUT"), kStoreDefaultConnectTimeout);
  EXPECT_EQ(config::read_int(empty, "MYRIAD_SNAPSHOT_KEEP"), checkpoint::kDefaultSnapshotKeep);
}

}  // namespace
}  // namespace myriad::launcher
