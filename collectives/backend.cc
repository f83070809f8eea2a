#include "collectives/backend.h"

#include <fmt/ranges.h>

#include <map>
#include <mutex>

#include "collectives/native/native_backend.h"
#include "myriad_config.h"
#if MYRIAD_HAVE_MPI
#include "collectives/mpi/mpi_backend.h"
#endif
#if MYRIAD_HAVE_CUDA
#include "collectives/nccl/nccl_backend.h"
#endif

namespace myriad {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, BackendFactory, std::less<>> factories;
};

Registry& registry() {
  static Registry* instance = [] {
    auto* r = new Registry();
    // The backends built into this library. This is the one place that
    // knows which optional backends were compiled in.
    r->factories.emplace("native", make_native_backend);
#if MYRIAD_HAVE_MPI
    r->factories.emplace("mpi", make_mpi_backend);
#endif
#if MYRIAD_HAVE_CUDA
    r->factories.emplace("nccl", make_nccl_backend);
#endif
    return r;
  }();
  return *instance;
}

}  // namespace

void register_backend(std::string_view name, BackendFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.factories.emplace(std::string(name), std::move(factory)).second) {
    raise(ErrorCode::InvalidArgument, "backend '{}' is already registered", name);
  }
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : r.factories) names.push_back(name);
  return names;
}

std::unique_ptr<Backend> make_backend(std::string_view name, const BackendContext& context) {
  BackendFactory factory;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) {
    raise(ErrorCode::InvalidArgument, "rank {}: unknown backend '{}' (MYRIAD_BACKEND): this build has {}",
          context.rank, name, fmt::join(backend_names(), ", "));
  }
  return factory(context);
}

WorkPtr Backend::not_supported(OpKind kind) const {
  auto work = std::make_shared<Work>(OpDescriptor{.kind = kind});
  work->fail(
      std::make_exception_ptr(Error(ErrorCode::NotSupported, fmt::format("the {} backend does not support {}",
                                                                         name(), op_kind_name(kind)))));
  return work;
}

WorkPtr Backend::allreduce(TensorView, TensorView, const AllreduceOptions&) {
  return not_supported(OpKind::Allreduce);
}
WorkPtr Backend::reduce(TensorView, TensorView, const ReduceOptions&) {
  return not_supported(OpKind::Reduce);
}
WorkPtr Backend::broadcast(TensorView, const RootOptions&) {
  return not_supported(OpKind::Broadcast);
}
WorkPtr Backend::allgather(TensorView, TensorView, const CollectiveOptions&) {
  return not_supported(OpKind::Allgather);
}
WorkPtr Backend::allgatherv(TensorView, TensorView, const std::vector<uint64_t>&, const CollectiveOptions&) {
  return not_supported(OpKind::Allgatherv);
}
WorkPtr Backend::reduce_scatter(TensorView, TensorView, const ReduceScatterOptions&) {
  return not_supported(OpKind::ReduceScatter);
}
WorkPtr Backend::reduce_scatterv(TensorView, TensorView, const std::vector<uint64_t>&,
                                 const ReduceScatterOptions&) {
  return not_supported(OpKind::ReduceScatterv);
}
WorkPtr Backend::alltoall(TensorView, TensorView, const CollectiveOptions&) {
  return not_supported(OpKind::Alltoall);
}
WorkPtr Backend::alltoallv(TensorView, TensorView, const std::vector<uint64_t>&, const std::vector<uint64_t>&,
                           const CollectiveOptions&) {
  return not_supported(OpKind::Alltoallv);
}
WorkPtr Backend::gather(TensorView, TensorView, const RootOptions&) {
  return not_supported(OpKind::Gather);
}
WorkPtr Backend::scatter(TensorView, TensorView, const RootOptions&) {
  return not_supported(OpKind::Scatter);
}
WorkPtr Backend::barrier(const CollectiveOptions&) {
  return not_supported(OpKind::Barrier);
}
WorkPtr Backend::send(TensorView, int, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Send);
}
WorkPtr Backend::recv(TensorView, int, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Recv);
}
WorkPtr Backend::recv_any(TensorView, uint64_t, const CollectiveOptions&) {
  return not_supported(OpKind::Recv);
}

}  // namespace myriad
