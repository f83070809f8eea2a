// Argument checks shared by the Communicator's entry points. Each throws
// Error(InvalidArgument) naming the operation and the argument at fault.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/dtype.h"

namespace myriad::validate {

// A null pointer with a non-zero count.
void buffer(std::string_view op, std::string_view name, const TensorView& view);
// Both buffers valid, same dtype and count.
void same_shape(std::string_view op, const TensorView& input, const TensorView& output);
void same_dtype(std::string_view op, const TensorView& input, const TensorView& output);
// `whole` holds exactly `size` blocks of `block`'s count, same dtype.
void blocks(std::string_view op, const TensorView& block, std::string_view block_name,
            const TensorView& whole, std::string_view whole_name, int size);
// view.count is a multiple of size.
void divisible(std::string_view op, std::string_view name, const TensorView& view, int size);
// counts has `size` entries, counts[rank] == mine.count, sum(counts) == all.count.
void counts(std::string_view op, const std::vector<uint64_t>& counts, std::string_view counts_name, int size,
            int rank, const TensorView& mine, std::string_view mine_name, const TensorView& all,
            std::string_view all_name);
// counts has `size` entries summing to view.count.
void packed(std::string_view op, const std::vector<uint64_t>& counts, std::string_view counts_name, int size,
            const TensorView& view, std::string_view name);
void root(std::string_view op, int root, int size);
void peer(std::string_view op, int peer, int size, int rank);
// avg only for floating types; band, bor and bxor only for integer types.
void reduction(std::string_view op, DType dtype, ReduceOp reduce);
// The buffer is in CPU memory (the native and mpi backends).
void on_cpu(std::string_view op, std::string_view backend, std::string_view name, const TensorView& view);

}  // namespace myriad::validate
