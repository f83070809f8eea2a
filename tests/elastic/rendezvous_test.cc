// Rendezvous rounds through a real TcpStore served by a child process, with
// every agent a forked process (threads where a test counts store operations
// at dozens of agents): MIN:MAX formation, ranks that follow the
// documented order, a spare that takes a failed agent's place while the
// survivors keep their order, the join timeout's message, a SIGKILLed
// agent's lease, the first failure report winning, close_job releasing
// a spare, and the store's host waiting for live agents to see the end. Agents report what they saw through
// the store (result/<agent>); the parent checks it. No test asserts a time: the short timeouts only keep the
// suite quick.
#include "elastic/rendezvous.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "runtime/counting_store.h"
#include "runtime/error.h"
#include "runtime/tcp_store.h"
#include "tests/harness/process.h"
#include "tests/harness/store_process.h"

namespace myriad::elastic {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "rendezvous-test-token";
constexpr std::chrono::milliseconds kPatience = 30s;
const std::string kPrefix = "rdzv/test/";

std::shared_ptr<Store> connect(uint16_t port) {
  return std::make_shared<TcpStore>(
      TcpStoreOptions{.port = port, .token = kToken, .timeout = kPatience, .connect_timeout = kPatience});
}

RendezvousOptions options(int min_nodes, int max_nodes) {
  return RendezvousOptions{.prefix = kPrefix,
                           .min_nodes = min_nodes,
                           .max_nodes = max_nodes,
                           .join_timeout = kPatience,
                           .last_call = 200ms,
                           .lease_timeout = 1s,
                           .poll_interval = 20ms};
}

AgentInfo agent(int n, int local_world_size = 2) {
  return AgentInfo{.id = "agent-" + std::to_string(n),
                   .host = "host" + std::to_string(n),
                   .local_world_size = local_world_size};
}

// How many agents SIGKILLed themselves; every other one must have exited 0.
int killed_and_others_succeeded(const test::RanksResult& agents) {
  int killed = 0;
  for (const test::ExitStatus& status : agents.ranks) {
    if (!status.exited && status.signal == SIGKILL) {
      ++killed;
    } else {
      EXPECT_TRUE(status.exited && status.code == 0) << agents.describe();
    }
  }
  return killed;
}

json round_json(const Round& round) {
  json members = json::array();
  for (const AgentInfo& a : round.members) members.push_back(a.id);
  return json{{"generation", round.generation},
              {"members", members},
              {"group_rank", round.group_rank},
              {"world_size", round.world_size},
              {"rank_offset", round.rank_offset}};
}

void put(Store& store, const std::string& name, const json& value) {
  store.set("result/" + name, value.dump());
}
json result(Store& store, const std::string& name) {
  return json::parse(store.get("result/" + name, kPatience));
}

// Ranks follow group order: each member's offset is the sum of the
// local_world_size of the members before it.
void expect_consistent(const std::vector<json>& rounds, const std::map<std::string, int>& local_sizes) {
  ASSERT_FALSE(rounds.empty());
  const json& members = rounds[0]["members"];
  int world = 0;
  for (const json& id : members) world += local_sizes.at(id.get<std::string>());
  for (const json& r : rounds) {
    EXPECT_EQ(r["members"], members);
    EXPECT_EQ(r["world_size"].get<int>(), world);
    int offset = 0;
    for (int i = 0; i < r["group_rank"].get<int>(); ++i)
      offset += local_sizes.at(members[i].get<std::string>());
    EXPECT_EQ(r["rank_offset"].get<int>(), offset) << r.dump();
  }
}

TEST(Rendezvous, FormsOneRoundBetweenMinAndMaxWithRanksInGroupOrder) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(3, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(2, 4), agent(n, n + 1));
    put(*store, std::to_string(n), round_json(rdzv.next_round()));
    return 0;
  });
  ASSERT_TRUE(agents.all_succeeded()) << agents.describe();
  auto store = connect(port);
  std::vector<json> rounds;
  std::set<int> group_ranks;
  for (int n = 0; n < 3; ++n) {
    rounds.push_back(result(*store, std::to_string(n)));
    EXPECT_EQ(rounds.back()["generation"], 0);
    group_ranks.insert(rounds.back()["group_rank"].get<int>());
  }
  EXPECT_EQ(group_ranks, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(rounds[0]["members"].size(), 3u);
  expect_consistent(rounds, {{"agent-0", 1}, {"agent-1", 2}, {"agent-2", 3}});
}

// torchrun's static rendezvous: each node names its group rank (--node-rank)
// and gets it, whatever order the nodes arrive in (here 0, 1, 2 asking for
// 2, 0, 1); a node that names none follows them.
TEST(Rendezvous, NodesThatAskForAGroupRankGetItWhateverTheirArrival) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  const int asked[] = {2, 0, 1, -1};
  test::RanksResult agents = test::fork_ranks(4, [&](int n) {
    auto store = connect(port);
    AgentInfo self = agent(n, 1);
    self.node_rank = asked[n];
    Rendezvous rdzv(store, options(4, 4), self);
    // Arrive in index order: each waits for the tickets of those before it.
    if (!test::wait_until([&] { return store->add(kPrefix + "g0/tickets", 0) >= n; }, kPatience)) return 2;
    put(*store, std::to_string(n), round_json(rdzv.next_round()));
    return 0;
  });
  ASSERT_TRUE(agents.all_succeeded()) << agents.describe();
  auto store = connect(port);
  std::vector<json> rounds;
  for (int n = 0; n < 4; ++n) {
    rounds.push_back(result(*store, std::to_string(n)));
    EXPECT_EQ(rounds.back()["group_rank"].get<int>(), n < 3 ? asked[n] : 3) << rounds.back().dump();
  }
  EXPECT_EQ(rounds[0]["members"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"agent-1", "agent-2", "agent-0", "agent-3"}));
  expect_consistent(rounds, {{"agent-0", 1}, {"agent-1", 1}, {"agent-2", 1}, {"agent-3", 1}});
}

// Round 0: agents 0, 1, 2 (MIN = MAX = 3), then agent 3 arrives and waits as
// a spare. The member at group rank 1 fails; round 1 is the two survivors in
// their old order, then the spare, even though the survivor that was first
// arrives last.
TEST(Rendezvous, ASpareTakesTheFailedPlaceAndSurvivorsKeepTheirOrder) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(4, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(3, 3), agent(n));
    if (n == 3) store->wait({kPrefix + "g0/members"}, kPatience);  // the spare comes after round 0 formed
    Round first = rdzv.next_round();
    put(*store, fmt::format("{}/first", n), round_json(first));
    if (n == 3) return first.generation == 1 ? 0 : 1;  // it waited through round 0
    if (first.group_rank == 1) {
      rdzv.report_failure(0, json{{"cause", "exit"}, {"rank", 2}});
      return 0;
    }
    if (!test::wait_until([&] { return rdzv.failure(0).has_value(); }, kPatience)) return 2;
    // The first survivor rejoins only once the others have.
    if (first.group_rank == 0) {
      if (!test::wait_until([&] { return store->add(kPrefix + "g1/tickets", 0) >= 2; }, kPatience)) return 3;
    }
    put(*store, fmt::format("{}/second", n), round_json(rdzv.next_round()));
    return 0;
  });
  ASSERT_TRUE(agents.all_succeeded()) << agents.describe();
  auto store = connect(port);
  std::vector<std::string> order(3);
  int failed = -1;
  for (int n = 0; n < 3; ++n) {
    json first = result(*store, fmt::format("{}/first", n));
    EXPECT_EQ(first["generation"], 0);
    int rank = first["group_rank"].get<int>();
    order[static_cast<size_t>(rank)] = "agent-" + std::to_string(n);
    if (rank == 1) failed = n;
  }
  ASSERT_NE(failed, -1);
  std::vector<json> second;
  for (int n = 0; n < 4; ++n) {
    if (n == failed) continue;
    second.push_back(result(*store, fmt::format("{}/{}", n, n == 3 ? "first" : "second")));
    EXPECT_EQ(second.back()["generation"], 1);
  }
  std::vector<std::string> expected = {order[0], order[2], "agent-3"};
  EXPECT_EQ(second[0]["members"].get<std::vector<std::string>>(), expected);
  expect_consistent(second, {{"agent-0", 2}, {"agent-1", 2}, {"agent-2", 2}, {"agent-3", 2}});
}

TEST(Rendezvous, TooFewAgentsTimeOutNamingHowManyCameAndWereNeeded) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(2, [&](int n) {
    RendezvousOptions o = options(3, 4);
    o.join_timeout = 1s;
    Rendezvous rdzv(connect(port), o, agent(n));
    try {
      rdzv.next_round();
    } catch (const Error& e) {
      const std::string& m = e.message();
      bool named = m.find("2 of the 3 agents") != std::string::npos &&
                   m.find("generation 0") != std::string::npos && m.find("agent-0") != std::string::npos &&
                   m.find("agent-1") != std::string::npos;
      if (e.code() == ErrorCode::Timeout && named) return 0;
      std::fprintf(stderr, "agent %d: %s\n", n, e.what());
      return 2;
    }
    return 1;
  });
  EXPECT_TRUE(agents.all_succeeded()) << agents.describe();
}

// Each member watches the next one in group order: the killed agent's
// predecessor finds its lease stopped; the other survivor watches a live
// member and finds nobody.
TEST(Rendezvous, AKilledAgentsLeaseExpiresForItsWatcher) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(3, [&](int n) {
    auto store = connect(port);
    RendezvousOptions o = options(3, 3);
    o.lease_timeout = 500ms;
    Rendezvous rdzv(store, o, agent(n));
    Round round = rdzv.next_round();
    if (round.group_rank == 2) ::raise(SIGKILL);
    if (round.group_rank == 1) {
      std::vector<AgentInfo> lost;
      bool seen = test::wait_until(
          [&] {
            rdzv.keep_alive();
            lost = rdzv.lost_members(round);
            return !lost.empty();
          },
          kPatience);
      if (!seen || lost.size() != 1 || lost[0].id != round.members[2].id) return 1;
      if (!store->check({kPrefix + "lost/" + round.members[2].id})) return 2;
      store->add("result/seen", 1);
      return 0;
    }
    bool quiet = true;
    test::wait_until(
        [&] {
          rdzv.keep_alive();
          if (!rdzv.lost_members(round).empty()) quiet = false;
          return store->add("result/seen", 0) >= 1;
        },
        kPatience);
    return quiet ? 0 : 3;
  });
  EXPECT_EQ(killed_and_others_succeeded(agents), 1) << agents.describe();
}

// Members 1 and 2 of 4 die together: member 0's watch goes past the dead
// member 1 to member 2 and stops at the live member 3.
TEST(Rendezvous, AMemberWhoseWatcherDiedTooIsStillFound) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(4, [&](int n) {
    auto store = connect(port);
    RendezvousOptions o = options(4, 4);
    o.lease_timeout = 500ms;
    Rendezvous rdzv(store, o, agent(n));
    Round round = rdzv.next_round();
    if (round.group_rank == 1 || round.group_rank == 2) ::raise(SIGKILL);
    if (round.group_rank == 0) {
      std::vector<AgentInfo> lost;
      bool seen = test::wait_until(
          [&] {
            rdzv.keep_alive();
            lost = rdzv.lost_members(round);
            return lost.size() == 2;
          },
          kPatience);
      if (!seen || lost[0].id != round.members[1].id || lost[1].id != round.members[2].id) return 1;
      store->add("result/seen", 1);
      return 0;
    }
    test::wait_until(
        [&] {
          rdzv.keep_alive();
          return store->add("result/seen", 0) >= 1;
        },
        kPatience);
    return 0;
  });
  EXPECT_EQ(killed_and_others_succeeded(agents), 2) << agents.describe();
}

// Store operations one agent makes to join a round and per monitor look, at
// two sizes: they must not grow with the job. The agents are threads here
// (each with its own connection, on the same code path as a process), so
// that dozens fit the test's time.
struct RoundCost {
  int64_t max_join = 0;     // the most any agent but the closer made in next_round()
  int64_t closer_join = 0;  // the closer's (it reads every slot)
  int64_t max_monitor = 0;  // the most any agent made in keep_alive + round_over + lost_members
};

RoundCost measure_round(uint16_t port, int n) {
  std::vector<std::shared_ptr<CountingStore>> stores;
  std::vector<std::unique_ptr<Rendezvous>> agents;
  RendezvousOptions o = options(n, n);
  o.prefix = fmt::format("rdzv/cost-{}/", n);
  for (int k = 0; k < n; ++k) {
    stores.push_back(std::make_shared<CountingStore>(connect(port)));
    agents.push_back(std::make_unique<Rendezvous>(stores.back(), o, agent(k)));
  }
  std::vector<Round> rounds(static_cast<size_t>(n));
  std::vector<int64_t> join(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      auto i = static_cast<size_t>(k);
      rounds[i] = agents[i]->next_round();
      join[i] = stores[i]->operations();
    });
  }
  for (std::thread& t : threads) t.join();
  auto closer = connect(port)->get(o.prefix + "g0/closer", kPatience);
  RoundCost cost;
  for (int k = 0; k < n; ++k) {
    auto i = static_cast<size_t>(k);
    EXPECT_EQ(rounds[i].members.size(), static_cast<size_t>(n));
    int64_t& most = agents[i]->self().id == closer ? cost.closer_join : cost.max_join;
    most = std::max(most, join[i]);
    stores[i]->reset();
    agents[i]->keep_alive();
    bool over = agents[i]->round_over(0);
    EXPECT_FALSE(over);
    EXPECT_TRUE(agents[i]->lost_members(rounds[i]).empty());
    cost.max_monitor = std::max(cost.max_monitor, stores[i]->operations());
  }
  return cost;
}

TEST(Rendezvous, EachAgentsRoundCostsTheSameStoreOperationsWhateverTheJobsSize) {
  test::StoreProcess server(kToken);
  RoundCost small = measure_round(server.port(), 4);
  RoundCost large = measure_round(server.port(), 40);
  EXPECT_LE(large.max_join, small.max_join + 2) << "joining costs more in a larger job";
  EXPECT_LE(large.max_join, 16);
  EXPECT_EQ(large.max_monitor, 3);
  EXPECT_EQ(small.max_monitor, 3);
  // The closer alone reads every slot.
  EXPECT_GE(large.closer_join, 40);
}

// The closer of round g deletes the keys of round g-2: the store holds two
// rounds, however many restarts the job has had.
TEST(Rendezvous, OldRoundsAreDeleted) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(2, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(2, 2), agent(n));
    Round round = rdzv.next_round();
    for (int g = 0; g < 5; ++g) {
      if (round.generation != g) return 1;
      if (round.group_rank == 0) rdzv.report_failure(g, json{{"cause", "test"}});
      if (!test::wait_until([&] { return rdzv.round_over(g); }, kPatience)) return 2;
      round = rdzv.next_round();
    }
    return round.generation == 5 ? 0 : 3;
  });
  ASSERT_TRUE(agents.all_succeeded()) << agents.describe();
  auto store = connect(port);
  for (int g = 0; g <= 3; ++g) {
    EXPECT_FALSE(store->check({fmt::format("{}g{}/members", kPrefix, g)})) << "round " << g << " is kept";
    EXPECT_FALSE(store->check({fmt::format("{}g{}/tickets", kPrefix, g)})) << "round " << g << " is kept";
  }
  EXPECT_TRUE(store->check({fmt::format("{}g5/members", kPrefix)}));
}

TEST(Rendezvous, TheFirstFailureReportWinsAndFailuresAreCounted) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(3, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(3, 3), agent(n));
    Round round = rdzv.next_round();
    json winner = rdzv.report_failure(round.generation, json{{"cause", "exit"}, {"node", n}});
    put(*store, fmt::format("{}/winner", n), winner);
    Round next = rdzv.next_round();
    if (next.generation != 1) return 1;
    if (next.group_rank == 0) rdzv.report_failure(1, json{{"cause", "hung"}});
    if (!test::wait_until([&] { return rdzv.failure(1).has_value(); }, kPatience)) return 2;
    // The failure shows a moment before its count: the round's count waits for the winner's.
    return rdzv.failure_count(1) == 2 ? 0 : 3;
  });
  ASSERT_TRUE(agents.all_succeeded()) << agents.describe();
  auto store = connect(port);
  json winner = result(*store, "0/winner");
  EXPECT_EQ(winner["failure_count"], 1);
  EXPECT_EQ(winner["generation"], 0);
  EXPECT_EQ(winner["cause"], "exit");
  for (int n = 1; n < 3; ++n) EXPECT_EQ(result(*store, fmt::format("{}/winner", n)), winner);
}

TEST(Rendezvous, ClosingTheJobReleasesASpare) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(2, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(1, 1), agent(n));
    if (n == 1) {
      store->wait({kPrefix + "g0/members"}, kPatience);
      try {
        rdzv.next_round();
        return 1;
      } catch (const Error& e) {
        bool named = e.message().find("closed") != std::string::npos &&
                     e.message().find("agent-1") != std::string::npos;
        return e.code() == ErrorCode::Unavailable && named ? 0 : 2;
      }
    }
    Round round = rdzv.next_round();
    if (round.world_size != 2 || round.members.size() != 1) return 3;
    if (!test::wait_until([&] { return rdzv.waiting_agents() == 1; }, kPatience)) return 4;
    rdzv.report_done(0);
    if (!rdzv.all_done(round)) return 5;
    rdzv.close_job(json{{"exit_code", 0}});
    std::optional<json> outcome = rdzv.job_outcome();
    return outcome && (*outcome)["exit_code"] == 0 ? 0 : 6;
  });
  EXPECT_TRUE(agents.all_succeeded()) << agents.describe();
}

// The store's host (`myriad run`) waits, before the store goes, for every
// agent that joined and is still alive to learn the outcome: here a spare
// that looks at the store only after the host's first check. An agent the
// host saw exit (agent-1) and one killed without a word (agent-3, its lease
// stops) are not waited for.
TEST(Rendezvous, TheStoresHostWaitsForEveryLiveAgentToSeeTheEnd) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(5, [&](int n) {
    auto store = connect(port);
    if (n == 4) {  // the host
      Rendezvous host(store, options(2, 2), AgentInfo{.id = "host", .host = "", .local_world_size = 1});
      store->wait({kPrefix + "outcome"}, kPatience);
      auto exited = [](const std::string& id) { return id == "agent-1"; };
      std::vector<std::string> first = host.await_outcome_seen(0ms, exited);
      bool spare_unaware = std::find(first.begin(), first.end(), "agent-2") != first.end();
      bool exited_skipped = std::find(first.begin(), first.end(), "agent-1") == first.end();
      store->set("result/host-checked", "1");
      std::vector<std::string> rest = host.await_outcome_seen(kPatience, exited);
      put(*store, "host",
          json{{"first", first}, {"rest", rest}, {"late_seen", store->check({"result/late"})}});
      return spare_unaware && exited_skipped && rest.empty() && store->check({"result/late"}) ? 0 : 1;
    }
    Rendezvous rdzv(store, options(2, 2), agent(n));
    if (n >= 2) {  // spares: they come after round 0 formed
      store->wait({kPrefix + "g0/members"}, kPatience);
      if (n == 3) {
        std::thread joining([&] {
          try {
            rdzv.next_round();
          } catch (const Error&) {
          }
        });
        joining.detach();
        connect(port)->wait({"result/spares"}, kPatience);  // its own connection: the thread uses `store`
        ::raise(SIGKILL);
      }
      try {
        rdzv.next_round();
        return 2;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::Unavailable || !rdzv.outcome_seen()) return 3;
      }
      // Alive, but slow to say so: the host must still be waiting after its first look.
      if (!test::wait_until(
              [&] {
                rdzv.keep_alive();
                return store->check({"result/host-checked"});
              },
              kPatience))
        return 4;
      store->set("result/late", "1");
      rdzv.acknowledge_outcome();
      return 0;
    }
    Round round = rdzv.next_round();
    if (n == 1) return 0;  // exits without acknowledging: the host saw it go
    if (!test::wait_until([&] { return rdzv.waiting_agents() == 2; }, kPatience)) return 5;
    store->set("result/spares", "1");
    rdzv.close_job(json{{"exit_code", 0}});
    rdzv.acknowledge_outcome();
    return round.members.size() == 2 ? 0 : 6;
  });
  for (int n = 0; n < 5; ++n) {
    const test::ExitStatus& status = agents.ranks[static_cast<size_t>(n)];
    if (n == 3) {
      EXPECT_TRUE(!status.exited && status.signal == SIGKILL) << agents.describe();
    } else {
      EXPECT_TRUE(status.exited && status.code == 0) << agents.describe();
    }
  }
}

TEST(Rendezvous, AMembershipChangeTakesInTheWaitingAgent) {
  test::StoreProcess server(kToken);
  const uint16_t port = server.port();
  test::RanksResult agents = test::fork_ranks(2, [&](int n) {
    auto store = connect(port);
    Rendezvous rdzv(store, options(1, 2), agent(n));
    if (n == 1) store->wait({kPrefix + "g0/members"}, kPatience);  // arrives after round 0 formed
    Round round = rdzv.next_round();
    if (n == 0) {
      if (round.generation != 0) return 1;
      if (!test::wait_until([&] { return rdzv.waiting_agents() == 1; }, kPatience)) return 2;
      rdzv.request_membership_change(0);
      if (!rdzv.membership_change_requested(0) || rdzv.failure(0)) return 3;
      round = rdzv.next_round();
    }
    if (round.generation != 1 || round.members.size() != 2) return 4;
    return round.group_rank == n ? 0 : 5;  // the member of round 0 stays first
  });
  EXPECT_TRUE(agents.all_succeeded()) << agents.describe();
}

TEST(Rendezvous, BadOptionsAreInvalidArguments) {
  EXPECT_THROW(Rendezvous(connect(1), options(2, 1), agent(0)), Error);
  EXPECT_THROW(Rendezvous(connect(1), options(1, 1), AgentInfo{}), Error);
}

}  // namespace
}  // namespace myriad::elastic
