// An agent's rendezvous id and the node id read back from it: `myriad run`
// tells its own agents from agents started by hand by their node ids.
#include <gtest/gtest.h>

#include "launcher/agent.h"

namespace myriad::launcher {
namespace {

TEST(AgentId, IsTheNodeIdAndThePid) {
  EXPECT_EQ(agent_id("node-1", 4242), "node-1:4242");
}

TEST(AgentId, GivesBackItsNodeIdEvenWhenThatHoldsAColon) {
  EXPECT_EQ(agent_node(agent_id("node-1", 4242)), "node-1");
  EXPECT_EQ(agent_node(agent_id("rack2:gpu7", 17)), "rack2:gpu7");
  EXPECT_NE(agent_node(agent_id("spare", 17)), agent_node(agent_id("node-0", 17)));
}

}  // namespace
}  // namespace myriad::launcher
