// EtcdStore beyond the Store contract (store_test.cc runs that against one
// member): addresses, a cluster that cannot be reached, and a 3-member
// cluster that loses its leader under load: no operation is lost or
// applied twice, and a waiter is woken by a write made after the loss.
#include "runtime/etcd_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/store_address.h"
#include "tests/harness/error_of.h"
#include "tests/harness/etcd_cluster.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kPatience = 60s;

using test::error_of;

TEST(EtcdAddressTest, ParsesEndpointsAndNamespace) {
  EtcdStoreOptions options = parse_etcd_address("etcd://a:2379,10.0.0.2:2380/jobs/x/", "--rdzv-endpoint");
  ASSERT_EQ(options.endpoints.size(), 2u);
  EXPECT_EQ(options.endpoints[0].to_string(), "a:2379");
  EXPECT_EQ(options.endpoints[1].to_string(), "10.0.0.2:2380");
  EXPECT_EQ(options.ns, "jobs/x");
  EXPECT_EQ(etcd_address(options), "etcd://a:2379,10.0.0.2:2380/jobs/x");
  EXPECT_EQ(parse_etcd_address("etcd://h:1", "x").ns, "myriad");
  EXPECT_TRUE(is_etcd_address("etcd://h:1"));
  EXPECT_FALSE(is_etcd_address("h:1"));
  EXPECT_EQ(store_host("etcd://node7:2379,node8:2379", "x"), "node7");
  EXPECT_EQ(store_host("node9:29400", "x"), "node9");
}

TEST(EtcdAddressTest, BadAddressesNameTheFlag) {
  for (std::string_view bad :
       {"etcd://", "etcd:///ns", "etcd://a:1,", "etcd://a:1,,b:2", "etcd://a", "http://a:1"}) {
    Error e = error_of([&] { parse_etcd_address(bad, "--rdzv-endpoint"); });
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << bad;
    EXPECT_NE(e.message().find("--rdzv-endpoint"), std::string::npos) << e.message();
  }
  EXPECT_EQ(error_of([&] { check_store_address("etcd://a:x", "MYRIAD_STORE"); }).code(),
            ErrorCode::InvalidArgument);
}

TEST(EtcdStoreTest, NoMemberAnsweringIsUnavailableNamingTheEndpoints) {
  // Ports 1 and 2 on loopback: nothing listens there.
  EtcdStoreOptions options = parse_etcd_address("etcd://127.0.0.1:1,127.0.0.1:2/t", "test");
  options.connect_timeout = 300ms;
  EtcdStore store(options);
  auto start = std::chrono::steady_clock::now();
  Error e = error_of([&] { store.set("k", "v"); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(e.code(), ErrorCode::Unavailable) << e.message();
  EXPECT_NE(e.message().find("etcd://127.0.0.1:1,127.0.0.1:2"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("'k'"), std::string::npos) << e.message();
}

class EtcdClusterTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string why = test::EtcdCluster::unavailable();
    if (!why.empty()) GTEST_SKIP() << "no etcd here: " << why;
    cluster = std::make_unique<test::EtcdCluster>(3);
  }
  std::shared_ptr<EtcdStore> client() {
    EtcdStoreOptions options = parse_etcd_address(cluster->address("failover"), "test");
    options.timeout = kPatience;
    options.connect_timeout = kPatience;
    options.request_timeout = 2s;
    return std::make_shared<EtcdStore>(options);
  }
  std::unique_ptr<test::EtcdCluster> cluster;
};

TEST_F(EtcdClusterTest, LosingTheLeaderLosesNoAddAndAppliesNoneTwice) {
  constexpr int kThreads = 4;
  std::vector<std::shared_ptr<EtcdStore>> clients;
  for (int t = 0; t < kThreads; ++t) clients.push_back(client());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> adds{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        int64_t last = 0;
        while (!stop) {
          int64_t value = clients[t]->add("counter", 1);
          if (value <= last) failures++;  // one client's adds only ever see the count grow
          last = value;
          adds++;
          clients[t]->set("last/" + std::to_string(t), std::to_string(value));
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "client " << t << ": " << e.what();
        failures++;
      }
    });
  }
  test::wait_until([&] { return adds.load() >= 50; }, kPatience);
  int leader = cluster->leader();
  ASSERT_GE(leader, 0) << cluster->logs();
  int64_t before = adds.load();
  cluster->kill(leader);
  ASSERT_TRUE(cluster->wait_for_leader(kPatience)) << cluster->logs();
  // The survivors go on after the election.
  EXPECT_TRUE(test::wait_until([&] { return adds.load() >= before + 50; }, kPatience)) << adds.load();
  stop = true;
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  // Every add that returned was applied exactly once.
  EXPECT_EQ(clients[0]->add("counter", 0), adds.load());
}

TEST_F(EtcdClusterTest, AWaiterIsWokenByAWriteAfterTheLeaderIsLost) {
  std::shared_ptr<EtcdStore> waiter = client();
  std::shared_ptr<EtcdStore> writer = client();
  std::atomic<bool> done{false};
  std::string seen;
  std::thread wait_thread([&] {
    seen = waiter->get("late");
    done = true;
  });
  std::this_thread::sleep_for(300ms);
  cluster->kill(cluster->leader());
  ASSERT_TRUE(cluster->wait_for_leader(kPatience)) << cluster->logs();
  EXPECT_FALSE(done.load());
  writer->set("late", "after the election");
  wait_thread.join();
  EXPECT_EQ(seen, "after the election");
}

TEST_F(EtcdClusterTest, AClusterWithoutQuorumIsUnavailableWithinTheBound) {
  EtcdStoreOptions options = parse_etcd_address(cluster->address("quorum"), "test");
  options.connect_timeout = 2s;
  options.request_timeout = 500ms;
  EtcdStore store(options);
  store.set("k", "v");
  cluster->kill(0);
  cluster->kill(1);
  auto start = std::chrono::steady_clock::now();
  Error e = error_of([&] { store.set("k", "w"); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(e.code(), ErrorCode::Unavailable) << e.message();
  EXPECT_NE(e.message().find(cluster->address("quorum")), std::string::npos) << e.message();
}

}  // namespace
}  // namespace myriad
