// The algorithm registry. The built-ins are registered explicitly, once,
// on first use (std::call_once), never by static initializers, so their
// order and presence do not depend on link order.
#include <map>
#include <mutex>
#include <string>

#include "collectives/native/algorithm.h"
#include "collectives/native/algorithms/builtin.h"
#include "runtime/error.h"

namespace myriad {
namespace {

struct Registry {
  std::mutex mutex;
  // Per kind, in registration order.
  std::map<OpKind, std::vector<std::unique_ptr<Algorithm>>> algorithms;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

void add(OpKind kind, std::unique_ptr<Algorithm> algorithm) {
  MYRIAD_CHECK(algorithm != nullptr, "null algorithm registered for {}", op_kind_name(kind));
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::unique_ptr<Algorithm>>& list = r.algorithms[kind];
  for (const std::unique_ptr<Algorithm>& existing : list) {
    if (existing->name() == algorithm->name()) {
      raise(ErrorCode::InvalidArgument, "algorithm '{}' is already registered for {}", algorithm->name(),
            op_kind_name(kind));
    }
  }
  list.push_back(std::move(algorithm));
}

void register_builtin_algorithms() {
  add(OpKind::Allreduce, make_allreduce_ring());
  add(OpKind::Allreduce, make_allreduce_recursive_doubling());
  add(OpKind::Allreduce, make_allreduce_rabenseifner());
  add(OpKind::Allreduce, make_allreduce_hierarchical());
  for (OpKind kind : {OpKind::Allgather, OpKind::Allgatherv}) {
    add(kind, make_allgather_ring());
    add(kind, make_allgather_recursive_doubling());
    add(kind, make_allgather_hierarchical());
  }
  for (OpKind kind : {OpKind::ReduceScatter, OpKind::ReduceScatterv}) {
    add(kind, make_reduce_scatter_ring());
    add(kind, make_reduce_scatter_hierarchical());
  }
  add(OpKind::Broadcast, make_broadcast_tree());
  add(OpKind::Reduce, make_reduce_tree());
  add(OpKind::Alltoall, make_alltoall_pairwise());
  add(OpKind::Alltoallv, make_alltoall_pairwise());
  add(OpKind::Gather, make_gather_linear());
  add(OpKind::Gather, make_gather_tree());
  add(OpKind::Scatter, make_scatter_linear());
  add(OpKind::Scatter, make_scatter_tree());
  add(OpKind::Barrier, make_barrier_dissemination());
}

void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, register_builtin_algorithms);
}

}  // namespace

void register_algorithm(OpKind kind, std::unique_ptr<Algorithm> algorithm) {
  ensure_builtins();
  add(kind, std::move(algorithm));
}

const Algorithm* find_algorithm(OpKind kind, std::string_view name) {
  ensure_builtins();
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.algorithms.find(kind);
  if (it == r.algorithms.end()) return nullptr;
  for (const std::unique_ptr<Algorithm>& algorithm : it->second) {
    if (algorithm->name() == name) return algorithm.get();
  }
  return nullptr;
}

std::vector<const Algorithm*> algorithms_for(OpKind kind) {
  ensure_builtins();
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<const Algorithm*> out;
  auto it = r.algorithms.find(kind);
  if (it == r.algorithms.end()) return out;
  for (const std::unique_ptr<Algorithm>& algorithm : it->second) out.push_back(algorithm.get());
  return out;
}

}  // namespace myriad
