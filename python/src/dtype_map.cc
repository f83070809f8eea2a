#include "python/src/dtype_map.h"

#include <c10/util/Exception.h>

namespace myriad::torch_backend {
namespace {

const char* torch_op_name(c10d::ReduceOp::RedOpType op) {
  switch (op) {
    case c10d::ReduceOp::SUM: return "SUM";
    case c10d::ReduceOp::PRODUCT: return "PRODUCT";
    case c10d::ReduceOp::MIN: return "MIN";
    case c10d::ReduceOp::MAX: return "MAX";
    case c10d::ReduceOp::AVG: return "AVG";
    case c10d::ReduceOp::BAND: return "BAND";
    case c10d::ReduceOp::BOR: return "BOR";
    case c10d::ReduceOp::BXOR: return "BXOR";
    case c10d::ReduceOp::PREMUL_SUM: return "PREMUL_SUM";
    case c10d::ReduceOp::UNUSED: break;
  }
  return "UNUSED";
}

bool is_bitwise(c10d::ReduceOp::RedOpType op) {
  return op == c10d::ReduceOp::BAND || op == c10d::ReduceOp::BOR || op == c10d::ReduceOp::BXOR;
}

}  // namespace

std::optional<DType> myriad_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return DType::F32;
    case at::kDouble: return DType::F64;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kShort: return DType::I16;
    case at::kInt: return DType::I32;
    case at::kLong: return DType::I64;
    default: return std::nullopt;
  }
}

DType reduce_dtype(const at::Tensor& tensor, std::string_view operation) {
  std::optional<DType> dtype = myriad_dtype(tensor.scalar_type());
  TORCH_CHECK(dtype.has_value(), "myriad: ", operation, " does not support dtype ", tensor.scalar_type(),
              "; reductions take float32, float64, float16, bfloat16, int8, uint8, int16, int32, int64 and "
              "bool");
  return *dtype;
}

ReduceOp reduce_op(const c10d::ReduceOp& op, std::string_view operation) {
  switch (op.op_) {
    case c10d::ReduceOp::SUM: return ReduceOp::Sum;
    case c10d::ReduceOp::PRODUCT: return ReduceOp::Prod;
    case c10d::ReduceOp::MIN: return ReduceOp::Min;
    case c10d::ReduceOp::MAX: return ReduceOp::Max;
    case c10d::ReduceOp::AVG: return ReduceOp::Avg;
    case c10d::ReduceOp::BAND: return ReduceOp::Band;
    case c10d::ReduceOp::BOR: return ReduceOp::Bor;
    case c10d::ReduceOp::BXOR: return ReduceOp::Bxor;
    case c10d::ReduceOp::PREMUL_SUM:
    case c10d::ReduceOp::UNUSED: break;
  }
  TORCH_CHECK(false, "myriad: ", operation, " does not support reduce op ", torch_op_name(op.op_),
              "; supported: SUM, PRODUCT, MIN, MAX, AVG, BAND, BOR, BXOR");
}

Reduction reduction_for(const at::Tensor& tensor, const c10d::ReduceOp& op, std::string_view operation) {
  const c10d::ReduceOp::RedOpType type = op.op_;
  if (tensor.scalar_type() == at::kBool) {
    // torch stores bool as one byte, 0 or 1: u8 MAX is logical or, MIN
    // logical and, BXOR parity, and each keeps the bytes 0 or 1 (a u8 SUM
    // or PRODUCT would not: 1 + 1 is 2, which is not a bool).
    switch (type) {
      case c10d::ReduceOp::SUM:
      case c10d::ReduceOp::MAX:
      case c10d::ReduceOp::BOR: return {DType::U8, ReduceOp::Max};
      case c10d::ReduceOp::PRODUCT:
      case c10d::ReduceOp::MIN:
      case c10d::ReduceOp::BAND: return {DType::U8, ReduceOp::Min};
      case c10d::ReduceOp::BXOR: return {DType::U8, ReduceOp::Bxor};
      default:
        TORCH_CHECK(false, "myriad: ", operation, " does not support reduce op ", torch_op_name(type),
                    " on bool tensors; supported: SUM, PRODUCT, MIN, MAX, BAND, BOR, BXOR");
    }
  }
  const DType dtype = reduce_dtype(tensor, operation);
  TORCH_CHECK(!(is_bitwise(type) && dtype_is_floating(dtype)), "myriad: ", operation, " does not support ",
              torch_op_name(type), " on ", tensor.scalar_type(),
              " tensors: bitwise reductions take integer and bool tensors");
  TORCH_CHECK(!(type == c10d::ReduceOp::AVG && !dtype_is_floating(dtype)), "myriad: ", operation,
              " does not support AVG on ", tensor.scalar_type(), " tensors: AVG takes floating tensors");
  return {dtype, reduce_op(op, operation)};
}

namespace {
Device device_of(const at::Tensor& tensor) {
  return tensor.is_cuda() ? Device::cuda(tensor.get_device()) : Device::cpu();
}
}  // namespace

TensorView element_view(const at::Tensor& tensor, DType dtype) {
  return TensorView{tensor.data_ptr(), static_cast<size_t>(tensor.numel()), dtype, device_of(tensor)};
}

TensorView byte_view(const at::Tensor& tensor) {
  return TensorView{tensor.data_ptr(), static_cast<size_t>(tensor.nbytes()), DType::U8, device_of(tensor)};
}

}  // namespace myriad::torch_backend
