#include "collectives/types.h"

#include <cstring>
#include <iterator>

#include "runtime/error.h"

namespace myriad {
namespace {

struct KindName {
  OpKind kind;
  std::string_view name;
};

constexpr KindName kKindNames[] = {
    {OpKind::Allreduce, "allreduce"},
    {OpKind::Reduce, "reduce"},
    {OpKind::Broadcast, "broadcast"},
    {OpKind::Allgather, "allgather"},
    {OpKind::Allgatherv, "allgatherv"},
    {OpKind::ReduceScatter, "reduce_scatter"},
    {OpKind::ReduceScatterv, "reduce_scatterv"},
    {OpKind::Alltoall, "alltoall"},
    {OpKind::Alltoallv, "alltoallv"},
    {OpKind::Gather, "gather"},
    {OpKind::Scatter, "scatter"},
    {OpKind::Barrier, "barrier"},
    {OpKind::Send, "send"},
    {OpKind::Recv, "recv"},
};

bool has_reduction(OpKind kind) {
  return kind == OpKind::Allreduce || kind == OpKind::Reduce || kind == OpKind::ReduceScatter ||
         kind == OpKind::ReduceScatterv;
}

bool has_root(OpKind kind) {
  return kind == OpKind::Reduce || kind == OpKind::Broadcast || kind == OpKind::Gather ||
         kind == OpKind::Scatter;
}

template <typename T>
void put(uint8_t* out, size_t& at, T value) {
  std::memcpy(out + at, &value, sizeof(T));
  at += sizeof(T);
}

template <typename T>
T take(const uint8_t* in, size_t& at) {
  T value;
  std::memcpy(&value, in + at, sizeof(T));
  at += sizeof(T);
  return value;
}

}  // namespace

std::string_view op_kind_name(OpKind kind) {
  for (const KindName& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  MYRIAD_CHECK(false, "op kind {}", static_cast<int>(kind));
}

OpKind parse_op_kind(std::string_view text) {
  for (const KindName& entry : kKindNames) {
    if (entry.name == text) return entry.kind;
  }
  std::string accepted;
  for (const KindName& entry : kKindNames) {
    accepted += accepted.empty() ? "" : ", ";
    accepted += entry.name;
  }
  raise(ErrorCode::InvalidArgument, "unknown operation '{}': accepted values are {}", text, accepted);
}

std::string OpDescriptor::to_string() const {
  std::string text = fmt::format("{}(", op_kind_name(kind));
  if (kind != OpKind::Barrier) {
    text += fmt::format("{}, {}", dtype_name(dtype), count);
    if (counts_hash != 0) text += fmt::format(" [counts {:016x}]", counts_hash);
    if (has_reduction(kind)) text += fmt::format(", {}", reduce_op_name(op));
    if (has_root(kind)) text += fmt::format(", root {}", root);
  }
  return text + ")";
}

void encode_op_descriptor(const OpDescriptor& d, uint8_t (&out)[kOpDescriptorWireBytes]) {
  std::memset(out, 0, kOpDescriptorWireBytes);
  size_t at = 0;
  put<uint8_t>(out, at, static_cast<uint8_t>(d.kind));
  put<uint8_t>(out, at, static_cast<uint8_t>(d.dtype));
  put<uint8_t>(out, at, static_cast<uint8_t>(d.op));
  put<uint8_t>(out, at, 0);
  put<int32_t>(out, at, d.root);
  put<uint64_t>(out, at, d.count);
  put<uint64_t>(out, at, d.counts_hash);
  put<uint64_t>(out, at, d.seq);
  MYRIAD_CHECK(at <= kOpDescriptorWireBytes);
}

OpDescriptor decode_op_descriptor(const uint8_t (&in)[kOpDescriptorWireBytes]) {
  OpDescriptor d;
  size_t at = 0;
  uint8_t kind = take<uint8_t>(in, at);
  uint8_t dtype = take<uint8_t>(in, at);
  uint8_t op = take<uint8_t>(in, at);
  // A peer speaking another protocol version, or garbage, must not become
  // an out-of-range enum further down. kAllDTypes and kAllReduceOps list
  // every value, numbered from 0.
  static_assert(static_cast<size_t>(DType::I16) + 1 == std::size(kAllDTypes));
  static_assert(static_cast<size_t>(ReduceOp::Bxor) + 1 == std::size(kAllReduceOps));
  if (kind > static_cast<uint8_t>(OpKind::Recv) || dtype >= std::size(kAllDTypes) ||
      op >= std::size(kAllReduceOps)) {
    raise(ErrorCode::PeerFailure, "malformed operation descriptor (kind {}, dtype {}, op {})", kind, dtype,
          op);
  }
  d.kind = static_cast<OpKind>(kind);
  d.dtype = static_cast<DType>(dtype);
  d.op = static_cast<ReduceOp>(op);
  take<uint8_t>(in, at);
  d.root = take<int32_t>(in, at);
  d.count = take<uint64_t>(in, at);
  d.counts_hash = take<uint64_t>(in, at);
  d.seq = take<uint64_t>(in, at);
  return d;
}

}  // namespace myriad
