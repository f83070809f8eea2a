// Communicator: a group of ranks that run collectives together.
//
// Created collectively from a World (every rank calls create() in the same
// order), or by split() from another communicator. Every collective returns
// a Work at once and runs asynchronously on the backend, in call order;
// several may be outstanding. Buffers must stay alive and untouched until
// their Work completes. A call with input and output at the same address
// runs in place (for allgather: input at this rank's block of output).
//
// Arguments are checked at the call: a null buffer with a non-zero count, a
// root out of range, counts that do not fit the operation, mismatched
// dtypes, avg on an integer type, or memory on a device the backend cannot
// use throw Error(InvalidArgument) naming the argument. Disagreements
// between ranks (different operation, count, dtype, reduction or root in
// the same sequence slot) fail the Work on every rank with an error naming
// both sides. A timeout (MYRIAD_TIMEOUT, or the per-call option) fails the
// Work naming the operation, its sequence number and the peers that did not
// arrive; a dead peer fails it with PeerFailure naming the peer.
//
// Failures are sticky: after an operation fails, every pending and later
// operation on the communicator fails too; build a new communicator.
//
// Thread-safety: the methods may be called from several threads; calls are
// ordered as they acquire the communicator's lock, and that order must be
// the same on every rank (as for any collective).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectives/backend.h"
#include "collectives/options.h"
#include "collectives/work.h"
#include "runtime/world.h"

namespace myriad {

struct CommunicatorOptions {
  std::string backend{};                 // empty: MYRIAD_BACKEND, else "native"
  std::chrono::milliseconds timeout{0};  // zero: MYRIAD_TIMEOUT (default 300 s)
  // Names the communicator's store keys and shared-memory segments. Empty:
  // "c<N>" from a per-process counter, which agrees across ranks only when
  // every rank creates the same communicators in the same order. A caller
  // whose ranks create different sets of communicators (one per framework
  // process group, say) passes an id that is the same on every member and
  // unique within the job: letters, digits, '.', '_' and '-', at most 64.
  std::string id{};
};

class Communicator {
 public:
  static std::shared_ptr<Communicator> create(std::shared_ptr<World> world, CommunicatorOptions options = {});
  ~Communicator();

  int rank() const { return context_.rank; }
  int size() const { return context_.size(); }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // Node id of this rank (MYRIAD_NODE_ID or the host name).
  const std::string& node() const;
  const std::string& id() const { return context_.comm_id; }
  std::string_view backend_name() const { return backend_->name(); }
  // World rank of each communicator rank.
  const std::vector<int>& group() const { return context_.group; }

  // Collective over this communicator: ranks with the same color form a new
  // communicator, ordered by key then by rank here. A negative color takes
  // part in the split but joins no communicator (nullptr is returned).
  std::shared_ptr<Communicator> split(int color, int key);
  // Fails every pending and future operation here and on the peers.
  void abort(const std::string& reason = "aborted by the caller");

  WorkPtr allreduce(TensorView buffer, const AllreduceOptions& options = {});
  WorkPtr allreduce(TensorView input, TensorView output, const AllreduceOptions& options = {});
  WorkPtr reduce(TensorView input, TensorView output, const ReduceOptions& options = {});
  WorkPtr broadcast(TensorView buffer, const RootOptions& options = {});
  // output holds size() blocks of input.count elements, rank order.
  WorkPtr allgather(TensorView input, TensorView output, const CollectiveOptions& options = {});
  // counts[r] elements from rank r, packed in rank order; input.count == counts[rank()].
  WorkPtr allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                     const CollectiveOptions& options = {});
  // input holds size() blocks of output.count elements; block r is reduced into rank r's output.
  WorkPtr reduce_scatter(TensorView input, TensorView output, const ReduceScatterOptions& options = {});
  WorkPtr reduce_scatterv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                          const ReduceScatterOptions& options = {});
  // input and output hold size() blocks of equal size; block j of input goes to rank j.
  WorkPtr alltoall(TensorView input, TensorView output, const CollectiveOptions& options = {});
  // send_counts[j] elements go to rank j, recv_counts[j] come from rank j, packed in rank order.
  WorkPtr alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                    const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options = {});
  // output (at the root) holds size() blocks of input.count elements.
  WorkPtr gather(TensorView input, TensorView output, const RootOptions& options = {});
  // input (at the root) holds size() blocks of output.count elements.
  WorkPtr scatter(TensorView input, TensorView output, const RootOptions& options = {});
  WorkPtr barrier(const CollectiveOptions& options = {});
  // Point to point: messages between a pair with the same tag match in order.
  WorkPtr send(TensorView buffer, int peer, uint64_t tag = 0, const CollectiveOptions& options = {});
  WorkPtr recv(TensorView buffer, int peer, uint64_t tag = 0, const CollectiveOptions& options = {});
  // Receives the first message with `tag` that any other rank sends here
  // (torch's recvAnysource); work->source_rank() is its sender once the Work
  // completes. A message with another tag is left for a later receive.
  // Messages from one peer still match in order: the any-source receive
  // sees a peer's next message only once that peer's earlier posted
  // receives have taken theirs. A peer that is gone with nothing buffered
  // fails it (PeerFailure naming the peer). native and mpi; nccl:
  // NotSupported.
  WorkPtr recv_any(TensorView buffer, uint64_t tag = 0, const CollectiveOptions& options = {});

 private:
  Communicator(BackendContext context, std::string backend);

  BackendContext context_;
  int local_rank_ = 0;
  int local_size_ = 1;
  int splits_ = 0;
  std::mutex mutex_;  // orders calls into the backend
  std::unique_ptr<Backend> backend_;
};

}  // namespace myriad
