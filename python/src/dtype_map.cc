#include "python/src/dtype_map.h"

#include <c10/util/Exception.h>

namespace myriad::torch_backend {

std::optional<DType> myriad_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return DType::F32;
    case at::kDouble: return DType::F64;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kInt: return DType::I32;
    case at::kLong: return DType::I64;
    default: return std::nullopt;
  }
}

DType reduce_dtype(const at::Tensor& tensor, std::string_view operation) {
  std::optional<DType> dtype = myriad_dtype(tensor.scalar_type());
  TORCH_CHECK(dtype.has_value(), "myriad: ", operation, " does not support dtype ", tensor.scalar_type(),
              "; reductions take float32, float64, float16, bfloat16, int8, uint8, int32 and int64");
  return *dtype;
}

ReduceOp reduce_op(const c10d::ReduceOp& op, std::string_view operation) {
  switch (op.op_) {
    case c10d::ReduceOp::SUM: return ReduceOp::Sum;
    case c10d::ReduceOp::PRODUCT: return ReduceOp::Prod;
    case c10d::ReduceOp::MIN: return ReduceOp::Min;
    case c10d::ReduceOp::MAX: return ReduceOp::Max;
    case c10d::ReduceOp::AVG: return ReduceOp::Avg;
    case c10d::ReduceOp::BAND: break;
    case c10d::ReduceOp::BOR: break;
    case c10d::ReduceOp::BXOR: break;
    case c10d::ReduceOp::PREMUL_SUM: break;
    case c10d::ReduceOp::UNUSED: break;
  }
  const char* name = op.op_ == c10d::ReduceOp::BAND         ? "BAND"
                     : op.op_ == c10d::ReduceOp::BOR        ? "BOR"
                     : op.op_ == c10d::ReduceOp::BXOR       ? "BXOR"
                     : op.op_ == c10d::ReduceOp::PREMUL_SUM ? "PREMUL_SUM"
                                                            : "UNUSED";
  TORCH_CHECK(false, "myriad: ", operation, " does not support reduce op ", name,
              "; supported: SUM, PRODUCT, MIN, MAX, AVG");
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
