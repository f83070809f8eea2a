// Backend: the engine behind a Communicator (native, mpi, nccl).
//
// Backends register by name; a Communicator picks one by argument or
// MYRIAD_BACKEND. The native backend is built into this library. The others
// are plugins (backend_plugin.h), one shared library each, loaded the first
// time a communicator asks for them: libmpi, NCCL and the CUDA runtime are
// mapped only by a process that uses them. The Communicator validates
// arguments before calling a backend (buffer sizes, roots, dtypes, devices),
// so a backend sees only well-formed calls with counts in elements. Every
// call returns a Work at once. An operation a backend does not implement
// fails its Work with Error(NotSupported) naming the backend and the
// operation.
//
// Thread-safety: calls on one backend are made in the communicator's call
// order (the Communicator serializes them); abort() may come from any thread.
// The registry functions below are safe from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/options.h"
#include "collectives/work.h"
#include "runtime/dtype.h"
#include "runtime/world.h"

namespace myriad {

// What a backend is built from.
struct BackendContext {
  std::shared_ptr<World> world;
  std::vector<int> group;                // world rank of each communicator rank
  int rank = 0;                          // this process's communicator rank
  std::string comm_id;                   // unique within the job; names store keys and segments
  std::shared_ptr<Store> store;          // scoped to this communicator
  std::chrono::milliseconds timeout{0};  // default operation timeout

  int size() const { return static_cast<int>(group.size()); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  virtual WorkPtr allreduce(TensorView input, TensorView output, const AllreduceOptions& options);
  virtual WorkPtr reduce(TensorView input, TensorView output, const ReduceOptions& options);
  virtual WorkPtr broadcast(TensorView buffer, const RootOptions& options);
  virtual WorkPtr allgather(TensorView input, TensorView output, const CollectiveOptions& options);
  virtual WorkPtr allgatherv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                             const CollectiveOptions& options);
  virtual WorkPtr reduce_scatter(TensorView input, TensorView output, const ReduceScatterOptions& options);
  virtual WorkPtr reduce_scatterv(TensorView input, TensorView output, const std::vector<uint64_t>& counts,
                                  const ReduceScatterOptions& options);
  virtual WorkPtr alltoall(TensorView input, TensorView output, const CollectiveOptions& options);
  virtual WorkPtr alltoallv(TensorView input, TensorView output, const std::vector<uint64_t>& send_counts,
                            const std::vector<uint64_t>& recv_counts, const CollectiveOptions& options);
  virtual WorkPtr gather(TensorView input, TensorView output, const RootOptions& options);
  virtual WorkPtr scatter(TensorView input, TensorView output, const RootOptions& options);
  virtual WorkPtr barrier(const CollectiveOptions& options);
  virtual WorkPtr send(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options);
  virtual WorkPtr recv(TensorView buffer, int peer, uint64_t tag, const CollectiveOptions& options);
  // Receives the first message with `tag` from any peer; the Work's
  // source_rank() names the sender.
  virtual WorkPtr recv_any(TensorView buffer, uint64_t tag, const CollectiveOptions& options);

  // Fails every pending and future operation with `reason`, and tells the
  // peers. Idempotent.
  virtual void abort(const Error& reason) = 0;

 protected:
  // A Work already failed with NotSupported for `kind`.
  WorkPtr not_supported(OpKind kind) const;
};

using BackendFactory = std::function<std::unique_ptr<Backend>(const BackendContext&)>;

// Registers a backend by name; a duplicate name is Error(InvalidArgument).
void register_backend(std::string_view name, BackendFactory factory);
// Makes `name` registered: a no-op when it is, else loads the plugin
// libmyriad_backend_<name>.so (plugin.h: MYRIAD_PLUGIN_PATH, then the
// directory of libmyriad_collectives) and lets it register. No such plugin
// is Error(InvalidArgument) listing the backends there are; a plugin that
// does not load (a missing libmpi, libnccl) or does not register is
// Error(Unavailable). Every message names the backend, the file and the
// loader's reason; a failed load can be retried (nothing is kept).
void require_backend(std::string_view name);
// Builds a backend, loading its plugin first if needed (require_backend's
// errors, with the rank).
std::unique_ptr<Backend> make_backend(std::string_view name, const BackendContext& context);
// The backends registered now: the built-in ones and the plugins loaded.
std::vector<std::string> backend_names();
// The backend plugins present in the plugin directories, loaded or not.
std::vector<std::string> backend_plugin_names();

}  // namespace myriad
