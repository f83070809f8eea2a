// The Store contract, checked against every implementation: MemoryStore,
// TcpStore (against a TcpStoreServer), a PrefixStore over a TcpStore and
// EtcdStore (against a real one-member etcd, skipped where etcd is not
// installed).
// Also: PrefixStore isolation, many threads at once, TcpStoreOptions::from_env.
#include "runtime/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/etcd_store.h"
#include "runtime/memory_store.h"
#include "runtime/tcp_store.h"
#include "tests/harness/error_of.h"
#include "tests/harness/etcd_cluster.h"

namespace myriad {
namespace {

using namespace std::chrono_literals;

// Long enough never to fire on a loaded machine; the tests that want a
// timeout pass a short one explicitly.
constexpr std::chrono::milliseconds kTestTimeout = 60s;
constexpr std::chrono::milliseconds kShortTimeout = 50ms;
constexpr std::string_view kToken = "store-test-token";

// Each factory makes clients of one store; make() twice gives two clients
// of the same data (for MemoryStore, the same object).
// Operations per client in the 64-client test: etcd commits every write
// through its log, so it gets a tenth of the others' (the same mix).
template <typename Factory>
constexpr int kMixedOps = 1000;

struct MemoryStoreFactory {
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>(kTestTimeout);
  std::shared_ptr<Store> make() { return store; }
};

struct TcpStoreFactory {
  std::unique_ptr<TcpStoreServer> server =
      std::make_unique<TcpStoreServer>(TcpStoreServerOptions{.token = std::string(kToken)});
  std::shared_ptr<Store> make() {
    return std::make_shared<TcpStore>(TcpStoreOptions{.port = server->port(),
                                                      .token = std::string(kToken),
                                                      .timeout = kTestTimeout,
                                                      .connect_timeout = kTestTimeout});
  }
};

struct PrefixTcpStoreFactory {
  TcpStoreFactory base;
  std::shared_ptr<Store> make() { return std::make_shared<PrefixStore>("job7", base.make()); }
};

// One etcd member for the whole program; each test gets its own namespace.
test::EtcdCluster* shared_etcd() {
  static std::unique_ptr<test::EtcdCluster> cluster =
      test::EtcdCluster::unavailable().empty() ? std::make_unique<test::EtcdCluster>(1) : nullptr;
  return cluster.get();
}

struct EtcdStoreFactory {
  std::string ns = fmt::format("store-test-{}", testing::UnitTest::GetInstance()->random_seed() + serial());
  std::shared_ptr<Store> make() {
    EtcdStoreOptions options = parse_etcd_address(shared_etcd()->address(ns), "the test cluster");
    options.timeout = kTestTimeout;
    options.connect_timeout = kTestTimeout;
    return std::make_shared<EtcdStore>(options);
  }
  static int serial() {
    static std::atomic<int> next{0};
    return next++;
  }
};
template <>
constexpr int kMixedOps<EtcdStoreFactory> = 100;

template <typename Factory>
class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    if constexpr (std::is_same_v<Factory, EtcdStoreFactory>) {
      std::string why = test::EtcdCluster::unavailable();
      if (!why.empty()) GTEST_SKIP() << "no etcd here: " << why;
    }
    factory = std::make_unique<Factory>();
    store = factory->make();
  }
  std::unique_ptr<Factory> factory;
  std::shared_ptr<Store> store;
};

using StoreKinds =
    testing::Types<MemoryStoreFactory, TcpStoreFactory, PrefixTcpStoreFactory, EtcdStoreFactory>;
TYPED_TEST_SUITE(StoreTest, StoreKinds);

using test::error_of;

TYPED_TEST(StoreTest, SetThenGet) {
  this->store->set("a", "1");
  EXPECT_EQ(this->store->get("a"), "1");
  this->store->set("a", "2");
  EXPECT_EQ(this->store->get("a", kShortTimeout), "2");
}

TYPED_TEST(StoreTest, ValuesAreBinarySafe) {
  std::string binary("x\0y\xff\0", 5);
  this->store->set("binary", binary);
  EXPECT_EQ(this->store->get("binary"), binary);
  this->store->set("empty", "");
  EXPECT_EQ(this->store->get("empty"), "");
  EXPECT_TRUE(this->store->check({"empty"}));
  std::string large(1 << 20, 'v');
  large[12345] = 'w';
  this->store->set("large", large);
  EXPECT_EQ(this->store->get("large"), large);
}

TYPED_TEST(StoreTest, GetWaitsForAnotherClientToSet) {
  std::shared_ptr<Store> writer = this->factory->make();
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    writer->set("late", "here");
  });
  EXPECT_EQ(this->store->get("late"), "here");
  setter.join();
}

TYPED_TEST(StoreTest, GetTimeoutNamesTheKeyAndTheAddress) {
  Error e = error_of([&] { this->store->get("missing-key", kShortTimeout); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_NE(e.message().find("missing-key"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(this->store->address()), std::string::npos) << e.message();
  // The store is still usable after a timeout.
  this->store->set("after", "ok");
  EXPECT_EQ(this->store->get("after"), "ok");
}

TYPED_TEST(StoreTest, AddCountsFromZeroAndStoresDecimalText) {
  EXPECT_EQ(this->store->add("counter", 5), 5);
  EXPECT_EQ(this->store->add("counter", -7), -2);
  EXPECT_EQ(this->store->add("counter", 0), -2);
  EXPECT_EQ(this->store->get("counter"), "-2");
  this->store->set("preset", "40");
  EXPECT_EQ(this->store->add("preset", 2), 42);
}

TYPED_TEST(StoreTest, AddOnANonIntegerIsInvalidArgumentAndChangesNothing) {
  this->store->set("word", "hello");
  Error e = error_of([&] { this->store->add("word", 1); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(e.message().find("word"), std::string::npos) << e.message();
  EXPECT_EQ(this->store->get("word"), "hello");
  this->store->set("big", std::to_string(INT64_MAX));
  EXPECT_EQ(error_of([&] { this->store->add("big", 1); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(this->store->add("other", 1), 1);  // the same client goes on working
}

TYPED_TEST(StoreTest, CompareSet) {
  // Absent and expected empty: set.
  EXPECT_EQ(this->store->compare_set("cas", "", "first"), "first");
  // Mismatch: unchanged, returns the current value.
  EXPECT_EQ(this->store->compare_set("cas", "wrong", "second"), "first");
  EXPECT_EQ(this->store->get("cas"), "first");
  // Match: set.
  EXPECT_EQ(this->store->compare_set("cas", "first", "second"), "second");
  EXPECT_EQ(this->store->get("cas"), "second");
  // Absent and expected not empty: stays absent.
  EXPECT_EQ(this->store->compare_set("absent", "something", "x"), "");
  EXPECT_FALSE(this->store->check({"absent"}));
}

TYPED_TEST(StoreTest, CompareSetWakesAWaiter) {
  std::shared_ptr<Store> writer = this->factory->make();
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    writer->compare_set("cas-wake", "", "won");
  });
  EXPECT_EQ(this->store->get("cas-wake"), "won");
  setter.join();
}

TYPED_TEST(StoreTest, WaitReturnsWhenEveryKeyIsSet) {
  this->store->wait({});
  std::shared_ptr<Store> writer = this->factory->make();
  std::thread setter([&] {
    writer->set("w1", "1");
    std::this_thread::sleep_for(20ms);
    writer->add("w2", 1);
  });
  this->store->wait({"w1", "w2"});
  EXPECT_TRUE(this->store->check({"w1", "w2"}));
  setter.join();
}

TYPED_TEST(StoreTest, WaitTimeoutNamesOnlyTheMissingKeys) {
  this->store->set("present", "1");
  Error e = error_of([&] { this->store->wait({"present", "absent-one"}, kShortTimeout); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_NE(e.message().find("absent-one"), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find("present"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(this->store->address()), std::string::npos) << e.message();
}

TYPED_TEST(StoreTest, WaitSurvivesASetThenDeleteOfOneOfItsKeys) {
  std::shared_ptr<Store> writer = this->factory->make();
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    writer->set("x", "1");
    writer->delete_key("x");
    writer->set("y", "1");
    std::this_thread::sleep_for(20ms);
    writer->set("x", "2");
  });
  this->store->wait({"x", "y"});
  setter.join();
}

TYPED_TEST(StoreTest, CheckDeleteAndNumKeys) {
  int64_t before = this->store->num_keys();
  EXPECT_FALSE(this->store->check({"k1"}));
  EXPECT_TRUE(this->store->check({}));
  this->store->set("k1", "v");
  this->store->set("k2", "v");
  EXPECT_TRUE(this->store->check({"k1", "k2"}));
  EXPECT_FALSE(this->store->check({"k1", "k3"}));
  EXPECT_EQ(this->store->num_keys(), before + 2);
  EXPECT_TRUE(this->store->delete_key("k1"));
  EXPECT_FALSE(this->store->delete_key("k1"));
  EXPECT_FALSE(this->store->check({"k1"}));
  EXPECT_EQ(this->store->num_keys(), before + 1);
  EXPECT_EQ(error_of([&] { this->store->get("k1", 0ms); }).code(), ErrorCode::Timeout);
}

TYPED_TEST(StoreTest, DeletePrefixDeletesOnlyThatRange) {
  Store& s = *this->store;
  int64_t before = s.num_keys();
  for (int g = 0; g < 3; ++g) {
    for (int i = 0; i < 5; ++i) s.set(fmt::format("g{}/slot{}", g, i), "v");
  }
  s.set("g", "no slash");
  s.set("g1", "a sibling of g1/");
  s.set("f/", "sorts before g");
  EXPECT_EQ(s.delete_prefix("g1/"), 5);
  EXPECT_EQ(s.delete_prefix("g1/"), 0);
  EXPECT_FALSE(s.check({"g1/slot0"}));
  EXPECT_TRUE(s.check({"g0/slot4", "g2/slot0", "g", "g1", "f/"}));
  EXPECT_EQ(s.num_keys(), before + 13);
  // A prefix need not end at a separator: "g" covers g, g0/, g1 and g2/.
  EXPECT_EQ(s.delete_prefix("g"), 12);
  EXPECT_EQ(s.get("f/"), "sorts before g");
  EXPECT_EQ(s.num_keys(), before + 1);
  Error e = error_of([&] { s.delete_prefix(""); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(e.message().find("prefix"), std::string::npos) << e.message();
  EXPECT_EQ(s.get("f/"), "sorts before g");
}

TYPED_TEST(StoreTest, AWaiterOnADeletedPrefixKeepsWaiting) {
  std::shared_ptr<Store> writer = this->factory->make();
  writer->set("round/a", "1");
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    writer->delete_prefix("round/");
    std::this_thread::sleep_for(20ms);
    writer->set("round/b", "1");
    writer->set("round/a", "2");
  });
  this->store->wait({"round/b", "round/a"});
  EXPECT_EQ(this->store->get("round/a"), "2");
  setter.join();
}

// 64 clients x 1,000 mixed operations; the final state must be exact.
TYPED_TEST(StoreTest, SixtyFourClientsMixedOperations) {
  constexpr int kThreads = 64;
  constexpr int kOps = kMixedOps<TypeParam>;
  constexpr int kKeysPerThread = 8;
  std::vector<std::shared_ptr<Store>> clients;
  for (int t = 0; t < kThreads; ++t) clients.push_back(this->factory->make());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& s = *clients[t];
      std::vector<std::string> last(kKeysPerThread);
      try {
        for (int i = 0; i < kOps; ++i) {
          std::string key = fmt::format("t{}/k{}", t, i % kKeysPerThread);
          switch (i % 5) {
            case 0:
              last[i % kKeysPerThread] = std::to_string(i);
              s.set(key, last[i % kKeysPerThread]);
              break;
            case 1: s.add("shared", 1); break;
            case 2: s.add(fmt::format("t{}/own", t), 3); break;
            case 3: {
              // Compare-and-set on this thread's own key from its last value.
              std::string next = std::to_string(i);
              if (s.compare_set(key, last[i % kKeysPerThread], next) != next) failures++;
              last[i % kKeysPerThread] = next;
              break;
            }
            case 4: {
              std::string expected = last[(i - 1) % kKeysPerThread];
              std::string k = fmt::format("t{}/k{}", t, (i - 1) % kKeysPerThread);
              if (s.get(k) != expected) failures++;
              if (!s.check({k, "shared"})) failures++;
              break;
            }
          }
        }
        for (int k = 0; k < kKeysPerThread; ++k) {
          if (s.get(fmt::format("t{}/k{}", t, k)) != last[k]) failures++;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
        failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  Store& s = *this->store;
  EXPECT_EQ(s.get("shared"), std::to_string(kThreads * kOps / 5));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(s.add(fmt::format("t{}/own", t), 0), 3 * kOps / 5) << "thread " << t;
  }
}

TEST(PrefixStoreTest, PrefixesIsolateKeysButShareTheStore) {
  auto base = std::make_shared<MemoryStore>(kTestTimeout);
  PrefixStore a("a", base);
  PrefixStore b("b", base);
  a.set("key", "from-a");
  b.set("key", "from-b");
  EXPECT_EQ(a.get("key"), "from-a");
  EXPECT_EQ(b.get("key"), "from-b");
  EXPECT_EQ(base->get("a/key"), "from-a");
  EXPECT_EQ(a.add("n", 2), 2);
  EXPECT_FALSE(b.check({"n"}));
  EXPECT_TRUE(a.delete_key("key"));
  EXPECT_EQ(b.get("key"), "from-b");
  EXPECT_EQ(a.num_keys(), base->num_keys());  // the whole store, not the prefix
  Error e = error_of([&] { b.wait({"n"}, kShortTimeout); });
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_NE(e.message().find("b/n"), std::string::npos) << e.message();
  EXPECT_EQ(a.prefix(), "a");
  EXPECT_EQ(a.address(), base->address());
  EXPECT_EQ(a.timeout(), base->timeout());
}

TEST(PrefixStoreTest, DeletePrefixStaysInsideTheView) {
  auto base = std::make_shared<MemoryStore>(kTestTimeout);
  PrefixStore a("a", base);
  PrefixStore ab("ab", base);
  a.set("x/1", "v");
  a.set("x/2", "v");
  ab.set("x/1", "v");
  base->set("x/1", "v");
  EXPECT_EQ(a.delete_prefix("x/"), 2);
  EXPECT_TRUE(ab.check({"x/1"}));
  EXPECT_TRUE(base->check({"x/1"}));
  EXPECT_EQ(error_of([&] { a.delete_prefix(""); }).code(), ErrorCode::InvalidArgument);
  EXPECT_TRUE(ab.check({"x/1"}));
}

TEST(PrefixStoreTest, PrefixesNest) {
  auto base = std::make_shared<MemoryStore>(kTestTimeout);
  auto outer = std::make_shared<PrefixStore>("run", base);
  PrefixStore inner("round3", outer);
  inner.set("k", "v");
  EXPECT_EQ(base->get("run/round3/k"), "v");
  inner.wait({"k"});
  EXPECT_EQ(inner.compare_set("k", "v", "w"), "w");
}

TEST(PrefixStoreTest, NeedsABaseStore) {
  EXPECT_THROW(PrefixStore("p", nullptr), Error);
}

TEST(TcpStoreOptionsTest, FromEnvPrefersMyriadStore) {
  Env env = Env::from_map({{"MYRIAD_STORE", "10.0.0.5:2900"},
                           {"MASTER_ADDR", "ignored"},
                           {"MASTER_PORT", "1"},
                           {"MYRIAD_TOKEN", "secret"},
                           {"MYRIAD_TIMEOUT", "90s"},
                           {"MYRIAD_STORE_CONNECT_TIMEOUT", "500ms"}});
  TcpStoreOptions options = TcpStoreOptions::from_env(env);
  EXPECT_EQ(options.host, "10.0.0.5");
  EXPECT_EQ(options.port, 2900);
  EXPECT_EQ(options.token, "secret");
  EXPECT_EQ(options.timeout, 90s);
  EXPECT_EQ(options.connect_timeout, 500ms);
}

TEST(TcpStoreOptionsTest, FromEnvFallsBackToMasterAddrAndPort) {
  TcpStoreOptions options =
      TcpStoreOptions::from_env(Env::from_map({{"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}}));
  EXPECT_EQ(options.host, "node0");
  EXPECT_EQ(options.port, 29500);
  EXPECT_EQ(options.token, "");
  EXPECT_EQ(options.timeout, kStoreDefaultTimeout);
  EXPECT_EQ(options.connect_timeout, kStoreDefaultConnectTimeout);
}

TEST(TcpStoreOptionsTest, FromEnvRejectsMissingOrMalformedAddresses) {
  EXPECT_EQ(error_of([] { TcpStoreOptions::from_env(Env::from_map({})); }).code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([] {
              TcpStoreOptions::from_env(Env::from_map({{"MASTER_ADDR", "h"}}));
            }).code(),
            ErrorCode::InvalidArgument);
  Error e = error_of([] { TcpStoreOptions::from_env(Env::from_map({{"MYRIAD_STORE", "no-port"}})); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_NE(e.message().find("MYRIAD_STORE"), std::string::npos) << e.message();
  EXPECT_EQ(error_of([] {
              TcpStoreOptions::from_env(Env::from_map({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "99999"}}));
            }).code(),
            ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace myriad
