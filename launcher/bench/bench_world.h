// The job a benchmark runs in: this rank's World (from the bootstrap
// environment, so `myriad run -np N myriad bench ...` and a standalone
// process both work), and a side channel through the World's store that
// gathers every rank's measurements to every rank.
//
// The side channel is deliberately not the backend under test: a failing
// or slow backend must not stop the results from being gathered. Its calls
// are collective (every rank, same order) and bounded by the store's
// timeout; they run outside the timed regions.
//
// Not thread-safe: one benchmark thread per process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "runtime/world.h"

namespace myriad::bench {

class BenchWorld {
 public:
  // Joins the job described by the process's environment.
  static BenchWorld join();
  explicit BenchWorld(std::shared_ptr<World> world) : world_(std::move(world)) {}

  int rank() const { return world_->rank(); }
  int size() const { return world_->size(); }
  const std::shared_ptr<World>& world() const { return world_; }
  // Node of every rank, indexed by rank.
  const std::vector<std::string>& nodes() const { return world_->nodes(); }
  int num_nodes() const { return world_->num_nodes(); }

  // Every rank's value, indexed by rank.
  std::vector<double> gather(double value);
  std::vector<uint64_t> gather(uint64_t value);
  std::vector<std::string> gather(const std::string& value);
  void barrier();

  // A communicator on `backend` ("native", "mpi", "nccl"). A backend that
  // cannot run here is Error(Unavailable) saying why and what to do: mpi
  // without ranks started by MPI, nccl without a GPU or without CUDA in
  // this build.
  std::shared_ptr<Communicator> communicator(const std::string& backend);

 private:
  std::string next_name(const char* what);

  std::shared_ptr<World> world_;
  uint64_t sequence_ = 0;
};

// True when this process was started by an MPI launcher (mpirun, or
// `myriad run --engine mpi`).
bool started_by_mpi();

}  // namespace myriad::bench
