// Mapping between torch's element types and reductions and Myriad's.
//
// Reductions need a type the engine reduces (f32, f64, f16, bf16, i8, u8,
// i16, i32, i64), or bool (see reduction_for()); anything else is a
// c10::Error naming the torch type and the supported ones. Operations that
// only move data (broadcast, gathers, scatters, all-to-all, send/recv)
// carry any type as bytes.
#pragma once

#include <ATen/core/Tensor.h>
#include <optional>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "runtime/dtype.h"

namespace myriad::torch_backend {

// Myriad's type for a torch element type, or nullopt for types Myriad has no
// name for (bool, complex, float8, ...), which it carries as bytes.
std::optional<DType> myriad_dtype(at::ScalarType type);
// The Myriad type of a reducible tensor; throws naming `operation` otherwise
// (bool included: its reductions differ by op, see reduction_for()).
DType reduce_dtype(const at::Tensor& tensor, std::string_view operation);
// The Myriad reduction; throws for the ones the engine lacks (premul_sum).
// Does not look at the type: a bitwise op of a floating tensor is rejected
// by the Communicator (InvalidArgument), or first by reduction_for().
ReduceOp reduce_op(const c10d::ReduceOp& op, std::string_view operation);

// What the engine runs for a torch reduction of one tensor.
struct Reduction {
  DType dtype;
  ReduceOp op;
};
// The type and reduction for `op` on `tensor`; throws (c10::Error naming
// `operation`, the torch type and the op) for a type the engine does not
// reduce, a bitwise op of a floating tensor, AVG of an integer or bool
// tensor, and premul_sum. A bool tensor (one byte per element, 0 or 1)
// reduces as u8 with the op's logical meaning, so its bytes stay 0 or 1:
// SUM, MAX and BOR are MAX (or); PRODUCT, MIN and BAND are MIN (and); BXOR
// is BXOR (parity). The other types keep reduce_dtype() and reduce_op().
Reduction reduction_for(const at::Tensor& tensor, const c10d::ReduceOp& op, std::string_view operation);

// A view of a contiguous tensor as elements of its own (reducible) type, or as bytes.
TensorView element_view(const at::Tensor& tensor, DType dtype);
TensorView byte_view(const at::Tensor& tensor);

}  // namespace myriad::torch_backend
