// Validation and sizing of CollectiveArgs (algorithm.h), and the default
// Algorithm::build_source.
#include <numeric>

#include "collectives/native/algorithm.h"

namespace myriad {
namespace {

// Entries `counts` must hold for the kind, or -1 when counts must be empty.
int64_t expected_counts(const CollectiveArgs& args) {
  switch (args.kind) {
    case OpKind::Allgatherv:
    case OpKind::ReduceScatterv: return args.size;
    case OpKind::Alltoallv: return static_cast<int64_t>(args.size) * args.size;
    default: return -1;
  }
}

uint64_t sum(const std::vector<uint64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), 0ULL);
}

}  // namespace

bool collective_args_valid(const CollectiveArgs& args) {
  if (args.kind == OpKind::Send || args.kind == OpKind::Recv) return false;
  if (args.size < 1 || args.rank < 0 || args.rank >= args.size) return false;
  if (args.root < 0 || args.root >= args.size || args.element_bytes == 0) return false;
  if (args.topology == nullptr || args.topology->size() != args.size) return false;
  const int64_t counts = expected_counts(args);
  if (counts < 0) return args.counts.empty();
  return static_cast<int64_t>(args.counts.size()) == counts;
}

uint64_t collective_bytes(const CollectiveArgs& args) {
  const uint64_t n = static_cast<uint64_t>(args.size);
  uint64_t elements = 0;
  switch (args.kind) {
    case OpKind::Allreduce:
    case OpKind::Reduce:
    case OpKind::Broadcast: elements = args.count; break;
    case OpKind::Allgather:
    case OpKind::ReduceScatter:
    case OpKind::Gather:
    case OpKind::Scatter: elements = n * args.count; break;
    case OpKind::Alltoall: elements = n * n * args.count; break;
    case OpKind::Allgatherv:
    case OpKind::ReduceScatterv:
    case OpKind::Alltoallv: elements = sum(args.counts); break;
    case OpKind::Barrier:
    case OpKind::Send:
    case OpKind::Recv: elements = 0; break;
  }
  return elements * args.element_bytes;
}

}  // namespace myriad

namespace myriad {

ScheduleSource Algorithm::build_source(const CollectiveArgs& args) const {
  return ScheduleSource::of(build(args));
}

}  // namespace myriad
