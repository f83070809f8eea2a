// Mapping between torch's element types and reductions and Myriad's.
//
// Reductions need a type the engine reduces (f32, f64, f16, bf16, i8, u8,
// i32, i64); anything else is a c10::Error naming the torch type and the
// supported ones. Operations that only move data (broadcast, gathers,
// scatters, all-to-all, send/recv) carry any type as bytes.
#pragma once

#include <ATen/core/Tensor.h>
#include <optional>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "runtime/dtype.h"

namespace myriad::torch_backend {

// Myriad's type for a torch element type, or nullopt for types Myriad has no
// name for (bool, complex, float8, ...), which it carries as bytes.
std::optional<DType> myriad_dtype(at::ScalarType type);
// The Myriad type of a reducible tensor; throws naming `operation` otherwise.
DType reduce_dtype(const at::Tensor& tensor, std::string_view operation);
// The Myriad reduction; throws for the ones the engine lacks (bitwise ops, premul_sum).
ReduceOp reduce_op(const c10d::ReduceOp& op, std::string_view operation);

// A view of a contiguous tensor as elements of its own (reducible) type, or as bytes.
TensorView element_view(const at::Tensor& tensor, DType dtype);
TensorView byte_view(const at::Tensor& tensor);

}  // namespace myriad::torch_backend
