// N agents' rendezvous round against one in-process store, metered.
#include "launcher/sim_rendezvous.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "elastic/rendezvous.h"
#include "runtime/error.h"
#include "runtime/memory_store.h"

namespace myriad::launcher {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Long enough that no agent is declared lost or times out on a loaded
// machine: the round measures the protocol, not the scheduler.
constexpr std::chrono::milliseconds kSimTimeout = 600s;

size_t key_bytes(const std::vector<std::string>& keys) {
  size_t total = 0;
  for (const std::string& key : keys) total += key.size();
  return total;
}

// Forwards to the shared store and counts what one agent asks of it: one
// operation per call, and the bytes of keys and values both ways.
class MeteredStore final : public Store {
 public:
  explicit MeteredStore(std::shared_ptr<Store> base) : base_(std::move(base)) {}

  void set(std::string_view key, std::string_view value) override {
    count(key.size() + value.size());
    base_->set(key, value);
  }
  std::string get(std::string_view key, std::chrono::milliseconds timeout) override {
    std::string value = base_->get(key, timeout);
    count(key.size() + value.size());
    return value;
  }
  using Store::get;
  int64_t add(std::string_view key, int64_t delta) override {
    count(key.size() + 2 * sizeof(int64_t));
    return base_->add(key, delta);
  }
  std::string compare_set(std::string_view key, std::string_view expected,
                          std::string_view desired) override {
    std::string value = base_->compare_set(key, expected, desired);
    count(key.size() + expected.size() + desired.size() + value.size());
    return value;
  }
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override {
    count(key_bytes(keys));
    base_->wait(keys, timeout);
  }
  using Store::wait;
  bool check(const std::vector<std::string>& keys) override {
    count(key_bytes(keys));
    return base_->check(keys);
  }
  bool delete_key(std::string_view key) override {
    count(key.size());
    return base_->delete_key(key);
  }
  int64_t delete_prefix(std::string_view prefix) override {
    count(prefix.size());
    return base_->delete_prefix(prefix);
  }
  int64_t num_keys() override {
    count(0);
    return base_->num_keys();
  }
  std::chrono::milliseconds timeout() const override { return base_->timeout(); }
  std::string address() const override { return base_->address(); }

  int64_t operations() const { return operations_.load(); }
  int64_t bytes() const { return bytes_.load(); }

 private:
  void count(size_t bytes) {
    operations_.fetch_add(1);
    bytes_.fetch_add(static_cast<int64_t>(bytes));
  }

  std::shared_ptr<Store> base_;
  std::atomic<int64_t> operations_{0};
  std::atomic<int64_t> bytes_{0};
};

int64_t median(std::vector<int64_t> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2),
                   values.end());
  return values[values.size() / 2];
}

}  // namespace

int simulate_rendezvous(const RendezvousSimOptions& o, bool json) {
  const int n = o.agents;
  if (n < 2) raise(ErrorCode::InvalidArgument, "--rendezvous {}: at least 2 agents are needed", n);
  auto shared = std::make_shared<MemoryStore>(kSimTimeout);
  const elastic::RendezvousOptions options{.prefix = "rdzv/sim/",
                                           .min_nodes = n,
                                           .max_nodes = n,
                                           .join_timeout = kSimTimeout,
                                           .lease_timeout = kSimTimeout,
                                           .poll_interval = 10ms};
  std::vector<std::shared_ptr<MeteredStore>> stores;
  std::vector<std::unique_ptr<elastic::Rendezvous>> agents;
  for (int k = 0; k < n; ++k) {
    stores.push_back(std::make_shared<MeteredStore>(shared));
    agents.push_back(std::make_unique<elastic::Rendezvous>(
        stores.back(), options,
        elastic::AgentInfo{
            .id = fmt::format("agent-{}", k), .host = fmt::format("host{}", k), .local_world_size = 8}));
  }
  // Each agent's round is dropped as soon as its monitor pass has run:
  // every Round lists all N members, so holding them all would take
  // O(N^2) memory (27 GB at 16,384 agents) for nothing measured.
  std::vector<int64_t> ops(static_cast<size_t>(n));
  std::vector<int64_t> moved(static_cast<size_t>(n));
  std::vector<int64_t> monitor(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  const Clock::time_point start = Clock::now();
  std::atomic<int64_t> finished_ns{0};
  {
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) {
      threads.emplace_back([&, k] {
        const auto i = static_cast<size_t>(k);
        try {
          const elastic::Round round = agents[i]->next_round();
          const int64_t at =
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
          int64_t seen = finished_ns.load();
          while (seen < at && !finished_ns.compare_exchange_weak(seen, at)) {
          }
          ops[i] = stores[i]->operations();
          moved[i] = stores[i]->bytes();
          if (round.members.size() != static_cast<size_t>(n)) {
            errors[i] = fmt::format("formed a round of {} members, not {}", round.members.size(), n);
          }
          // One monitor pass: its lease, the round's end, the lease it watches.
          agents[i]->keep_alive();
          agents[i]->round_over(round.generation);
          agents[i]->lost_members(round);
          monitor[i] = stores[i]->operations() - ops[i];
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  const double wall_s = static_cast<double>(finished_ns.load()) * 1e-9;
  for (int k = 0; k < n; ++k) {
    if (!errors[static_cast<size_t>(k)].empty()) {
      std::cerr << fmt::format("myriad sim: agent {}: {}\n", k, errors[static_cast<size_t>(k)]);
      return 1;
    }
  }
  const std::string closer = shared->get(options.prefix + "g0/closer", kSimTimeout);
  std::vector<int64_t> join_ops;
  int64_t closer_ops = 0;
  int64_t total_ops = 0;
  int64_t total_bytes = 0;
  int64_t max_bytes = 0;
  int64_t monitor_ops = 0;
  for (int k = 0; k < n; ++k) {
    const auto i = static_cast<size_t>(k);
    total_ops += ops[i];
    total_bytes += moved[i];
    max_bytes = std::max(max_bytes, moved[i]);
    monitor_ops = std::max(monitor_ops, monitor[i]);
    if (agents[i]->self().id == closer) {
      closer_ops = ops[i];
    } else {
      join_ops.push_back(ops[i]);
    }
  }
  const int64_t keys = shared->num_keys();
  const int64_t max_join = join_ops.empty() ? 0 : *std::max_element(join_ops.begin(), join_ops.end());
  if (json) {
    std::cout << nlohmann::json{{"agents", n},
                                {"wall_s", wall_s},
                                {"join_ops_max", max_join},
                                {"join_ops_median", median(join_ops)},
                                {"closer_ops", closer_ops},
                                {"total_ops", total_ops},
                                {"ops_per_agent", static_cast<double>(total_ops) / n},
                                {"store_keys", keys},
                                {"bytes_moved", total_bytes},
                                {"max_agent_bytes", max_bytes},
                                {"monitor_ops_max", monitor_ops}}
                     .dump()
              << std::endl;
    return 0;
  }
  std::cout << fmt::format(
      "myriad sim: rendezvous round of {} agents (threads) against one in-process store\n", n);
  std::cout << fmt::format("  ops per joiner   {} most, {} median\n", max_join, median(join_ops));
  std::cout << fmt::format("  closer ops       {}\n", closer_ops);
  std::cout << fmt::format("  total ops        {} ({:.2f} per agent)\n", total_ops,
                           static_cast<double>(total_ops) / n);
  std::cout << fmt::format("  monitor pass     {} ops most per agent\n", monitor_ops);
  std::cout << fmt::format("  keys held        {}\n", keys);
  std::cout << fmt::format("  bytes moved      {} total, {} most per agent\n", total_bytes, max_bytes);
  std::cout << fmt::format(
      "  wall time        {:.3f} s to the last agent's round (threads on this machine)\n", wall_s);
  return 0;
}

}  // namespace myriad::launcher
