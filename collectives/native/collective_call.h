// CollectiveCall: one collective of the native backend as its progress
// thread runs it, built from the caller's arguments at the call.
//
// The builders (CollectiveCalls, one method per Backend operation) check
// that the buffers are in CPU memory (Error(InvalidArgument) naming the
// operation and the buffer, validate::on_cpu) and translate the call into
// the descriptor its handshake compares, the arguments its algorithm
// builds a schedule from, and the executor's buffers. Every other argument
// check is the Communicator's (validate.h), made before the call.
//
// A CollectiveCall owns no memory: it points into the caller's buffers,
// which must stay valid until its Work completes. CollectiveCalls is an
// immutable value: thread-safe; the Topology it points to must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectives/native/algorithm.h"
#include "collectives/native/executor.h"
#include "collectives/options.h"
#include "collectives/types.h"
#include "kernels/reduce.h"

namespace myriad {

struct CollectiveCall {
  OpDescriptor descriptor;  // seq is set at submission
  CollectiveArgs args;
  ExecutorBuffers buffers;
  std::string algorithm;  // per-call override; empty: the selector's
  // Elements of Output to scale by 1/size afterwards (average); 0 for none.
  uint64_t scale_count = 0;
  // Bytes of backend-owned memory standing in for a buffer that this rank
  // does not provide (a non-root's output of reduce or gather, input of
  // scatter), and which buffer that is.
  uint64_t stand_in_bytes = 0;
  BufferId stand_in = BufferId::Output;
};

// Equal on every rank exactly when the counts are (FNV-1a); never 0, which
// OpDescriptor::counts_hash uses for "no counts".
uint64_t hash_counts(const std::vector<uint64_t>& counts);

// The reduction a call's kernel applies (average: a sum, scaled after), or
// null for operations that do not reduce.
kernels::ReduceFn reduction_of(const OpDescriptor& descriptor);

class CollectiveCalls {
 public:
  CollectiveCalls(int rank, int size, const Topology* topology)
      : rank_(rank), size_(size), topology_(topology) {}

  CollectiveCall allreduce(TensorView input, TensorView output, const AllreduceOptions& options) const;
  CollectiveCall reduce(TensorView input, TensorView output, const ReduceOptions& options) const;
  CollectiveCall broadcast(TensorView buffer, const RootOptions& options) const;
  CollectiveCall allgather(TensorView input, TensorView output, const CollectiveOptions& options) const;
  CollectiveCall allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                            const CollectiveOptions& options) const;
  CollectiveCall reduce_scatter(TensorView input, TensorView output,
                                const ReduceScatterOptions& options) const;
  CollectiveCall reduce_scatterv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                                 const ReduceScatterOptions& options) const;
  CollectiveCall alltoall(TensorView input, TensorView output, const CollectiveOptions& options) const;
  CollectiveCall alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                           const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options) const;
  CollectiveCall gather(TensorView input, TensorView output, const RootOptions& options) const;
  CollectiveCall scatter(TensorView input, TensorView output, const RootOptions& options) const;
  CollectiveCall barrier(const CollectiveOptions& options) const;

 private:
  CollectiveArgs base_args(OpKind kind, const TensorView& view, uint64_t count) const;

  int rank_;
  int size_;
  const Topology* topology_;
};

}  // namespace myriad
