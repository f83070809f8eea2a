#include "launcher/bench/coll_data.h"

#include <cmath>
#include <cstdint>

#include "kernels/half.h"

namespace myriad::bench {
namespace {

// input(rank, i) = 1 + (rank + i) mod kSpread: small enough that a sum over
// 31 ranks fits int8, varied enough that a misplaced block is caught.
constexpr size_t kSpread = 4;
constexpr double kHalfTolerance = 1e-2;
constexpr double kTolerance = 1e-5;

bool matches(double got, double want, DType dtype) {
  if (!dtype_is_floating(dtype)) return got == want;
  double tolerance = (dtype == DType::F16 || dtype == DType::BF16) ? kHalfTolerance : kTolerance;
  return std::fabs(got - want) <= tolerance * std::fabs(want);
}

}  // namespace

double input_value(ReduceOp op, int rank, int ranks, size_t index) {
  if (op == ReduceOp::Prod)
    return index % static_cast<size_t>(ranks) == static_cast<size_t>(rank) ? 2.0 : 1.0;
  return 1.0 + static_cast<double>((static_cast<size_t>(rank) + index) % kSpread);
}

double reduced_value(ReduceOp op, int ranks, size_t index) {
  double acc = input_value(op, 0, ranks, index);
  for (int rank = 1; rank < ranks; ++rank) {
    double v = input_value(op, rank, ranks, index);
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Avg: acc += v; break;
      case ReduceOp::Prod: acc *= v; break;
      case ReduceOp::Min: acc = std::min(acc, v); break;
      case ReduceOp::Max: acc = std::max(acc, v); break;
      // The inputs are small positive integers: exact as int64.
      case ReduceOp::Band:
        acc = static_cast<double>(static_cast<int64_t>(acc) & static_cast<int64_t>(v));
        break;
      case ReduceOp::Bor:
        acc = static_cast<double>(static_cast<int64_t>(acc) | static_cast<int64_t>(v));
        break;
      case ReduceOp::Bxor:
        acc = static_cast<double>(static_cast<int64_t>(acc) ^ static_cast<int64_t>(v));
        break;
    }
  }
  return op == ReduceOp::Avg ? acc / ranks : acc;
}

double load_element(const void* data, DType dtype, size_t index) {
  switch (dtype) {
    case DType::F32: return static_cast<const float*>(data)[index];
    case DType::F64: return static_cast<const double*>(data)[index];
    case DType::F16: return static_cast<float>(static_cast<const kernels::Half*>(data)[index]);
    case DType::BF16: return static_cast<float>(static_cast<const kernels::BFloat16*>(data)[index]);
    case DType::I8: return static_cast<const int8_t*>(data)[index];
    case DType::U8: return static_cast<const uint8_t*>(data)[index];
    case DType::I32: return static_cast<const int32_t*>(data)[index];
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(data)[index]);
    case DType::I16: return static_cast<const int16_t*>(data)[index];
  }
  return 0;
}

void store_element(void* data, DType dtype, size_t index, double value) {
  switch (dtype) {
    case DType::F32: static_cast<float*>(data)[index] = static_cast<float>(value); break;
    case DType::F64: static_cast<double*>(data)[index] = value; break;
    case DType::F16:
      static_cast<kernels::Half*>(data)[index] = kernels::Half(static_cast<float>(value));
      break;
    case DType::BF16:
      static_cast<kernels::BFloat16*>(data)[index] = kernels::BFloat16(static_cast<float>(value));
      break;
    case DType::I8: static_cast<int8_t*>(data)[index] = static_cast<int8_t>(value); break;
    case DType::U8: static_cast<uint8_t*>(data)[index] = static_cast<uint8_t>(value); break;
    case DType::I32: static_cast<int32_t*>(data)[index] = static_cast<int32_t>(value); break;
    case DType::I64: static_cast<int64_t*>(data)[index] = static_cast<int64_t>(value); break;
    case DType::I16: static_cast<int16_t*>(data)[index] = static_cast<int16_t>(value); break;
  }
}

void fill_input(CollOp op, ReduceOp redop, int root, int rank, int ranks, void* input, DType dtype,
                size_t send_count) {
  for (size_t i = 0; i < send_count; ++i) {
    double v = op == CollOp::Broadcast && rank != root ? 0.0 : input_value(redop, rank, ranks, i);
    store_element(input, dtype, i, v);
  }
}

uint64_t count_wrong(CollOp op, ReduceOp redop, int root, int rank, int ranks, const void* output,
                     DType dtype, size_t count, size_t recv_count) {
  if (op == CollOp::Reduce && rank != root) return 0;
  uint64_t wrong = 0;
  for (size_t i = 0; i < recv_count; ++i) {
    double want = 0;
    switch (op) {
      case CollOp::Allreduce:
      case CollOp::Reduce: want = reduced_value(redop, ranks, i); break;
      case CollOp::ReduceScatter:
        want = reduced_value(redop, ranks, static_cast<size_t>(rank) * count + i);
        break;
      case CollOp::Broadcast: want = input_value(redop, root, ranks, i); break;
      case CollOp::Allgather: want = input_value(redop, static_cast<int>(i / count), ranks, i % count); break;
      case CollOp::Alltoall:
        // Block s of this output is block `rank` of rank s's input.
        want = input_value(redop, static_cast<int>(i / count), ranks,
                           static_cast<size_t>(rank) * count + i % count);
        break;
      case CollOp::Sendrecv: want = input_value(redop, (rank + ranks - 1) % ranks, ranks, i); break;
    }
    if (!matches(load_element(output, dtype, i), want, dtype)) ++wrong;
  }
  return wrong;
}

}  // namespace myriad::bench
