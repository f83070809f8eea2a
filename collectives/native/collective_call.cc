#include "collectives/native/collective_call.h"

#include "collectives/validate.h"
#include "runtime/error.h"

namespace myriad {
namespace {

static_assert(static_cast<int>(kernels::ElementType::BF16) == static_cast<int>(DType::BF16));
static_assert(static_cast<int>(kernels::ElementType::I64) == static_cast<int>(DType::I64));
static_assert(static_cast<int>(kernels::ElementType::I16) == static_cast<int>(DType::I16));
static_assert(kernels::kElementTypeCount == std::size(kAllDTypes));
static_assert(static_cast<int>(kernels::ReduceKind::Max) == static_cast<int>(ReduceOp::Max));

// ReduceKind has no Avg, so the kinds after it are one lower than their ops
// (kernels/element_type.h).
kernels::ReduceKind reduce_kind(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return kernels::ReduceKind::Sum;  // average is a sum followed by a scale
    case ReduceOp::Prod: return kernels::ReduceKind::Prod;
    case ReduceOp::Min: return kernels::ReduceKind::Min;
    case ReduceOp::Max: return kernels::ReduceKind::Max;
    case ReduceOp::Band: return kernels::ReduceKind::Band;
    case ReduceOp::Bor: return kernels::ReduceKind::Bor;
    case ReduceOp::Bxor: return kernels::ReduceKind::Bxor;
  }
  MYRIAD_CHECK(false, "reduce op {}", static_cast<int>(op));
}

void check_cpu(std::string_view op, std::string_view name, const TensorView& view) {
  validate::on_cpu(op, "native", name, view);
}

}  // namespace

uint64_t hash_counts(const std::vector<uint64_t>& counts) {
  uint64_t hash = 1469598103934665603ull;
  for (uint64_t count : counts) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (count >> (8 * byte)) & 0xff;
      hash *= 1099511628211ull;
    }
  }
  return hash == 0 ? 1 : hash;
}

kernels::ReduceFn reduction_of(const OpDescriptor& d) {
  if (d.kind != OpKind::Allreduce && d.kind != OpKind::Reduce && d.kind != OpKind::ReduceScatter &&
      d.kind != OpKind::ReduceScatterv) {
    return nullptr;
  }
  // The Communicator has rejected a bitwise op of a floating type
  // (validate::reduction), so the kernel exists.
  return kernels::reduce_function(static_cast<kernels::ElementType>(d.dtype), reduce_kind(d.op));
}

CollectiveArgs CollectiveCalls::base_args(OpKind kind, const TensorView& view, uint64_t count) const {
  CollectiveArgs args;
  args.kind = kind;
  args.rank = rank_;
  args.size = size_;
  args.count = count;
  args.element_bytes = dtype_size(view.dtype);
  args.topology = topology_;
  return args;
}

CollectiveCall CollectiveCalls::allreduce(TensorView input, TensorView output,
                                          const AllreduceOptions& options) const {
  check_cpu("allreduce", "input", input);
  check_cpu("allreduce", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Allreduce, .dtype = input.dtype, .op = options.op, .count = input.count};
  c.args = base_args(OpKind::Allreduce, input, input.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return c;
}

CollectiveCall CollectiveCalls::reduce(TensorView input, TensorView output,
                                       const ReduceOptions& options) const {
  check_cpu("reduce", "input", input);
  bool root = rank_ == options.root;
  if (root) check_cpu("reduce", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Reduce,
                  .dtype = input.dtype,
                  .op = options.op,
                  .root = options.root,
                  .count = input.count};
  c.args = base_args(OpKind::Reduce, input, input.count);
  c.args.root = options.root;
  c.buffers = {input.data, root ? output.data : nullptr, nullptr};
  c.algorithm = options.algorithm;
  if (!root) c.stand_in_bytes = input.bytes();
  if (options.op == ReduceOp::Avg && root) c.scale_count = output.count;
  return c;
}

CollectiveCall CollectiveCalls::broadcast(TensorView buffer, const RootOptions& options) const {
  check_cpu("broadcast", "buffer", buffer);
  CollectiveCall c;
  c.descriptor = {
      .kind = OpKind::Broadcast, .dtype = buffer.dtype, .root = options.root, .count = buffer.count};
  c.args = base_args(OpKind::Broadcast, buffer, buffer.count);
  c.args.root = options.root;
  c.buffers = {buffer.data, buffer.data, nullptr};
  c.algorithm = options.algorithm;
  return c;
}

CollectiveCall CollectiveCalls::allgather(TensorView input, TensorView output,
                                          const CollectiveOptions& options) const {
  check_cpu("allgather", "input", input);
  check_cpu("allgather", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Allgather, .dtype = input.dtype, .count = input.count};
  c.args = base_args(OpKind::Allgather, input, input.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return c;
}

CollectiveCall CollectiveCalls::allgatherv(TensorView input, TensorView output,
                                           const std::vector<uint64_t>& counts,
                                           const CollectiveOptions& options) const {
  check_cpu("allgatherv", "input", input);
  check_cpu("allgatherv", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Allgatherv,
                  .dtype = input.dtype,
                  .count = output.count,
                  .counts_hash = hash_counts(counts)};
  c.args = base_args(OpKind::Allgatherv, input, input.count);
  c.args.counts = counts;
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return c;
}

CollectiveCall CollectiveCalls::reduce_scatter(TensorView input, TensorView output,
                                               const ReduceScatterOptions& options) const {
  check_cpu("reduce_scatter", "input", input);
  check_cpu("reduce_scatter", "output", output);
  CollectiveCall c;
  c.descriptor = {
      .kind = OpKind::ReduceScatter, .dtype = input.dtype, .op = options.op, .count = output.count};
  c.args = base_args(OpKind::ReduceScatter, input, output.count);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return c;
}

CollectiveCall CollectiveCalls::reduce_scatterv(TensorView input, TensorView output,
                                                const std::vector<uint64_t>& counts,
                                                const ReduceScatterOptions& options) const {
  check_cpu("reduce_scatterv", "input", input);
  check_cpu("reduce_scatterv", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::ReduceScatterv,
                  .dtype = input.dtype,
                  .op = options.op,
                  .count = input.count,
                  .counts_hash = hash_counts(counts)};
  c.args = base_args(OpKind::ReduceScatterv, input, output.count);
  c.args.counts = counts;
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (options.op == ReduceOp::Avg) c.scale_count = output.count;
  return c;
}

CollectiveCall CollectiveCalls::alltoall(TensorView input, TensorView output,
                                         const CollectiveOptions& options) const {
  check_cpu("alltoall", "input", input);
  check_cpu("alltoall", "output", output);
  CollectiveCall c;
  uint64_t block = input.count / size_;
  c.descriptor = {.kind = OpKind::Alltoall, .dtype = input.dtype, .count = block};
  c.args = base_args(OpKind::Alltoall, input, block);
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return c;
}

CollectiveCall CollectiveCalls::alltoallv(TensorView input, TensorView output,
                                          const std::vector<uint64_t>& send_counts,
                                          const std::vector<uint64_t>& recv_counts,
                                          const CollectiveOptions& options) const {
  check_cpu("alltoallv", "input", input);
  check_cpu("alltoallv", "output", output);
  CollectiveCall c;
  // Each rank knows only its own row and column of the count matrix; the
  // transports check every message's length against the receiver's count.
  c.descriptor = {.kind = OpKind::Alltoallv, .dtype = input.dtype};
  c.args = base_args(OpKind::Alltoallv, input, 0);
  // The algorithms take the n x n matrix (counts[i*n+j]: rank i to rank j);
  // this rank fills the row and the column it knows, which is all a
  // rank's schedule reads.
  const size_t n = static_cast<size_t>(size_);
  const size_t me = static_cast<size_t>(rank_);
  c.args.counts.assign(n * n, 0);
  for (size_t j = 0; j < n; ++j) {
    c.args.counts[me * n + j] = send_counts[j];
    c.args.counts[j * n + me] = recv_counts[j];
  }
  c.buffers = {input.data, output.data, nullptr};
  c.algorithm = options.algorithm;
  return c;
}

CollectiveCall CollectiveCalls::gather(TensorView input, TensorView output,
                                       const RootOptions& options) const {
  check_cpu("gather", "input", input);
  bool root = rank_ == options.root;
  if (root) check_cpu("gather", "output", output);
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Gather, .dtype = input.dtype, .root = options.root, .count = input.count};
  c.args = base_args(OpKind::Gather, input, input.count);
  c.args.root = options.root;
  c.buffers = {input.data, root ? output.data : nullptr, nullptr};
  c.algorithm = options.algorithm;
  if (!root) c.stand_in_bytes = input.bytes() * size_;
  return c;
}

CollectiveCall CollectiveCalls::scatter(TensorView input, TensorView output,
                                        const RootOptions& options) const {
  check_cpu("scatter", "output", output);
  bool root = rank_ == options.root;
  if (root) check_cpu("scatter", "input", input);
  CollectiveCall c;
  c.descriptor = {
      .kind = OpKind::Scatter, .dtype = output.dtype, .root = options.root, .count = output.count};
  c.args = base_args(OpKind::Scatter, output, output.count);
  c.args.root = options.root;
  c.buffers = {root ? input.data : nullptr, output.data, nullptr};
  c.algorithm = options.algorithm;
  if (!root) {
    c.stand_in_bytes = output.bytes() * size_;
    c.stand_in = BufferId::Input;
  }
  return c;
}

CollectiveCall CollectiveCalls::barrier(const CollectiveOptions& options) const {
  CollectiveCall c;
  c.descriptor = {.kind = OpKind::Barrier, .dtype = DType::U8};
  c.args = base_args(OpKind::Barrier, TensorView{nullptr, 0, DType::U8}, 0);
  c.algorithm = options.algorithm;
  return c;
}

}  // namespace myriad
