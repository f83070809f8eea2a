// What a collective operation is, as the ranks must agree on it.
//
// OpDescriptor names one operation in a communicator's call sequence: its
// kind, element type, element count, reduction and root, and its sequence
// number. Ranks compare descriptors when an operation starts so that a
// mismatch (one rank in allreduce while another is in allgather, or counts
// that differ) fails on every rank with an error naming both sides instead
// of hanging or producing wrong data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/dtype.h"

namespace myriad {

enum class OpKind : uint8_t {
  Allreduce,
  Reduce,
  Broadcast,
  Allgather,
  Allgatherv,
  ReduceScatter,
  ReduceScatterv,
  Alltoall,
  Alltoallv,
  Gather,
  Scatter,
  Barrier,
  Send,
  Recv,
};

std::string_view op_kind_name(OpKind kind);
OpKind parse_op_kind(std::string_view text);

struct OpDescriptor {
  OpKind kind = OpKind::Barrier;
  DType dtype = DType::F32;
  ReduceOp op = ReduceOp::Sum;
  int32_t root = -1;         // -1 where the op has no root
  uint64_t count = 0;        // elements per rank as the op defines it
  uint64_t counts_hash = 0;  // hash of the per-rank counts of a `v` variant, else 0
  uint64_t seq = 0;          // position in the communicator's call sequence

  // "allreduce(f32, 1024, sum)", "broadcast(i32, 7, root 2)", "barrier()".
  std::string to_string() const;
  // Same operation (sequence numbers included).
  bool operator==(const OpDescriptor&) const = default;
};

// Fixed-size wire form used in the start-of-op handshake.
inline constexpr size_t kOpDescriptorWireBytes = 40;
void encode_op_descriptor(const OpDescriptor& descriptor, uint8_t (&out)[kOpDescriptorWireBytes]);
OpDescriptor decode_op_descriptor(const uint8_t (&in)[kOpDescriptorWireBytes]);

}  // namespace myriad
