#include "launcher/bench/coll_ops.h"

#include <algorithm>
#include <cctype>

#include "runtime/error.h"

namespace myriad::bench {

std::string_view coll_op_name(CollOp op) {
  switch (op) {
    case CollOp::Allreduce: return "allreduce";
    case CollOp::Allgather: return "allgather";
    case CollOp::ReduceScatter: return "reducescatter";
    case CollOp::Broadcast: return "broadcast";
    case CollOp::Reduce: return "reduce";
    case CollOp::Alltoall: return "alltoall";
    case CollOp::Sendrecv: return "sendrecv";
  }
  return "?";
}

CollOp parse_coll_op(std::string_view text) {
  std::string plain;
  for (char c : text) {
    if (c != '_' && c != '-') plain += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (CollOp op : kAllCollOps) {
    if (plain == coll_op_name(op)) return op;
  }
  raise(ErrorCode::InvalidArgument,
        "--op '{}' is not a collective: accepted values are allreduce, allgather, reducescatter, broadcast, "
        "reduce, alltoall, sendrecv, all",
        text);
}

std::vector<CollOp> parse_coll_ops(std::string_view text) {
  if (text == "all") return {std::begin(kAllCollOps), std::end(kAllCollOps)};
  return {parse_coll_op(text)};
}

bool coll_op_reduces(CollOp op) {
  return op == CollOp::Allreduce || op == CollOp::ReduceScatter || op == CollOp::Reduce;
}

bool coll_op_rooted(CollOp op) {
  return op == CollOp::Broadcast || op == CollOp::Reduce;
}

double bus_factor(CollOp op, int ranks) {
  double n = ranks;
  switch (op) {
    case CollOp::Allreduce: return 2.0 * (n - 1) / n;
    case CollOp::Allgather:
    case CollOp::ReduceScatter:
    case CollOp::Alltoall: return (n - 1) / n;
    case CollOp::Broadcast:
    case CollOp::Reduce:
    case CollOp::Sendrecv: return 1.0;
  }
  return 1.0;
}

CollShape coll_shape(CollOp op, size_t requested_bytes, DType dtype, int ranks) {
  const size_t element = dtype_size(dtype);
  const size_t n = static_cast<size_t>(ranks);
  CollShape shape;
  switch (op) {
    case CollOp::Allgather:
      shape.count = requested_bytes / (element * n);
      shape.send_count = shape.count;
      shape.recv_count = shape.count * n;
      shape.bytes = shape.recv_count * element;
      break;
    case CollOp::ReduceScatter:
      shape.count = requested_bytes / (element * n);
      shape.send_count = shape.count * n;
      shape.recv_count = shape.count;
      shape.bytes = shape.send_count * element;
      break;
    case CollOp::Alltoall:
      shape.count = requested_bytes / (element * n);
      shape.send_count = shape.count * n;
      shape.recv_count = shape.count * n;
      shape.bytes = shape.send_count * element;
      break;
    case CollOp::Allreduce:
    case CollOp::Broadcast:
    case CollOp::Reduce:
    case CollOp::Sendrecv:
      shape.count = requested_bytes / element;
      shape.send_count = shape.count;
      shape.recv_count = shape.count;
      shape.bytes = shape.count * element;
      break;
  }
  return shape;
}

double algbw_gbs(size_t bytes, double seconds) {
  constexpr double kBytesPerGB = 1e9;
  return seconds > 0 ? static_cast<double>(bytes) / seconds / kBytesPerGB : 0.0;
}

double busbw_gbs(CollOp op, size_t bytes, double seconds, int ranks) {
  return algbw_gbs(bytes, seconds) * bus_factor(op, ranks);
}

std::string_view table_type_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float";
    case DType::F64: return "double";
    case DType::F16: return "half";
    case DType::BF16: return "bfloat16";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::I16: return "int16";
  }
  return "?";
}

std::string_view table_op_name(ReduceOp op) {
  return reduce_op_name(op);
}

std::vector<size_t> sweep_sizes(size_t min_bytes, size_t max_bytes, double factor, size_t increment) {
  if (max_bytes < min_bytes) {
    raise(ErrorCode::InvalidArgument, "-e {} is below -b {}: the sweep would be empty", max_bytes, min_bytes);
  }
  if (increment == 0 && (factor <= 1.0 || min_bytes == 0)) {
    raise(ErrorCode::InvalidArgument,
          "-f {} with -b {} never grows: give a factor above 1 and -b above 0, or an increment -i", factor,
          min_bytes);
  }
  std::vector<size_t> sizes;
  for (size_t bytes = min_bytes; bytes <= max_bytes;) {
    sizes.push_back(bytes);
    size_t next =
        increment > 0 ? bytes + increment : static_cast<size_t>(static_cast<double>(bytes) * factor);
    if (next <= bytes) next = bytes + 1;
    bytes = next;
  }
  return sizes;
}

}  // namespace myriad::bench
