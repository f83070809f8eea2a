// World: this process's membership in the job, connected to the store.
//
// World::join() detects the bootstrap information, connects to the store and
// registers this rank (node, host, pid) under the job's prefix, then waits
// until every rank has registered, so that each rank knows every other's
// node. Keys live under world/<restart round>/, inside job/<run id>/ when
// the job has a run id (jobs may share a store); once a round has formed,
// its rank 0 deletes the previous round's keys. Collectives use exchange()
// to swap endpoints at communicator creation. Every wait is bounded by the store's timeout and fails with
// Error(Timeout) naming the ranks that did not arrive.
//
// Thread-safety: the accessors are safe from any thread; exchange() and
// barrier() calls must be made in the same order on every rank (as
// collectives are), from one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/bootstrap.h"
#include "runtime/store.h"

namespace myriad {

class World {
 public:
  // Joins the job described by the environment. A world of one needs no
  // store: an in-process store is used.
  static std::unique_ptr<World> join(const Env& env);
  // Joins with explicit information and store (tests, launchers).
  static std::unique_ptr<World> join(BootstrapInfo info, std::shared_ptr<Store> store);

  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  int local_rank() const { return info_.local_rank; }
  int local_size() const { return info_.local_world_size; }
  const std::string& node() const { return info_.node; }
  const BootstrapInfo& info() const { return info_; }
  // Node id of every rank, indexed by rank.
  const std::vector<std::string>& nodes() const { return nodes_; }
  // Index of this rank's node among the job's distinct nodes, in order of
  // their lowest rank, and the number of distinct nodes.
  int node_index() const { return node_index_; }
  int num_nodes() const { return num_nodes_; }

  Store& store() { return *store_; }
  std::shared_ptr<Store> shared_store() { return store_; }

  // Every rank contributes `value` under `name`; returns all values indexed
  // by rank. Names must be unique per call within the job (the caller adds
  // a sequence number or communicator id).
  std::vector<std::string> exchange(const std::string& name, const std::string& value);
  // Waits until every rank has reached the barrier `name`.
  void barrier(const std::string& name);

 private:
  World(BootstrapInfo info, std::shared_ptr<Store> store);
  // Rank 0 deletes the previous restart round's keys (world/<round>/).
  void forget_old_rounds();

  BootstrapInfo info_;
  std::shared_ptr<Store> store_;
  std::vector<std::string> nodes_;
  int node_index_ = 0;
  int num_nodes_ = 1;
};

}  // namespace myriad
