#include "collectives/validate.h"

#include <numeric>

#include "runtime/error.h"

namespace myriad::validate {

void buffer(std::string_view op, std::string_view name, const TensorView& view) {
  if (view.data == nullptr && view.count != 0) {
    raise(ErrorCode::InvalidArgument, "{}: {} is a null pointer with {} elements", op, name, view.count);
  }
}

void same_dtype(std::string_view op, const TensorView& input, const TensorView& output) {
  if (input.dtype != output.dtype) {
    raise(ErrorCode::InvalidArgument, "{}: input is {} but output is {}", op, dtype_name(input.dtype),
          dtype_name(output.dtype));
  }
}

void same_shape(std::string_view op, const TensorView& input, const TensorView& output) {
  buffer(op, "input", input);
  buffer(op, "output", output);
  same_dtype(op, input, output);
  if (input.count != output.count) {
    raise(ErrorCode::InvalidArgument, "{}: input has {} elements but output has {}", op, input.count,
          output.count);
  }
}

void blocks(std::string_view op, const TensorView& block, std::string_view block_name,
            const TensorView& whole, std::string_view whole_name, int size) {
  buffer(op, block_name, block);
  buffer(op, whole_name, whole);
  if (block.dtype != whole.dtype) {
    raise(ErrorCode::InvalidArgument, "{}: {} is {} but {} is {}", op, block_name, dtype_name(block.dtype),
          whole_name, dtype_name(whole.dtype));
  }
  if (whole.count != block.count * static_cast<uint64_t>(size)) {
    raise(ErrorCode::InvalidArgument,
          "{}: {} has {} elements but must hold {} ranks x {} elements of {} = {}", op, whole_name,
          whole.count, size, block.count, block_name, block.count * size);
  }
}

void divisible(std::string_view op, std::string_view name, const TensorView& view, int size) {
  if (view.count % static_cast<uint64_t>(size) != 0) {
    raise(ErrorCode::InvalidArgument, "{}: {} has {} elements, not a multiple of the {} ranks", op, name,
          view.count, size);
  }
}

void counts(std::string_view op, const std::vector<uint64_t>& counts, std::string_view counts_name, int size,
            int rank, const TensorView& mine, std::string_view mine_name, const TensorView& all,
            std::string_view all_name) {
  packed(op, counts, counts_name, size, all, all_name);
  buffer(op, mine_name, mine);
  same_dtype(op, mine, all);
  if (counts[rank] != mine.count) {
    raise(ErrorCode::InvalidArgument, "{}: {}[{}] is {} but {} has {} elements", op, counts_name, rank,
          counts[rank], mine_name, mine.count);
  }
}

void packed(std::string_view op, const std::vector<uint64_t>& counts, std::string_view counts_name, int size,
            const TensorView& view, std::string_view name) {
  buffer(op, name, view);
  if (counts.size() != static_cast<size_t>(size)) {
    raise(ErrorCode::InvalidArgument, "{}: {} has {} entries but the communicator has {} ranks", op,
          counts_name, counts.size(), size);
  }
  uint64_t total = std::accumulate(counts.begin(), counts.end(), uint64_t{0});
  if (total != view.count) {
    raise(ErrorCode::InvalidArgument, "{}: {} add up to {} elements but {} has {}", op, counts_name, total,
          name, view.count);
  }
}

void root(std::string_view op, int root, int size) {
  if (root < 0 || root >= size) {
    raise(ErrorCode::InvalidArgument, "{}: root {} is out of range: the communicator has ranks 0 to {}", op,
          root, size - 1);
  }
}

void peer(std::string_view op, int peer, int size, int rank) {
  if (peer < 0 || peer >= size) {
    raise(ErrorCode::InvalidArgument, "{}: peer {} is out of range: the communicator has ranks 0 to {}", op,
          peer, size - 1);
  }
  if (peer == rank) raise(ErrorCode::InvalidArgument, "{}: peer {} is this rank itself", op, peer);
}

void reduction(std::string_view op, DType dtype, ReduceOp reduce) {
  if (reduce == ReduceOp::Avg && !dtype_is_floating(dtype)) {
    raise(ErrorCode::InvalidArgument, "{}: avg needs a floating type, got {}", op, dtype_name(dtype));
  }
  if (reduce_op_is_bitwise(reduce) && dtype_is_floating(dtype)) {
    raise(ErrorCode::InvalidArgument,
          "{}: {} is a bitwise reduction and needs an integer type (i8, u8, i16, i32, i64), got {}", op,
          reduce_op_name(reduce), dtype_name(dtype));
  }
}

void on_cpu(std::string_view op, std::string_view backend, std::string_view name, const TensorView& view) {
  if (!view.device.is_cpu()) {
    raise(ErrorCode::InvalidArgument, "{}: the {} backend takes CPU memory but {} is on {}", op, backend,
          name, device_name(view.device));
  }
}

}  // namespace myriad::validate
