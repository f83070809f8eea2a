// Algorithm: builds a Schedule for one rank of one collective, and estimates
// its cost under the alpha-beta model so that the selector can choose.
//
// Algorithms register by name in a registry (a duplicate name is an error);
// `MYRIAD_ALGO=allreduce:ring,broadcast:tree` and the tuning file refer to
// them by these names. build() is pure: the same arguments give the same
// schedule on every rank and in the simulator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/native/cost_model.h"
#include "collectives/native/schedule.h"
#include "collectives/native/schedule_source.h"
#include "collectives/native/topology.h"
#include "collectives/types.h"

namespace myriad {

struct CollectiveArgs {
  OpKind kind = OpKind::Allreduce;
  int rank = 0;
  int size = 1;
  uint64_t count = 0;  // elements, as the op defines it (see schedule.h); unused by `v` variants
  // Element counts of a `v` variant, empty otherwise: allgatherv and
  // reduce_scatterv hold n entries (counts[r] is rank r's block); alltoallv
  // holds the n*n matrix, counts[i*n+j] = elements rank i sends to rank j.
  std::vector<uint64_t> counts;
  size_t element_bytes = 4;
  int root = 0;
  const Topology* topology = nullptr;  // never null when passed to an algorithm
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string_view name() const = 0;
  virtual bool supports(const CollectiveArgs& args) const = 0;
  virtual Schedule build(const CollectiveArgs& args) const = 0;
  // The same schedule a round at a time (schedule_source.h), for the
  // simulator at thousands of ranks. The default lists build()'s rounds;
  // an algorithm whose rounds grow with the ranks (the rings) overrides it
  // to compute them when asked, and then builds with to_schedule().
  virtual ScheduleSource build_source(const CollectiveArgs& args) const;
  // Estimated completion time in seconds under `model`.
  virtual double cost(const CollectiveArgs& args, const CostModel& model) const = 0;
};

// True when `args` describe a collective the native schedules implement:
// kind is not Send/Recv, 0 <= rank < size, root in range, element_bytes > 0,
// a topology of `size` ranks is set, and counts has the length the kind
// needs (empty for the non-`v` kinds). Every algorithm's supports() starts here.
bool collective_args_valid(const CollectiveArgs& args);

// Bytes the operation moves as the selector and tuning rules see it: the
// vector reduced (allreduce, reduce, broadcast), the whole gathered or
// scattered buffer (allgather(v), reduce_scatter(v), gather, scatter), every
// byte sent by all ranks (alltoall(v)), 0 for barrier.
uint64_t collective_bytes(const CollectiveArgs& args);

// The registry: every algorithm for an op kind, by name. The built-in
// algorithms are registered on first use of any of these functions.
// Thread-safe. register_algorithm throws Error(InvalidArgument) for a name
// already registered for `kind` (the registry is unchanged then).
void register_algorithm(OpKind kind, std::unique_ptr<Algorithm> algorithm);
// nullptr when no algorithm of that name exists for `kind`.
const Algorithm* find_algorithm(OpKind kind, std::string_view name);
// In registration order (the built-ins first); pointers live for the process.
std::vector<const Algorithm*> algorithms_for(OpKind kind);

}  // namespace myriad
