// Rendezvous at scale: N agents (threads, each with its own store
// connection, on the same code path as `myriad agent` processes) form a
// round against one TCP store (or the store at --store, e.g. an etcd
// cluster), then one agent is lost and the others form the next round. Prints one JSON line per (agents,
// repetition):
//   form_s      from the first next_round() call to the last return
//   restart_s   from the failure report to the last return of the next round
//   join_ops    the most store operations any agent but the closer made to join
//   closer_ops  the closer's (it reads every slot)
//   monitor_ops the most operations any agent makes in one monitor pass
//   store_keys  keys in the store after the restart round
// benchmarks/compare/rendezvous_vs_torch.py runs it next to torch's
// TCPStore barrier of as many clients.
//
//   rendezvous_scale --agents 64,256,1024 --repeat 3
//   rendezvous_scale --agents 64 --store etcd://127.0.0.1:2379,127.0.0.1:2381
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "elastic/rendezvous.h"
#include "runtime/counting_store.h"
#include "runtime/error.h"
#include "runtime/store_address.h"
#include "runtime/tcp_store.h"

namespace {

using namespace std::chrono_literals;
using myriad::elastic::AgentInfo;
using myriad::elastic::Rendezvous;
using myriad::elastic::RendezvousOptions;
using myriad::elastic::Round;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kToken = "rendezvous-scale-token";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs body(k) on one thread per agent and returns when all have.
template <typename Body>
void on_every_agent(int n, Body&& body) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) threads.emplace_back([&body, k] { body(k); });
  for (std::thread& t : threads) t.join();
}

nlohmann::json measure(int n, int repetition, std::chrono::milliseconds last_call, const std::string& store) {
  std::unique_ptr<myriad::TcpStoreServer> server;
  std::string address = store;
  if (address.empty()) {
    server =
        std::make_unique<myriad::TcpStoreServer>(myriad::TcpStoreServerOptions{.token = std::string(kToken)});
    address = fmt::format("127.0.0.1:{}", server->port());
  }
  // A store outside this process may hold earlier runs' keys: each round gets a key space of its own.
  RendezvousOptions options{.prefix = fmt::format("rdzv/scale-{}-{}-{}/", n, repetition, ::getpid()),
                            .min_nodes = n - 1,
                            .max_nodes = n,
                            .join_timeout = 600s,
                            .last_call = last_call,
                            .lease_timeout = 30s,
                            .poll_interval = 10ms};
  std::vector<std::shared_ptr<myriad::CountingStore>> stores;
  std::vector<std::unique_ptr<Rendezvous>> agents;
  for (int k = 0; k < n; ++k) {
    std::shared_ptr<myriad::Store> client = myriad::connect_store(
        address,
        myriad::StoreClientOptions{.token = std::string(kToken), .timeout = 600s, .connect_timeout = 60s},
        "--store");
    stores.push_back(std::make_shared<myriad::CountingStore>(client));
    agents.push_back(std::make_unique<Rendezvous>(
        stores.back(), options,
        AgentInfo{
            .id = fmt::format("agent-{}", k), .host = fmt::format("host{}", k), .local_world_size = 8}));
  }
  // Connected and authenticated before the clock starts, as agents are by
  // the time they join: the round measures the rendezvous, not n handshakes.
  on_every_agent(n, [&](int k) {
    stores[static_cast<size_t>(k)]->num_keys();
    stores[static_cast<size_t>(k)]->reset();
  });
  std::vector<Round> rounds(static_cast<size_t>(n));
  std::vector<int64_t> join_ops(static_cast<size_t>(n));
  const Clock::time_point form_start = Clock::now();
  on_every_agent(n, [&](int k) {
    auto i = static_cast<size_t>(k);
    rounds[i] = agents[i]->next_round();
    join_ops[i] = stores[i]->operations();
  });
  const double form_s = seconds_since(form_start);
  std::string closer = stores[0]->get(options.prefix + "g0/closer");
  int64_t max_join = 0;
  int64_t closer_ops = 0;
  int64_t max_monitor = 0;
  for (int k = 0; k < n; ++k) {
    auto i = static_cast<size_t>(k);
    if (rounds[i].members.size() != static_cast<size_t>(n)) {
      myriad::raise(myriad::ErrorCode::Internal, "agent {} formed a round of {} members, not {}", k,
                    rounds[i].members.size(), n);
    }
    int64_t& most = agents[i]->self().id == closer ? closer_ops : max_join;
    most = std::max(most, join_ops[i]);
    stores[i]->reset();
    agents[i]->keep_alive();
    agents[i]->round_over(0);
    agents[i]->lost_members(rounds[i]);
    max_monitor = std::max(max_monitor, stores[i]->operations());
  }
  // The last agent is lost; the rest restart into round 1 with n - 1.
  const Clock::time_point restart_start = Clock::now();
  agents[0]->report_failure(0, nlohmann::json{{"cause", "benchmark"}});
  on_every_agent(n - 1, [&](int k) {
    Round next = agents[static_cast<size_t>(k)]->next_round();
    if (next.members.size() != static_cast<size_t>(n - 1)) {
      myriad::raise(myriad::ErrorCode::Internal, "agent {} restarted into {} members, not {}", k,
                    next.members.size(), n - 1);
    }
  });
  const double restart_s = seconds_since(restart_start);
  return nlohmann::json{{"agents", n},
                        {"repetition", repetition},
                        {"form_s", form_s},
                        {"restart_s", restart_s},
                        {"join_ops", max_join},
                        {"closer_ops", closer_ops},
                        {"monitor_ops", max_monitor},
                        {"store_keys", stores[0]->num_keys()},
                        {"store", store.empty() ? "tcp" : store},
                        {"last_call_ms", last_call.count()}};
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Rendezvous rounds of N agents against one TCP store (or --store)"};
  std::string store;
  std::vector<int> agents{64, 256, 1024};
  int repeat = 3;
  int last_call_ms = 200;
  app.add_option("--agents", agents, "agent counts, e.g. 64,256,1024")->delimiter(',');
  app.add_option("--repeat", repeat, "rounds measured per agent count")->check(CLI::PositiveNumber);
  app.add_option("--last-call-ms", last_call_ms, "the round's last call (the restart waits it once)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--store", store,
                 "the agents' store (HOST:PORT or etcd://...); default: a TCP store in this process");
  CLI11_PARSE(app, argc, argv);
  // Each agent holds one connection and the server one per agent.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  for (int n : agents) {
    if (n < 2) myriad::raise(myriad::ErrorCode::InvalidArgument, "--agents {}: at least 2 are needed", n);
    for (int r = 0; r < repeat; ++r) {
      std::puts(measure(n, r, std::chrono::milliseconds(last_call_ms), store).dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rendezvous_scale: %s\n", e.what());
    return 1;
  }
}
