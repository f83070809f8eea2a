// Store throughput: set, get and add against one TcpStoreServer on this
// machine, from 1 client and from 64 clients (one thread and one TcpStore
// connection each). items_per_second is operations per second over all
// clients. Figures and the command that produced them: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <memory>
#include <string>

#include "runtime/tcp_store.h"

namespace myriad {
namespace {

constexpr std::string_view kToken = "store-bench-token";
constexpr int kManyClients = 64;
// A value the size of a typical rendezvous entry (an endpoint address).
constexpr size_t kValueBytes = 64;

TcpStoreServer& server() {
  static TcpStoreServer instance(TcpStoreServerOptions{.token = std::string(kToken)});
  return instance;
}

std::unique_ptr<TcpStore> connect_client() {
  auto client =
      std::make_unique<TcpStore>(TcpStoreOptions{.port = server().port(), .token = std::string(kToken)});
  client->num_keys();  // connect and authenticate outside the timed loop
  return client;
}

std::string client_key(const benchmark::State& state) {
  return fmt::format("bench/client{}", state.thread_index());
}

void BM_StoreSet(benchmark::State& state) {
  std::unique_ptr<TcpStore> client = connect_client();
  std::string key = client_key(state);
  std::string value(kValueBytes, 'v');
  for (auto _ : state) client->set(key, value);
  state.SetItemsProcessed(state.iterations());
}

void BM_StoreGet(benchmark::State& state) {
  std::unique_ptr<TcpStore> client = connect_client();
  std::string key = client_key(state);
  client->set(key, std::string(kValueBytes, 'v'));
  for (auto _ : state) benchmark::DoNotOptimize(client->get(key));
  state.SetItemsProcessed(state.iterations());
}

void BM_StoreAdd(benchmark::State& state) {
  std::unique_ptr<TcpStore> client = connect_client();
  // Every client adds to the same counter, as ranks arriving at a barrier do.
  for (auto _ : state) benchmark::DoNotOptimize(client->add("bench/counter", 1));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_StoreSet)->Threads(1)->Threads(kManyClients)->UseRealTime();
BENCHMARK(BM_StoreGet)->Threads(1)->Threads(kManyClients)->UseRealTime();
BENCHMARK(BM_StoreAdd)->Threads(1)->Threads(kManyClients)->UseRealTime();

}  // namespace
}  // namespace myriad

BENCHMARK_MAIN();
