// Element types, reductions and devices that collectives and checkpoints
// speak of, and TensorView: a non-owning view of a contiguous buffer.
//
// All functions here are pure and thread-safe. Parsing functions throw
// Error(InvalidArgument) naming the rejected text and the accepted values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace myriad {

// New types are appended, so that the numbers of the others (on the wire in
// operation descriptors, and in kernels/element_type.h's ElementType) stay.
enum class DType : uint8_t { F32, F64, F16, BF16, I8, U8, I32, I64, I16 };
inline constexpr DType kAllDTypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8,
                                       DType::U8,  DType::I32, DType::I64, DType::I16};

// Size of one element in bytes.
size_t dtype_size(DType dtype);
// "f32", "f64", "f16", "bf16", "i8", "u8", "i32", "i64", "i16".
std::string_view dtype_name(DType dtype);
// Accepts the names above and the common aliases ("float", "float32",
// "half", "bfloat16", "int", "int64", "uint8", "int16", "short", ...).
DType parse_dtype(std::string_view text);
bool dtype_is_floating(DType dtype);

// Band, Bor and Bxor are the bitwise and, or and exclusive or, for the
// integer types only (collectives reject them on a floating type). Appended
// after Avg for the reason given at DType.
enum class ReduceOp : uint8_t { Sum, Prod, Min, Max, Avg, Band, Bor, Bxor };
inline constexpr ReduceOp kAllReduceOps[] = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Min, ReduceOp::Max,
                                             ReduceOp::Avg, ReduceOp::Band, ReduceOp::Bor, ReduceOp::Bxor};
// "sum", "prod", "min", "max", "avg", "band", "bor", "bxor".
std::string_view reduce_op_name(ReduceOp op);
ReduceOp parse_reduce_op(std::string_view text);
bool reduce_op_is_bitwise(ReduceOp op);

// Where a buffer lives.
struct Device {
  enum class Kind : uint8_t { Cpu, Cuda };
  Kind kind = Kind::Cpu;
  int index = 0;  // the CUDA ordinal; 0 for the CPU

  static Device cpu() { return {}; }
  static Device cuda(int index) { return {Kind::Cuda, index}; }
  bool is_cpu() const { return kind == Kind::Cpu; }
  bool is_cuda() const { return kind == Kind::Cuda; }
  bool operator==(const Device&) const = default;
};
// "cpu" or "cuda:N".
std::string device_name(Device device);

// A non-owning view: `count` elements of `dtype` at `data` on `device`.
// The caller keeps the memory alive for as long as the view is in use.
struct TensorView {
  void* data = nullptr;
  size_t count = 0;
  DType dtype = DType::F32;
  Device device = Device::cpu();

  size_t bytes() const { return count * dtype_size(dtype); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

}  // namespace myriad
