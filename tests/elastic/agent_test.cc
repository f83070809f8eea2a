// The elastic agent's loop in-process, with fake workers (a WorkerGroup
// that reports what a test tells it to) over an in-memory store, and
// another node played by a Rendezvous on a thread of the test: a failed
// round restarts and the job then succeeds, a failure beyond max_restarts
// ends the job with the worker's code, and the regression of a peer lost
// while this node waits for the others (its lease stopped, then moved again
// at once: an agent stopped and resumed) that the agent used to read twice
// and index an empty result. The agent with real processes is
// tests/elastic_launch/.
#include "elastic/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/memory_store.h"

namespace myriad::elastic {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kPatience = 20s;

// Workers whose rounds end as the test scripted: exit code per round (0: success), failure records
// reported through on_failure for the non-zero ones.
class FakeWorkers : public WorkerGroup {
 public:
  explicit FakeWorkers(std::vector<int> codes) : codes_(std::move(codes)) {}
  void prepare(const std::function<void()>& keep_alive) override {
    ++prepared_;
    keep_alive();
  }
  WorkersEnd run(const WorkerRound& round, const WorkerWatch& watch) override {
    int code = rounds_ < static_cast<int>(codes_.size()) ? codes_[rounds_] : 0;
    ++rounds_;
    generations_.push_back(round.round.generation);
    failures_seen_.push_back(round.failures);
    if (code != 0) {
      watch.on_failure(json{{"cause", "exit"},
                            {"rank", round.round.rank_offset},
                            {"node", "node-a"},
                            {"pid", 4242},
                            {"code", code},
                            {"signal", 0},
                            {"stderr_tail", json::array({"failure " + std::to_string(rounds_)})},
                            {"step", rounds_},
                            {"fault_t", 0.0},
                            {"summary", "rank exited with code " + std::to_string(code)}});
    }
    return WorkersEnd{.exit_code = code, .received_signal = 0, .abandoned = {}};
  }

  int rounds() const { return rounds_; }
  int prepared() const { return prepared_; }
  const std::vector<int64_t>& generations() const { return generations_; }
  const std::vector<int64_t>& failures_seen() const { return failures_seen_; }

 private:
  std::vector<int> codes_;
  int rounds_ = 0;
  int prepared_ = 0;
  std::vector<int64_t> generations_;
  std::vector<int64_t> failures_seen_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("agent-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  AgentOptions options(int nodes, int max_restarts) const {
    AgentOptions o;
    o.store_address = "memory";
    o.rdzv_id = "agent-test";
    o.node_id = "node-a";
    o.master_host = "127.0.0.1";
    o.min_nodes = nodes;
    o.max_nodes = nodes;
    o.nproc_per_node = 1;
    o.max_restarts = max_restarts;
    o.monitor_interval = 10ms;
    o.join_timeout = kPatience;
    o.last_call = 50ms;
    o.lease_timeout = 300ms;
    o.heartbeat_file = (dir_ / "heartbeats").string();
    o.events_path = (dir_ / "events.jsonl").string();
    return o;
  }

  std::filesystem::path dir_;
};

TEST_F(AgentTest, RestartsAFailedRoundThenTheJobSucceeds) {
  auto store = std::make_shared<MemoryStore>(kPatience);
  FakeWorkers workers({3, 0});
  EXPECT_EQ(run_agent(options(1, 1), store, workers), 0);
  EXPECT_EQ(workers.rounds(), 2);
  EXPECT_EQ(workers.prepared(), 2);
  EXPECT_EQ(workers.generations(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(workers.failures_seen(), (std::vector<int64_t>{0, 1}));  // TORCHELASTIC_RESTART_COUNT
  EXPECT_EQ(json::parse(store->get("rdzv/agent-test/outcome", kPatience))["exit_code"], 0);
}

TEST_F(AgentTest, EndsTheJobWithTheWorkersCodeBeyondMaxRestarts) {
  auto store = std::make_shared<MemoryStore>(kPatience);
  FakeWorkers workers({3, 5});
  EXPECT_EQ(run_agent(options(1, 1), store, workers), 5);
  EXPECT_EQ(workers.rounds(), 2);
  json outcome = json::parse(store->get("rdzv/agent-test/outcome", kPatience));
  EXPECT_EQ(outcome["exit_code"], 5);
  EXPECT_EQ(outcome["root_cause"]["code"], 5);
}

// A store whose `lost/<peer>` mark (set by the agent that found the peer's lease stopped) is followed at
// once by a renewal of that lease: the peer, stopped (SIGSTOP) until then, resumed. A second look at the
// leases right after the first one then sees a lease that moved, and finds nobody lost.
class ResumingPeerStore : public Store {
 public:
  ResumingPeerStore(std::shared_ptr<Store> inner, std::string prefix, std::string peer)
      : inner_(std::move(inner)), prefix_(std::move(prefix)), peer_(std::move(peer)) {}

  void set(std::string_view key, std::string_view value) override {
    inner_->set(key, value);
    if (key == prefix_ + "lost/" + peer_ && !resumed_.exchange(true))
      inner_->add(prefix_ + "lease/" + peer_, 1);
  }
  std::string get(std::string_view key, std::chrono::milliseconds timeout) override {
    return inner_->get(key, timeout);
  }
  using Store::get;
  int64_t add(std::string_view key, int64_t delta) override { return inner_->add(key, delta); }
  std::string compare_set(std::string_view key, std::string_view expected,
                          std::string_view desired) override {
    return inner_->compare_set(key, expected, desired);
  }
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override {
    inner_->wait(keys, timeout);
  }
  using Store::wait;
  bool check(const std::vector<std::string>& keys) override { return inner_->check(keys); }
  bool delete_key(std::string_view key) override { return inner_->delete_key(key); }
  int64_t delete_prefix(std::string_view prefix) override { return inner_->delete_prefix(prefix); }
  int64_t num_keys() override { return inner_->num_keys(); }
  std::chrono::milliseconds timeout() const override { return inner_->timeout(); }
  std::string address() const override { return inner_->address(); }

  bool resumed() const { return resumed_; }

 private:
  std::shared_ptr<Store> inner_;
  std::string prefix_;
  std::string peer_;
  std::atomic<bool> resumed_{false};
};

TEST_F(AgentTest, APeerLostWhileWaitingForPeersIsReportedEvenIfItResumesAtOnce) {
  const std::string prefix = "rdzv/agent-test/";
  const AgentInfo peer{.id = "node-b:1", .host = "host-b", .local_world_size = 1};
  auto inner = std::make_shared<MemoryStore>(kPatience);
  auto store = std::make_shared<ResumingPeerStore>(inner, prefix, peer.id);
  AgentOptions agent_options = options(2, 0);

  // The other node: joins the round, publishes the master when it has group rank 0, then stops (no
  // lease renewal, no done report) until the job ends.
  std::thread other([&] {
    Rendezvous rdzv(inner,
                    RendezvousOptions{.prefix = prefix,
                                      .min_nodes = 2,
                                      .max_nodes = 2,
                                      .join_timeout = kPatience,
                                      .last_call = agent_options.last_call,
                                      .lease_timeout = agent_options.lease_timeout},
                    peer);
    Round round = rdzv.next_round();
    if (round.group_rank == 0) rdzv.publish_master(round.generation, "127.0.0.1:1");
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!rdzv.job_outcome() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
  });

  FakeWorkers workers({0});  // this node's workers succeed at once: it waits for the peer
  int code = run_agent(agent_options, store, workers);
  other.join();

  EXPECT_TRUE(store->resumed()) << "the peer was never found lost: the test did not exercise the race";
  EXPECT_EQ(code, 1);  // a lost node fails the job with the generic code under --max-restarts 0
  json failure = json::parse(inner->get(prefix + "g0/failure", kPatience));
  EXPECT_EQ(failure["cause"], "node_lost");
  EXPECT_EQ(failure["node"], peer.id);
  json outcome = json::parse(inner->get(prefix + "outcome", kPatience));
  EXPECT_EQ(outcome["root_cause"]["node"], peer.id);
}

}  // namespace
}  // namespace myriad::elastic
