#include "runtime/world.h"

#include <unistd.h>

#include <fmt/ranges.h>

#include <map>

#include "runtime/error.h"
#include "runtime/logging.h"
#include "runtime/memory_store.h"
#include "runtime/tcp_store.h"

namespace myriad {
namespace {

// Keys of the world live under "world/"; a restarted job gets new keys
// through the restart count so that stale registrations are never read.
std::string world_key(const BootstrapInfo& info, std::string_view name, int rank) {
  return fmt::format("world/{}/{}/{}", info.restart_count, name, rank);
}

}  // namespace

World::World(BootstrapInfo info, std::shared_ptr<Store> store)
    : info_(std::move(info)), store_(std::move(store)) {}

std::unique_ptr<World> World::join(const Env& env) {
  BootstrapInfo info = detect_bootstrap(env);
  std::shared_ptr<Store> store;
  if (info.store) {
    TcpStoreOptions options = TcpStoreOptions::from_env(env);
    store = std::make_shared<TcpStore>(options);
    // A store may serve several jobs: this one's keys stay under its run id.
    if (!info.run_id.empty()) store = std::make_shared<PrefixStore>(job_store_prefix(info.run_id), store);
  } else if (info.world_size == 1) {
    store = std::make_shared<MemoryStore>();
  } else {
    raise(ErrorCode::InvalidArgument,
          "rank {} of {} (from {} variables) has no store address: set MYRIAD_STORE=host:port or "
          "MASTER_ADDR and MASTER_PORT, or start the job with `myriad run`",
          info.rank, info.world_size, info.source);
  }
  return join(std::move(info), std::move(store));
}

std::unique_ptr<World> World::join(BootstrapInfo info, std::shared_ptr<Store> store) {
  set_log_rank(info.rank);
  std::unique_ptr<World> world(new World(std::move(info), std::move(store)));
  world->nodes_ = world->exchange("node", world->info_.node);
  // Nodes are numbered in order of their lowest rank, so every rank derives
  // the same numbering from the same list.
  std::map<std::string, int> index;
  for (const std::string& node : world->nodes_) {
    index.emplace(node, static_cast<int>(index.size()));
  }
  world->num_nodes_ = static_cast<int>(index.size());
  world->node_index_ = index.at(world->info_.node);
  world->forget_old_rounds();
  MYRIAD_LOG_DEBUG("joined world: rank {} of {}, local rank {} of {}, node {} ({} of {}), source {}",
                   world->rank(), world->size(), world->local_rank(), world->local_size(), world->node(),
                   world->node_index_, world->num_nodes_, world->info_.source);
  return world;
}

std::vector<std::string> World::exchange(const std::string& name, const std::string& value) {
  store_->set(world_key(info_, name, rank()), value);
  std::vector<std::string> values(size());
  for (int peer = 0; peer < size(); ++peer) {
    std::string key = world_key(info_, name, peer);
    try {
      values[peer] = peer == rank() ? value : store_->get(key);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Timeout) throw;
      std::vector<std::string> missing;
      for (int other = peer; other < size(); ++other) {
        if (!store_->check({world_key(info_, name, other)})) missing.push_back(std::to_string(other));
      }
      raise(ErrorCode::Timeout,
            "rank {}: exchange '{}' timed out after {} ms waiting for rank(s) {} at store {}", rank(), name,
            store_->timeout().count(), fmt::join(missing, ", "), store_->address());
    }
  }
  return values;
}

void World::forget_old_rounds() {
  // Every rank of this round has registered its node, so every rank of the
  // round before has ended (an agent starts new ranks only after its old
  // ones stopped) and no one reads that round's keys again. One delete per
  // restart keeps the store's size independent of the restart count.
  const int old = info_.restart_count - 1;
  if (rank() != 0 || old < 0) return;
  try {
    int64_t deleted = store_->delete_prefix(fmt::format("world/{}/", old));
    MYRIAD_LOG_DEBUG("deleted {} store keys of restart round {}", deleted, old);
  } catch (const Error& error) {
    // A store that cannot delete by prefix (torch's, under a torch process
    // group) keeps its keys; the job works the same.
    if (error.code() != ErrorCode::NotSupported) throw;
  }
}

void World::barrier(const std::string& name) {
  // One counter and one flag: O(world size) store operations in all, where
  // an exchange would cost O(world size^2).
  std::string count_key = fmt::format("world/{}/barrier/{}/count", info_.restart_count, name);
  std::string done_key = fmt::format("world/{}/barrier/{}/done", info_.restart_count, name);
  if (store_->add(count_key, 1) == size()) store_->set(done_key, "1");
  try {
    store_->wait({done_key});
  } catch (const Error& error) {
    if (error.code() != ErrorCode::Timeout) throw;
    std::string arrived = store_->check({count_key}) ? store_->get(count_key) : "0";
    raise(ErrorCode::Timeout,
          "rank {}: barrier '{}' timed out after {} ms: {} of {} ranks arrived (store {})", rank(), name,
          store_->timeout().count(), arrived, size(), store_->address());
  }
}

}  // namespace myriad
