// The collectives `myriad bench coll` measures, and the arithmetic that
// turns a size and a time into the figures of its table.
//
// Sizes, counts and bandwidths follow nccl-tests so that operators read
// Myriad's tables as they read theirs:
//   - `bytes` is the larger of what one rank sends and receives: the whole
//     gathered buffer for allgather, the whole input for reducescatter, the
//     whole per-rank buffer for alltoall;
//   - `count` is the element count of the call's parameter: per rank for
//     allgather and reducescatter, per peer for alltoall, else the buffer's;
//   - algbw = bytes / time; busbw = algbw x factor, with factor 2(n-1)/n
//     for allreduce, (n-1)/n for allgather, reducescatter and alltoall, and
//     1 for broadcast, reduce and sendrecv.
// Everything here is pure and thread-safe; parse_coll_op throws
// Error(InvalidArgument) naming the rejected text and the accepted names.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dtype.h"

namespace myriad::bench {

enum class CollOp { Allreduce, Allgather, ReduceScatter, Broadcast, Reduce, Alltoall, Sendrecv };
inline constexpr CollOp kAllCollOps[] = {CollOp::Allreduce, CollOp::Allgather, CollOp::ReduceScatter,
                                         CollOp::Broadcast, CollOp::Reduce,    CollOp::Alltoall,
                                         CollOp::Sendrecv};

// "allreduce", "allgather", "reducescatter", "broadcast", "reduce", "alltoall", "sendrecv".
std::string_view coll_op_name(CollOp op);
// One name above (also "all_reduce"-style spellings), or "all" for every op.
std::vector<CollOp> parse_coll_ops(std::string_view text);
CollOp parse_coll_op(std::string_view text);

bool coll_op_reduces(CollOp op);  // takes a reduction (redop column)
bool coll_op_rooted(CollOp op);   // takes a root (root column; -1 otherwise)

// nccl-tests' bus bandwidth factor for `ranks` ranks.
double bus_factor(CollOp op, int ranks);

// The shape of one row of the sweep.
struct CollShape {
  size_t count = 0;       // elements of the call's parameter (see above)
  size_t bytes = 0;       // the row's size column
  size_t send_count = 0;  // elements of this rank's input buffer
  size_t recv_count = 0;  // elements of this rank's output buffer
};

// The shape for a requested size: counts are rounded down so that every
// rank's block has the same whole number of elements.
CollShape coll_shape(CollOp op, size_t requested_bytes, DType dtype, int ranks);

// GB/s (1e9 bytes per second); 0 for a zero time.
double algbw_gbs(size_t bytes, double seconds);
double busbw_gbs(CollOp op, size_t bytes, double seconds, int ranks);

// nccl-tests' names of types ("float", "half", "bfloat16", "double",
// "int8", "uint8", "int32", "int64") and of reductions.
std::string_view table_type_name(DType dtype);
std::string_view table_op_name(ReduceOp op);

// The sizes a sweep visits: min, then x factor (factor > 1) or + increment
// (increment > 0), up to max inclusive. Bad bounds are Error(InvalidArgument).
std::vector<size_t> sweep_sizes(size_t min_bytes, size_t max_bytes, double factor, size_t increment);

}  // namespace myriad::bench
